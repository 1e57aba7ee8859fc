"""Engine selection: SMILE only when its weights load; damaged weights fall back to offline with the reason."""

import pytest

from smile_studio.engines.base import EngineError
from smile_studio.engines.registry import SMILE_KEYS, install_hint, select_engines, smile_available
from smile_studio.weights import checkpoint_path


def test_offline_when_no_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    assert not smile_available()
    layout, render, why = select_engines("auto")
    assert layout.name == render.name == "offline" and "not installed" in why
    with pytest.raises(EngineError, match="needs the official weights"):
        select_engines("smile")
    assert str(tmp_path) in install_hint() and "smileSYN_256.pth" in install_hint()


def test_damaged_weights_fall_back_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    for key in SMILE_KEYS:
        checkpoint_path(key).write_bytes(b"not a checkpoint")
    assert smile_available()
    layout, render, why = select_engines("auto")
    assert layout.name == "offline" and "could not be loaded" in why and "smileSEM_G_ema.pth" in why
    with pytest.raises(EngineError, match="could not be loaded"):
        select_engines("smile")
