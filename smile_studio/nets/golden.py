"""Proof of equivalence with the official networks, without the official weights.

A fixture directory (laid out like ``shared/golden``) holds ``*.npz`` outputs of the official code, ``*.json``
sidecars (seed, size, manifests) and ``manifests/*.json`` weight manifests. We rebuild the same synthetic weights
from the documented rules, run our networks on the stored inputs and compare under the documented rules:

* continuous outputs: ``|out - ref| <= 1e-4 * |ref| + 1e-4 * max|ref|`` (rtol 1e-4, atol scale-relative);
* exact items (noise tensors, absent-region rows, tables): bit-equal;
* argmax maps: mismatch fraction <= 1e-3 and no mismatch where the reference top-2 logit gap is > 1e-3.

``verify_directory`` runs every check it finds inputs for and reports what it checked; missing outputs are
skipped and named, so it works on fixture sets it has never seen (other seeds, inputs, sizes).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "int64": torch.int64,
           "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool}


# -- synthetic weights ---------------------------------------------------------------------------------------
def _rule(entry: dict) -> str:
    if "rule" in entry:
        return entry["rule"]
    if not entry["dtype"].startswith("float"):
        return "zeros"
    return "abs" if entry["key"].endswith("running_var") else "randn"


def synth_tensor(entry: dict, seed: int) -> torch.Tensor:
    shape = tuple(entry["shape"])
    dtype = _DTYPES[entry["dtype"]]
    rule = _rule(entry)
    if rule == "zeros":
        return torch.zeros(shape, dtype=dtype)
    if rule == "fixed":
        return torch.tensor(entry["value"], dtype=torch.float32).reshape(shape).to(dtype)
    g = torch.Generator().manual_seed(seed * 1000003 + zlib.crc32(entry["key"].encode()))
    t = torch.randn(shape, generator=g, dtype=torch.float32) * entry["std"] + entry["mean"]
    if rule == "abs":
        t = t.abs()
    return t.to(dtype)


def synth_state_dict(manifest: str | Path | list, seed: int) -> dict[str, torch.Tensor]:
    """The golden fixtures' weights: one seeded tensor per manifest entry, in state_dict order."""
    entries = json.loads(Path(manifest).read_text()) if not isinstance(manifest, list) else manifest
    return {e["key"]: synth_tensor(e, seed) for e in entries}


# -- comparison rules ----------------------------------------------------------------------------------------
@dataclass
class Check:
    name: str
    passed: bool
    max_abs: float
    detail: str = ""


def compare_continuous(name: str, out, ref, rtol: float = 1e-4, scale_atol: float = 1e-4) -> Check:
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64)
    if out.shape != ref.shape:
        return Check(name, False, float("inf"), f"shape {out.shape} != {ref.shape}")
    err = np.abs(out - ref)
    tol = rtol * np.abs(ref) + scale_atol * np.abs(ref).max()
    bad = int((err > tol).sum())
    return Check(name, bad == 0, float(err.max(initial=0)), f"{bad} elements out of tolerance" if bad else "")


def compare_exact(name: str, out, ref) -> Check:
    out, ref = np.asarray(out), np.asarray(ref)
    if out.shape != ref.shape:
        return Check(name, False, float("inf"), f"shape {out.shape} != {ref.shape}")
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    return Check(name, bool((diff == 0).all()), float(diff.max(initial=0)), "exact match required")


def compare_argmax(name: str, out, ref, ref_logits, max_fraction: float = 1e-3, gap: float = 1e-3) -> Check:
    out, ref = np.asarray(out), np.asarray(ref)
    if out.shape != ref.shape:
        return Check(name, False, float("inf"), f"shape {out.shape} != {ref.shape}")
    top2 = np.sort(np.asarray(ref_logits), axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > gap
    mism = out != ref
    frac = float(mism.mean())
    hard = int((mism & clear).sum())
    ok = frac <= max_fraction and hard == 0
    return Check(name, ok, float(mism.sum()), f"{int(mism.sum())} px differ ({frac:.2e}), {hard} with a clear gap")


# -- fixture runners -----------------------------------------------------------------------------------------
CPU = torch.device("cpu")


def _t(a) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _on(device: torch.device) -> Callable[[np.ndarray], torch.Tensor]:
    return lambda a: _t(a).to(device)


def syn_checks(d: dict, meta: dict, manifests: Path, device: torch.device = CPU) -> Iterator[Check | str]:
    """Every SMILE_SYN output present in ``d``; strings name what was skipped."""
    from .syn import SynGenerator, apply_region_codes, fill_missing_codes
    from .syn_fast import synthesize

    size = int(meta.get("size", 256))
    seed = int(meta["seed"])
    T = _on(device)
    gen = SynGenerator(size).eval()
    gen.load_official(synth_state_dict(manifests / meta.get("manifest", f"syn{size}_G.json"), seed))
    gen.to(device)
    with torch.no_grad():
        for who in ("A", "B"):
            if f"codes_{who}" in d and f"rgb{who}" in d and f"sem{who}" in d:
                codes, present = gen.encode(T(d[f"rgb{who}"]), T(d[f"sem{who}"]))
                yield compare_continuous(f"codes_{who}", codes.cpu().numpy(), d[f"codes_{who}"])
                yield compare_exact(f"codes_{who} absent rows", ~present.cpu().numpy(),
                                    (d[f"codes_{who}"] == 0).all(-1))
        if "z" in d and "style_mapping" in d:
            yield compare_continuous("style_mapping", gen.map_style(T(d["z"])).reshape(1, -1).cpu().numpy(),
                                     d["style_mapping"])
        if "z_fill" in d and "fill_codes" in d:
            yield compare_continuous("fill_codes", gen.map_style(T(d["z_fill"])).cpu().numpy(), d["fill_codes"])
        noise_keys = sorted(k for k in d if k.startswith("noise_"))
        noise = gen.make_noise(0, device)
        for k in noise_keys:
            i = int(k.split("_")[1])
            yield compare_exact(k, noise[i].cpu().numpy(), d[k])
        if "codes_A" in d and "fill_codes" in d and "style_i" in d:
            present = ~(d["codes_A"] == 0).all(-1)
            style_i = fill_missing_codes(T(d["codes_A"]), T(present), T(d["fill_codes"]))
            yield compare_continuous("style_i", style_i.reshape(1, -1).cpu().numpy(), d["style_i"])
        if "style_i" in d and "codes_B" in d:
            base = T(d["style_i"]).view(1, 19, 64)
            attr_classes = [13, 3]  # Bangs -> hair, Eyeglasses -> eye_g
            for key, sem_key in (("style_iii", "semA"), ("style_iv", "semE")):
                if key in d and sem_key in d:
                    layout_present = T(d[sem_key]).amax((2, 3)) > 0
                    style = apply_region_codes(base, T(d["codes_B"]), attr_classes, layout_present)
                    yield compare_continuous(key, style.reshape(1, -1).cpu().numpy(), d[key])
        if noise_keys:
            noise = [T(d[k]) for k in noise_keys]
        for case, sem_key in (("i", "semA"), ("ii", "semA"), ("iii", "semA"), ("iv", "semE")):
            if f"img_{case}" in d and f"style_{case}" in d and sem_key in d:
                img = synthesize(gen, T(d[sem_key]), T(d[f"style_{case}"]), noise=noise)
                yield compare_continuous(f"img_{case}", img.cpu().numpy(), d[f"img_{case}"])
            elif f"img_{case}" in d:
                yield f"img_{case}: inputs absent"


def sem_checks(d: dict, meta: dict, manifests: Path, device: torch.device = CPU) -> Iterator[Check | str]:
    """Every SMILE_SEM / FAN output present in ``d``."""
    from .fan import FAN, preprocess
    from .sem import Discriminator, MappingNetwork, SemGenerator, StyleEncoder, eval_noise

    size = int(meta.get("size", 256))
    seed = int(meta["seed"])
    names = {m.split("_")[-1].split(".")[0]: m for m in meta.get("manifests", [])}
    T = _on(device)

    def load(net, key):
        path = manifests / names.get(key, f"sem{size}_{key}.json")
        if not path.is_file():
            return None
        net.load_official(synth_state_dict(path, seed))
        return net.eval().to(device)

    with torch.no_grad():
        for k in sorted(k for k in d if k.startswith("eval_noise_")):
            shape = d[k].shape
            yield compare_exact(k, eval_noise(shape[0], shape[2], shape[3]).cpu().numpy(), d[k])
        fan = load(FAN(), "FAN")
        if fan is not None and "rgbA" in d and "fan_raw" in d:
            x = torch.nn.functional.interpolate(T(d["rgbA"]), size=256, mode="bilinear") * 0.5 + 0.5
            yield compare_continuous("fan_raw", fan(x).cpu().numpy(), d["fan_raw"])
            if "fan_x" in d:
                fx, fx2 = fan.get_heatmap(T(d["rgbA"]))
                yield compare_continuous("fan_x", fx.cpu().numpy(), d["fan_x"])
                yield compare_continuous("fan_x2", fx2.cpu().numpy(), d["fan_x2"])
        if "pp_in" in d and "pp_x" in d:
            pin = torch.nn.functional.interpolate(T(d["pp_in"]), scale_factor=4, mode="bilinear", align_corners=True)
            px, px2 = preprocess(pin)
            yield compare_continuous("pp_x", px.cpu().numpy(), d["pp_x"], rtol=0, scale_atol=1e-4)
            yield compare_continuous("pp_x2", px2.cpu().numpy(), d["pp_x2"], rtol=0, scale_atol=1e-4)
        mapping = load(MappingNetwork(), "F")
        if mapping is not None and "z" in d:
            for key, y in (("s_lat", "y_trg"), ("s_lat_comp", "y_trg")):
                if key in d and y in d:
                    yv = T(d[y]) if key == "s_lat" else 1 - T(d[y])
                    yield compare_continuous(key, mapping(T(d["z"]), yv).cpu().numpy(), d[key])
        enc = load(StyleEncoder(size), "S")
        if enc is not None:
            for key, x, y, comp in (("s_A", "xA", "yA", False), ("s_A_comp", "xA", "yA", True),
                                    ("s_B", "xB", "yB", False)):
                if key in d and x in d and y in d:
                    yv = 1 - T(d[y]) if comp else T(d[y])
                    yield compare_continuous(key, enc(T(d[x]), yv).cpu().numpy(), d[key])
        disc = load(Discriminator(size), "D")
        if disc is not None:
            for key, comp in (("d_A", False), ("d_A_comp", True)):
                if key in d and "xA" in d and "yA" in d:
                    yv = 1 - T(d["yA"]) if comp else T(d["yA"])
                    yield compare_continuous(key, disc(T(d["xA"]), yv).cpu().numpy(), d[key])
        gen = load(SemGenerator(size), "G")
        if gen is not None and "xA" in d:
            pp = (T(d["pp_x"]), T(d["pp_x2"])) if "pp_x" in d else None
            cases = [("g_lat", "xA", "s_lat", pp), ("g_ref", "xA", "s_B", pp)]
            if "fan_x" in d:
                cases.append(("g_lat_fanA", "xA", "s_lat", (T(d["fan_x"]), T(d["fan_x2"]))))
            for key, x, s, fanpair in cases:
                if key in d and s in d and fanpair is not None:
                    out = gen(T(d[x]), T(d[s]), fanpair).cpu().numpy()
                    yield compare_continuous(key, out, d[key])
                    if f"{key}_argmax" in d:
                        yield compare_argmax(f"{key}_argmax", out.argmax(1), d[f"{key}_argmax"], d[key])
            if "g_b2" in d and pp is not None and "xB" in d and "s_A" in d:
                x = torch.cat([T(d["xA"]), T(d["xB"])])
                s = torch.cat([T(d["s_lat"]), T(d["s_A"])])
                out = gen(x, s, pp).cpu().numpy()
                yield compare_continuous("g_b2", out, d["g_b2"])
                if "g_b2_argmax" in d:
                    yield compare_argmax("g_b2_argmax", out.argmax(1), d["g_b2_argmax"], d["g_b2"])


def aux_checks(d: dict, meta: dict, manifests: Path, device: torch.device = CPU) -> Iterator[Check | str]:
    """Face parser (BiSeNet) and attribute classifier (AttNet) outputs present in ``d``."""
    from ..core.labels import BISENET_TO_CELEBA
    from .attributes import AttNet
    from .parser import BiSeNet

    seed = int(meta["seed"])
    T = _on(device)
    if "bisenet2sean_table" in d:
        yield compare_exact("bisenet2sean_table", BISENET_TO_CELEBA.astype(np.int64), d["bisenet2sean_table"])
    with torch.no_grad():
        if "bisenet_in" in d and (manifests / "bisenet.json").is_file():
            net = BiSeNet(19)
            net.load_official(synth_state_dict(manifests / "bisenet.json", seed))
            outs = net.eval().to(device)(T(d["bisenet_in"]))
            for key, out in zip(("bisenet_out", "bisenet_out16", "bisenet_out32"), outs, strict=True):
                if key in d:
                    yield compare_continuous(key, out.cpu().numpy(), d[key])
            if "bisenet_argmax" in d:
                am = outs[0].argmax(1).cpu().numpy()
                yield compare_argmax("bisenet_argmax", am, d["bisenet_argmax"], d["bisenet_out"])
                if "bisenet_argmax_sean" in d:
                    yield compare_argmax("bisenet_argmax_sean", BISENET_TO_CELEBA[am], d["bisenet_argmax_sean"],
                                         d["bisenet_out"])
        if "rgb256" in d and (manifests / "attnet_rgb.json").is_file():
            att = AttNet()
            att.load_official(synth_state_dict(manifests / "attnet_rgb.json", seed))
            att.eval().to(device)
            feats = att.features(T(d["rgb256"]))
            if "attnet_features_last" in d:
                yield compare_continuous("attnet_features_last", feats.cpu().numpy(), d["attnet_features_last"])
            logits, probs = att(T(d["rgb256"]))
            if "attnet_logits" in d:
                yield compare_continuous("attnet_logits", logits.cpu().numpy(), d["attnet_logits"])
            if "attnet_probs" in d:
                yield compare_continuous("attnet_probs", probs.cpu().numpy(), d["attnet_probs"])
            if "attnet_one_hot" in d:
                yield compare_exact("attnet_one_hot", AttNet.one_hot(probs).cpu().numpy(), d["attnet_one_hot"])


RUNNERS: dict[str, Callable] = {"syn": syn_checks, "sem": sem_checks, "aux": aux_checks}


def fixture_kind(meta: dict, stem: str) -> str | None:
    net = str(meta.get("network", "") or meta.get("networks", "")).lower()
    if "smile_syn" in net or stem.startswith("syn"):
        return "syn"
    if "smile_sem" in net or stem.startswith("sem"):
        return "sem"
    if "bisenet" in net or stem.startswith("aux"):
        return "aux"
    return None


def verify_directory(directory: str | Path, verbose: bool = True,
                     printer: Callable[[str], None] = print, device: str | torch.device = "cpu") -> int:
    """Run every fixture in ``directory``; print a line per output; exit code 0 only when all checked pass.

    On CUDA, TF32 is switched off for the run: the fixtures are fp32 results and TF32 keeps only 10 mantissa bits.
    """
    device = torch.device(device)
    if device.type == "cuda":
        matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            return _verify(Path(directory), verbose, printer, device)
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
    return _verify(Path(directory), verbose, printer, device)


def _verify(root: Path, verbose: bool, printer: Callable[[str], None], device: torch.device) -> int:
    if not root.is_dir():
        printer(f"verify-golden: {root} is not a directory")
        return 2
    manifests = root / "manifests"
    checked = failed = 0
    files = sorted(root.glob("*.npz"))
    if not files:
        printer(f"verify-golden: no *.npz fixtures in {root}")
        return 2
    for npz in files:
        sidecar = npz.with_suffix(".json")
        meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        if "seed" not in meta:
            printer(f"{npz.name}: skipped (no .json sidecar with a seed)")
            continue
        kind = fixture_kind(meta, npz.stem)
        runner = RUNNERS.get(kind or "")
        if runner is None:
            printer(f"{npz.name}: skipped (no verifier for {kind or 'unknown network'})")
            continue
        printer(f"{npz.name}: {kind.upper()} size {meta.get('size', '-')}, seed {meta['seed']}, on {device}")
        with np.load(npz) as data:
            d = {k: data[k] for k in data.files}
        for item in runner(d, meta, manifests, device):
            if isinstance(item, str):
                if verbose:
                    printer(f"  skip  {item}")
                continue
            checked += 1
            failed += not item.passed
            if verbose or not item.passed:
                status = "PASS" if item.passed else "FAIL"
                extra = f"  ({item.detail})" if item.detail and not item.passed else ""
                printer(f"  {status}  {item.name:<28} max abs err {item.max_abs:.3g}{extra}")
    printer(f"verify-golden: {checked} outputs checked, {checked - failed} passed, {failed} failed")
    return 0 if checked and not failed else 1
