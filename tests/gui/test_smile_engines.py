"""The editor on the SMILE engines (golden synthetic weights stand in for the official files)."""

import numpy as np
from PySide6.QtCore import Qt

from smile_studio.golden import synth_state_dict
from smile_studio.render import FINAL

from .conftest import make_window


def test_editor_runs_on_the_smile_engines(qtbot, golden_dir):
    from smile_studio.core.document import Document
    from smile_studio.core.labelmap import LabelMap
    from smile_studio.engines.neural import NeuralLayoutEngine, NeuralRenderEngine

    m = golden_dir / "manifests"
    sd = {k: synth_state_dict(m / f"sem256_{k}.json", 1) for k in ("G", "F", "S", "FAN")}
    layout = NeuralLayoutEngine.from_sources(sd["G"], sd["F"], sd["S"], sd["FAN"], device="cpu")
    render = NeuralRenderEngine.from_source({"g_ema": synth_state_dict(m / "syn256_G.json", 1)}, device="cpu")
    d = np.load(golden_dir / "syn256_seed1.npz")
    rgb = ((d["rgbA"][0].transpose(1, 2, 0) + 1) * 127.5).round().astype(np.uint8)
    w = make_window(qtbot, layout=layout, render=render, note="SMILE (official networks)")
    w.set_document(Document(LabelMap(d["labA"]), photo=rgb, name="A"))
    assert "SMILE" in w.banner.text() and "engine: SMILE" in w.status_engine.text()
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == FINAL, timeout=20000)
    first = w.preview.image.copy()
    w.attributes.toggles["hat"].setChecked(True)
    qtbot.mouseClick(w.attributes.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.proposal is not None, timeout=20000)
    assert w.proposal[0].engine == "smile" and w.proposal[0].style.shape == (1, 6, 64)
    proposed = w.proposal[0].maps[0].copy()
    qtbot.mouseClick(w.attributes.accept, Qt.MouseButton.LeftButton)
    assert np.array_equal(w.doc.labels, proposed)
    assert w.doc.attributes["hat"] == "on" and not np.array_equal(w.doc.labels, d["labA"])
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == FINAL
                    and not w.worker.mailbox.is_stale(w.last_result.id) and not np.array_equal(
                        w.preview.image, first), timeout=20000)
    assert w.preview.image.shape == (256, 256, 3)
    w.worker.stop()
