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
def _t(a) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def syn_checks(d: dict, meta: dict, manifests: Path) -> Iterator[Check | str]:
    """Every SMILE_SYN output present in ``d``; strings name what was skipped."""
    from .nets.syn import SynGenerator, apply_region_codes, fill_missing_codes

    size = int(meta.get("size", 256))
    seed = int(meta["seed"])
    gen = SynGenerator(size).eval()
    gen.load_official(synth_state_dict(manifests / meta.get("manifest", f"syn{size}_G.json"), seed))
    with torch.no_grad():
        for who in ("A", "B"):
            if f"codes_{who}" in d and f"rgb{who}" in d and f"sem{who}" in d:
                codes, present = gen.encode(_t(d[f"rgb{who}"]), _t(d[f"sem{who}"]))
                yield compare_continuous(f"codes_{who}", codes.numpy(), d[f"codes_{who}"])
                yield compare_exact(f"codes_{who} absent rows", ~present.numpy(),
                                    (d[f"codes_{who}"] == 0).all(-1))
        if "z" in d and "style_mapping" in d:
            yield compare_continuous("style_mapping", gen.map_style(_t(d["z"])).reshape(1, -1).numpy(),
                                     d["style_mapping"])
        if "z_fill" in d and "fill_codes" in d:
            yield compare_continuous("fill_codes", gen.map_style(_t(d["z_fill"])).numpy(), d["fill_codes"])
        noise_keys = sorted(k for k in d if k.startswith("noise_"))
        noise = gen.make_noise(0)
        for k in noise_keys:
            i = int(k.split("_")[1])
            yield compare_exact(k, noise[i].numpy(), d[k])
        if "codes_A" in d and "fill_codes" in d and "style_i" in d:
            present = ~(d["codes_A"] == 0).all(-1)
            style_i = fill_missing_codes(_t(d["codes_A"]), _t(present), _t(d["fill_codes"]))
            yield compare_continuous("style_i", style_i.reshape(1, -1).numpy(), d["style_i"])
        if "style_i" in d and "codes_B" in d:
            base = _t(d["style_i"]).view(1, 19, 64)
            attr_classes = [13, 3]  # Bangs -> hair, Eyeglasses -> eye_g
            for key, sem_key in (("style_iii", "semA"), ("style_iv", "semE")):
                if key in d and sem_key in d:
                    layout_present = _t(d[sem_key]).amax((2, 3)) > 0
                    style = apply_region_codes(base, _t(d["codes_B"]), attr_classes, layout_present)
                    yield compare_continuous(key, style.reshape(1, -1).numpy(), d[key])
        if noise_keys:
            noise = [_t(d[k]) for k in noise_keys]
        for case, sem_key in (("i", "semA"), ("ii", "semA"), ("iii", "semA"), ("iv", "semE")):
            if f"img_{case}" in d and f"style_{case}" in d and sem_key in d:
                img = gen.synthesize(_t(d[sem_key]), _t(d[f"style_{case}"]), noise=noise)
                yield compare_continuous(f"img_{case}", img.numpy(), d[f"img_{case}"])
            elif f"img_{case}" in d:
                yield f"img_{case}: inputs absent"


RUNNERS: dict[str, Callable] = {"syn": syn_checks}


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
                     printer: Callable[[str], None] = print) -> int:
    """Run every fixture in ``directory``; print a line per output; exit code 0 only when all checked pass."""
    root = Path(directory)
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
        printer(f"{npz.name}: {kind.upper()} size {meta.get('size', '-')}, seed {meta['seed']}")
        with np.load(npz) as data:
            d = {k: data[k] for k in data.files}
        for item in runner(d, meta, manifests):
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
