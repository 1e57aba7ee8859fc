"""The two evaluations, over a prepared folder (``smile-studio data prepare``) and its split (``split.json``):

* **reconstruction** (SMILE_SYN, Table 3): each held-out photo's region codes re-render its own map; LPIPS,
  PSNR, SSIM, RMSE against the photo, FID of the reconstructions against those photos, milliseconds per image.
* **attribute edits** (SMILE_SEM + SMILE_SYN, Table 2, the official protocol): every held-out (test) image is
  edited towards every attribute value it lacks, ``fakes`` latent-guided edits each with seeds of its own
  (image i: i*fakes ... i*fakes + fakes - 1), each rendered with a random SMILE_SYN style (the official latent
  protocol; seeded per image). Per target value: FID of the renders against the **training** photos that have
  the value (the official ``train_<attr>`` folders; a test image never enters the real side), LPIPS diversity
  among the fakes; overall: AttNet AP / F1 per attribute on the renders (probabilities averaged over the fakes
  vs the target labels), HopeNet pose error (photo vs mean over the fakes), cycle agreement (the source map vs
  the edit translated back with the source style) and, with BiSeNet, the parse of each render against its map.
  Not computed: the official mask-mode AttNet score on the semantic maps (``attr_mask``); the report says so.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from ..core.labels import ATTRIBUTES, DOMAINS, attributes_from_vector
from ..nets.parser import normalise_rgb
from ..nets.syn import fill_missing_codes, one_hot
from ..nets.syn_fast import synthesize
from ..training.dataset import PreparedData
from . import metrics
from .networks import Networks
from .report import Section

NOT_COMPUTED = ("attribute AP/F1 on the edited maps (the official mask-mode AttNet, attr_mask): not implemented; "
                "AP/F1 are measured on the renders")
REAL_BATCH = 16  # real photos per Inception pass

# AttNet's 7 outputs (Male, Female, Eyeglasses, Hair, Bangs, Earrings, Hat) as the probability of each of the 12
# domains: ATTNET_OF[domain] = (column, True when the column's probability is the domain's, False: 1 - it)
ATTNET_OF = {"Male": (0, True), "Female": (1, True), "NOT_Eyeglasses": (2, False), "Eyeglasses": (2, True),
             "Few_Hair": (3, False), "Much_Hair": (3, True), "NOT_Bangs": (4, False), "Bangs": (4, True),
             "NOT_Earrings": (5, False), "Earrings": (5, True), "NOT_Hat": (6, False), "Hat": (6, True)}


def _resize(x: torch.Tensor, size: int, nearest: bool = False) -> torch.Tensor:
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, (size, size), mode="nearest" if nearest else "bilinear", align_corners=None
                         if nearest else False)


def _style(nets: Networks, rgb: torch.Tensor, sem: torch.Tensor, seed: int) -> torch.Tensor:
    """The photo's region codes at the generator's size, absent regions from the mapping network (seeded)."""
    syn = nets.syn
    codes, present = syn.encode(_resize(rgb, syn.size), _resize(sem, syn.size, nearest=True))
    fill = syn.map_style(syn.random_z(seed, rgb.shape[0]).to(nets.device))
    return fill_missing_codes(codes, present, fill)


def _render(nets: Networks, sem: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    out = synthesize(nets.syn, _resize(sem, nets.syn.size, nearest=True), style)
    return ((out + 1) / 2).clamp(0, 1)


def _progress(count: int, what: str, step: int = 1):
    """range(0, count, step) with a progress bar on a terminal (in images)."""
    from tqdm import tqdm

    return tqdm(range(0, count, step), desc=what, unit="image" if step == 1 else f"batch of {step}", file=sys.stderr,
                disable=not sys.stderr.isatty())


@torch.no_grad()
def reconstruction(data: PreparedData, nets: Networks, limit: int | None = None) -> Section:
    """``data``: the held-out images (their own photos are the reference)."""
    section = Section("Reconstruction (SMILE_SYN)", f"one row: the {data.split or 'all'} images")
    if nets.syn is None:
        section.skipped.append(f"SMILE_SYN: {nets.missing.get('SMILE_SYN')}")
        return section
    fid = metrics.FID(nets.inception, nets.device) if nets.inception is not None else None
    values: dict[str, list[float]] = defaultdict(list)
    count = min(len(data), limit or len(data))
    for i in _progress(count, "reconstruction"):
        rgb, labels, _ = data[i]
        rgb, sem = rgb[None].to(nets.device), one_hot(labels[None]).to(nets.device)
        t0 = time.perf_counter()
        out = _render(nets, sem, _style(nets, rgb, sem, i))
        values["ms/image"].append((time.perf_counter() - t0) * 1000)
        real = _resize((rgb + 1) / 2, out.shape[-1])
        values["PSNR"] += metrics.psnr(out, real).tolist()
        values["SSIM"] += metrics.ssim(out, real).tolist()
        values["RMSE"] += metrics.rmse(out, real).tolist()
        if nets.lpips is not None:
            values["LPIPS"] += nets.lpips(out * 2 - 1, real * 2 - 1).tolist()
        if fid is not None:
            fid.add(real, real=True)
            fid.add(out, real=False)
    row = {k: float(np.mean(v)) for k, v in values.items()}
    if fid is not None and len(values["PSNR"]) >= 2:
        row["FID"] = fid.score()
    section.rows["all"] = row
    section.note_missing(nets, {"inception": "FID", "lpips": "LPIPS", "alexnet": "LPIPS"})
    return section


@torch.no_grad()
def attribute_edits(sources: PreparedData, reals: PreparedData, nets: Networks, fakes: int = 10,
                    limit: int | None = None) -> Section:
    """``sources``: the held-out images edited; ``reals``: the training images, FID's real side per value."""
    from ..engines.base import LayoutRequest

    section = Section("Attribute edits (SMILE_SEM + SMILE_SYN)", f"one row per target attribute value; sources: "
                      f"the {sources.split or 'all'} images, FID's real side: the {reals.split or 'all'} images")
    for name, net in (("SMILE_SEM", nets.sem), ("SMILE_SYN", nets.syn)):
        if net is None:
            section.skipped.append(f"{name}: {nets.missing.get(name)}")
    if section.skipped:
        return section
    section.notes.append(NOT_COMPUTED)
    count = min(len(sources), limit or len(sources))
    fids = {d: metrics.FID(nets.inception, nets.device) for d in DOMAINS} if nets.inception is not None else {}
    per_domain: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    probs, targets, pose_err, cycle, parsed = [], [], [], [], []
    for i in _progress(count, "attribute edits"):
        rgb, labels, y = sources[i]
        rgb = rgb[None].to(nets.device)
        photo = ((rgb[0].permute(1, 2, 0) + 1) * 127.5).round().byte().cpu().numpy()
        state = attributes_from_vector(y.numpy())
        source = labels.numpy().astype(np.uint8)
        seed = i * fakes  # this image's own latent seeds (and its random render styles)
        style = nets.syn.map_style(nets.syn.random_z(seed, fakes).to(nets.device))
        real_pose = _angles(nets, (rgb + 1) / 2)[0] if nets.hopenet is not None else None
        for d, domain in enumerate(DOMAINS):
            if y[d] > 0.5:
                continue
            attr = ATTRIBUTES[d // 2]
            t0 = time.perf_counter()
            edit = nets.sem.edit(LayoutRequest(source, state, {attr.key: attr.values[d % 2]}, seed=seed,
                                               variations=fakes, photo=photo))
            maps = torch.from_numpy(edit.maps.astype(np.int64)).to(nets.device)
            images = _render(nets, one_hot(maps), style)
            per_domain[domain]["ms/edit"].append((time.perf_counter() - t0) * 1000 / fakes)
            if fids:
                fids[domain].add(images, real=False)
            if nets.lpips is not None:
                per_domain[domain]["LPIPS div."].append(metrics.lpips_diversity(nets.lpips, images))
            cycle.append(_cycle_agreement(nets, maps, labels, photo, edit.source_style))
            if nets.attnet is not None:
                probs.append(nets.attnet(images * 2 - 1)[1].mean(0).cpu())
                targets.append(torch.from_numpy(edit.y_trg))
            if real_pose is not None:  # squared error per angle: the photo vs the mean over the fakes
                pose_err.append(((real_pose - _angles(nets, images).mean(0)) ** 2).tolist())
            if nets.bisenet is not None:
                parsed.append(_parse_agreement(nets, images, maps))
    _real_sets(reals, nets, fids)
    for domain in DOMAINS:
        row = {k: float(np.mean(v)) for k, v in per_domain[domain].items()}
        if fids and fids[domain].metric.fake_features_num_samples >= 2 and \
                fids[domain].metric.real_features_num_samples >= 2:
            row["FID"] = fids[domain].score()
        if row:
            section.rows[domain] = row
    overall: dict[str, float] = {"cycle agreement": float(np.mean(cycle))}
    if probs:
        p, t = torch.stack(probs), torch.stack(targets)
        for d, domain in enumerate(DOMAINS):
            col, direct = ATTNET_OF[domain]
            ap, f1 = metrics.ap_and_f1(p[:, col] if direct else 1 - p[:, col], t[:, d])
            overall[f"AP {domain}"], overall[f"F1 {domain}"] = ap, f1
    if pose_err:
        err = np.array(pose_err)
        overall.update({"pose MSE yaw": err[:, 0].mean(), "pose MSE pitch": err[:, 1].mean(),
                        "pose MSE roll": err[:, 2].mean()})
    if parsed:
        overall["parse agreement (BiSeNet)"] = float(np.mean(parsed))
    section.rows["overall"] = {k: float(v) for k, v in overall.items()}
    section.note_missing(nets, {"inception": "FID", "lpips": "LPIPS diversity", "alexnet": "LPIPS diversity",
                                "attnet": "attribute AP/F1", "hopenet": "pose error",
                                "bisenet": "parse agreement"})
    return section


def _real_sets(reals: PreparedData, nets: Networks, fids: dict) -> None:
    """FID's real side per value: the training photos that have it (the official ``train_<attr>``), each run
    through Inception once, in batches, and added to every value it has."""
    if not fids:
        return
    any_fid = next(iter(fids.values()))
    for first in _progress(len(reals), "real photos", REAL_BATCH):
        items = [reals[i] for i in range(first, min(first + REAL_BATCH, len(reals)))]
        rgb = torch.stack([rgb for rgb, _, _ in items]).to(nets.device)
        features = any_fid.features(_resize((rgb + 1) / 2, nets.syn.size))
        ys = torch.stack([y for _, _, y in items])
        for d, domain in enumerate(DOMAINS):
            have = ys[:, d] > 0.5
            if have.any():
                fids[domain].add_features(features[have.to(features.device)], real=True)


def _cycle_agreement(nets: Networks, maps: torch.Tensor, labels: torch.Tensor, photo: np.ndarray,
                     source_style: torch.Tensor) -> float:
    editor = nets.sem
    x = _resize(one_hot(maps).to(editor.dtype), editor.size, nearest=True)
    back = editor.G(x, source_style.repeat(x.shape[0], 1, 1).to(editor.dtype), editor.heatmaps(photo)).argmax(1)
    src = _resize(labels[None, None].float().to(nets.device), back.shape[-1], nearest=True)[0, 0].long()
    return float(np.mean([metrics.pixel_agreement(b, src) for b in back]))


def _angles(nets: Networks, x01: torch.Tensor) -> torch.Tensor:
    """HopeNet's (yaw, pitch, roll) in degrees per image: (B, 3)."""
    yaw, pitch, roll = nets.hopenet(normalise_rgb(_resize(x01, 224)))
    return torch.stack([nets.hopenet.degrees(a) for a in (yaw, pitch, roll)], 1)


def _parse_agreement(nets: Networks, images: torch.Tensor, maps: torch.Tensor) -> float:
    from ..face.pipeline import bisenet_parse

    scores = []
    for img, m in zip(images, maps, strict=True):
        rgb8 = (img.permute(1, 2, 0) * 255).round().byte().cpu().numpy()
        parsed = torch.from_numpy(bisenet_parse(rgb8, nets.bisenet).astype(np.int64))
        target = _resize(m[None, None].float().cpu(), parsed.shape[-1], nearest=True)[0, 0].long()
        scores.append(metrics.pixel_agreement(parsed, target))
    return float(np.mean(scores))
