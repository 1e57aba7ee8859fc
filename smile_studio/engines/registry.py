"""Which engines run: SMILE when its weights are installed and verify, the offline default otherwise."""

from __future__ import annotations

from ..weights import checkpoint_path, display_path, installed, weights_dir
from .base import EngineError, LayoutEngine, RenderEngine

SMILE_KEYS = ("syn256", "sem_G", "sem_F", "sem_S", "fan")


def smile_available() -> bool:
    found = installed()
    return all(k in found for k in SMILE_KEYS)


def install_hint() -> str:
    return (f"place the official SMILE files ({', '.join(checkpoint_path(k).name for k in SMILE_KEYS)}) in "
            f"{display_path(weights_dir())} or set SMILE_STUDIO_WEIGHTS; see README, section Weights")


def offline_engines() -> tuple[LayoutEngine, RenderEngine]:
    from ..resources import bundled_sample
    from .exemplar import ExemplarRenderEngine
    from .offline import OfflineLayoutEngine

    sample = bundled_sample()
    return OfflineLayoutEngine(), ExemplarRenderEngine(sample=(sample.photo, sample.labels) if sample else None)


def select_engines(choice: str = "auto", interactive: bool = True) -> tuple[LayoutEngine, RenderEngine, str]:
    """(layout engine, render engine, a sentence saying which runs and why). ``interactive=False``: for headless
    runs, which render everything in float32."""
    if choice not in ("auto", "offline", "smile"):
        raise EngineError(f"unknown engine {choice!r} (auto, offline or smile)")
    problem = "SMILE weights not installed"
    if choice in ("auto", "smile") and smile_available():
        from ..nets.checkpoint import CheckpointError
        from .neural import neural_engines

        try:
            layout, render = neural_engines(interactive)
            return layout, render, "SMILE (official networks)"
        except (CheckpointError, OSError, RuntimeError, Exception) as exc:  # noqa: BLE001 - a damaged or wrong
            # file must never stop the app: 'auto' falls back to the offline engines and says why
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
