"""Which engines run: SMILE when its weights are installed and verify, the offline default otherwise."""

from __future__ import annotations

import logging
import os

from ..weights import SMILE_KEYS, checkpoint_path, display_path, install_dir, installed
from .base import EngineError, LayoutEngine, RenderEngine


def smile_available() -> bool:
    found = installed()
    return all(k in found for k in SMILE_KEYS)


def install_hint() -> str:
    return (f"run `smile-studio weights fetch` (or File > Weights…), or `smile-studio weights import PATH` with "
            f"the official files ({', '.join(checkpoint_path(k).name for k in SMILE_KEYS)}); they go to "
            f"{display_path(install_dir())}")


# The engines a user can choose, in one table: name -> what it is (the CLI's --engine choices come from here).
ENGINES = {
    "auto": "SMILE when its weights are installed and load, the offline default otherwise",
    "offline": "the offline default: classical algorithms, no learned weights",
    "smile": "SMILE_SEM + SMILE_SYN with the official weights",
}


def offline_engines(exemplar: tuple | None = None) -> tuple[LayoutEngine, RenderEngine]:
    """``exemplar``: (photo, map) of a face whose textures fill regions a photo lacks (the app and the CLI pass
    the bundled sample's; without one, new regions get procedural colours)."""
    from .exemplar import ExemplarRenderEngine
    from .offline import OfflineLayoutEngine

    return OfflineLayoutEngine(), ExemplarRenderEngine(sample=exemplar)


def select_engines(choice: str = "auto", interactive: bool = True, exemplar: tuple | None = None,
                   device: str = "auto") -> tuple[LayoutEngine, RenderEngine, str]:
    """(layout engine, render engine, a sentence saying which runs and why). ``interactive=False``: for headless
    runs, which render everything in float32. ``exemplar``: see :func:`offline_engines`. ``device``: where SMILE
    runs (auto: CUDA when available)."""
    if choice not in ENGINES:
        raise EngineError(f"unknown engine {choice!r} ({', '.join(ENGINES)})")
    problem = "SMILE weights not installed"
    if choice in ("auto", "smile") and smile_available():
        try:
            layout, render = neural_engines(interactive, device)
            return layout, render, "SMILE (official networks)"
        except Exception as exc:  # noqa: BLE001 - a damaged or wrong file must never stop the app: 'auto' falls
            # back to the offline engines and says why
            if choice == "smile":
                raise EngineError(f"the SMILE weights could not be loaded: {exc}") from exc
            problem = f"SMILE weights could not be loaded ({exc})"
    if choice == "smile":
        raise EngineError("the SMILE engine needs the official weights: " + install_hint())
    layout, render = offline_engines(exemplar)
    why = "offline default (classical algorithms, not SMILE)"
    if choice == "auto":
        why += f"; {problem}"
    return layout, render, why


def neural_engines(interactive: bool = True, device: str = "auto") -> tuple[LayoutEngine, RenderEngine]:
    """The SMILE engines over the installed checkpoints (:func:`smile_available` says they are there).
    ``interactive=False`` (headless runs): float32 only, no preview copy of the generator; interactive previews
    take their precision from ``SMILE_STUDIO_PRECISION`` (auto, fast or exact)."""
    from .neural import NeuralLayoutEngine, NeuralRenderEngine

    fan = checkpoint_path("fan")
    layout = NeuralLayoutEngine.from_sources(checkpoint_path("sem_G"), checkpoint_path("sem_F"),
                                             checkpoint_path("sem_S"), fan if fan.is_file() else None,
                                             device=device)
    precision = os.environ.get("SMILE_STUDIO_PRECISION", "auto").strip().lower() if interactive else "exact"
    render = NeuralRenderEngine.from_source(
        checkpoint_path("syn256"), precision=precision if precision in ("auto", "fast", "exact") else "auto",
        large=_large_engine(device), device=device)
    return layout, render


def _large_engine(device: str = "auto") -> RenderEngine | None:
    """The optional SMILE_SYN 512 engine; a damaged file leaves SMILE at 256 (and says so in the log) instead of
    switching SMILE off."""
    from .neural import NeuralRenderEngine

    path = checkpoint_path("syn512")
    if not path.is_file():
        return None
    try:
        return NeuralRenderEngine.from_source(path, precision="exact", device=device)
    except Exception as exc:  # noqa: BLE001 - an optional file must not cost the required ones
        logging.getLogger(__name__).warning("SMILE_SYN 512 unusable, rendering at 256: %s", exc)
        return None
