"""Which engines run: SMILE when its weights are installed and verify, the offline default otherwise."""

from __future__ import annotations

import numpy as np

from ..core.labels import CLASS_BY_KEY as K
from ..weights import checkpoint_path, installed, weights_dir
from .base import EngineError, LayoutEngine, RenderEngine
from .geometry import NoFaceError, measure

SMILE_KEYS = ("syn256", "sem_G", "sem_F", "sem_S", "fan")


def smile_available() -> bool:
    found = installed()
    return all(k in found for k in SMILE_KEYS)


def install_hint() -> str:
    return (f"place the official SMILE files ({', '.join(checkpoint_path(k).name for k in SMILE_KEYS)}) in "
            f"{weights_dir()} or set SMILE_STUDIO_WEIGHTS; see README, section Weights")


def offline_engines() -> tuple[LayoutEngine, RenderEngine]:
    from ..resources import bundled_sample
    from .exemplar import ExemplarRenderEngine
    from .offline import OfflineLayoutEngine

    sample = bundled_sample()
    return OfflineLayoutEngine(), ExemplarRenderEngine(sample=(sample.photo, sample.labels) if sample else None)


def select_engines(choice: str = "auto") -> tuple[LayoutEngine, RenderEngine, str]:
    """(layout engine, render engine, a sentence saying which runs and why)."""
    if choice not in ("auto", "offline", "smile"):
        raise EngineError(f"unknown engine {choice!r} (auto, offline or smile)")
    problem = "SMILE weights not installed"
    if choice in ("auto", "smile") and smile_available():
        from ..nets.checkpoint import CheckpointError
        from .neural import neural_engines

        try:
            layout, render = neural_engines()
            return layout, render, "SMILE (official networks)"
        except (CheckpointError, OSError, RuntimeError) as exc:  # a damaged or wrong file must not stop the app
            if choice == "smile":
                raise EngineError(f"the SMILE weights could not be loaded: {exc}") from exc
            problem = f"SMILE weights could not be loaded ({exc})"
    if choice == "smile":
        raise EngineError("the SMILE engine needs the official weights: " + install_hint())
    layout, render = offline_engines()
    why = "offline default (classical algorithms, not SMILE)"
    if choice == "auto":
        why += f"; {problem}"
    return layout, render, why


def infer_attributes(labels: np.ndarray) -> dict[str, str]:
    """Read the attribute state a map shows (accessories by their classes; hair-based ones by geometry)."""
    lab = np.asarray(labels)
    n = lab.size
    counts = np.bincount(lab.reshape(-1), minlength=19)
    state = {
        "eyeglasses": "on" if counts[K["eye_g"].id] > 0.001 * n else "off",
        "hat": "on" if counts[K["hat"].id] > 0.005 * n else "off",
        "earrings": "on" if counts[K["ear_r"].id] > 0.0002 * n else "off",
        "bald": "on" if counts[K["hair"].id] < 0.01 * n and counts[K["hat"].id] < 0.005 * n else "off",
    }
    try:
        g = measure(lab)
    except NoFaceError:
        return state
    hair = lab == K["hair"].id
    top = int(max(g.brow_y - 0.5 * (g.nose_y - g.brow_y), 0))
    x0, x1 = int(g.cx - 0.3 * g.face_w), int(g.cx + 0.3 * g.face_w)
    forehead = hair[top:int(g.brow_y), max(x0, 0):x1]
    state["bangs"] = "on" if forehead.size and forehead.mean() > 0.35 else "off"
    below_jaw = hair[int(g.mouth_y):].sum()
    state["gender"] = "female" if below_jaw > 0.01 * n else "male"
    return state
