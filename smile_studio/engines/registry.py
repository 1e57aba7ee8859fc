"""Which engines run: SMILE when its weights are installed and verify, the offline default otherwise."""

from __future__ import annotations

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


def select_engines(choice: str = "auto", interactive: bool = True,
                   exemplar: tuple | None = None) -> tuple[LayoutEngine, RenderEngine, str]:
    """(layout engine, render engine, a sentence saying which runs and why). ``interactive=False``: for headless
    runs, which render everything in float32. ``exemplar``: see :func:`offline_engines`."""
    if choice not in ENGINES:
        raise EngineError(f"unknown engine {choice!r} ({', '.join(ENGINES)})")
    problem = "SMILE weights not installed"
    if choice in ("auto", "smile") and smile_available():
        from .neural import neural_engines

        try:
            layout, render = neural_engines(interactive)
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
