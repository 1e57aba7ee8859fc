"""The editor on the SMILE engines (golden synthetic weights stand in for the official files)."""

import json

import numpy as np
from PySide6.QtCore import Qt

from smile_studio.app.scheduler import FINAL, PREVIEW
from smile_studio.core.imageio import read_image
from smile_studio.engines.base import RenderRequest
from smile_studio.nets.runtime import dtype_name

from .conftest import make_window, view_point


def test_editor_runs_on_the_smile_engines(qtbot, smile_engines, tmp_path):
    from smile_studio.core.document import Document
    from smile_studio.core.labelmap import LabelMap

    layout, render, lab, rgb, *_ = smile_engines
    w = make_window(qtbot, layout=layout, render=render, note="SMILE (official networks)")
    layout.editor._cache.clear()
    w.set_document(Document(LabelMap(lab), photo=rgb, name="A"))
    assert "SMILE" in w.banner.text() and "engine: SMILE" in w.status_engine.text()
    assert f"previews: {dtype_name(render.preview_dtype)}" in w.status_engine.text()
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == FINAL, timeout=20000)
    first = w.preview.image.copy()
    # after the first render of a face just opened, the engine thread computes what its edits will need
    qtbot.waitUntil(lambda: {k[0] for k in layout.editor._cache} >= {"fan", "S", "enc"}, timeout=20000)
    w.attributes.toggles["hat"].setChecked(True)
    qtbot.mouseClick(w.attributes.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.proposal is not None, timeout=20000)
    assert w.proposal[0].engine == "smile" and w.proposal[0].style.shape == (1, 6, 64)
    proposed = w.proposal[0].maps[0].copy()
    qtbot.mouseClick(w.attributes.accept, Qt.MouseButton.LeftButton)
    assert np.array_equal(w.doc.labels, proposed)
    assert w.doc.attributes["hat"] == "on" and not np.array_equal(w.doc.labels, lab)
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == FINAL
                    and not w.worker.mailbox.is_stale(w.last_result.id) and not np.array_equal(
                        w.preview.image, first), timeout=20000)
    assert w.preview.image.shape == (256, 256, 3)
    # a stroke with the mouse: each dab's preview updates the last render around it, the final follows the release
    shown = []
    w.rendered.connect(shown.append)
    w.set_tool("brush")
    vp = w.canvas.viewport()
    points = [(70 + 8 * i, 100 + 2 * i) for i in range(8)]
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(w.canvas, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(vp, pos=view_point(w.canvas, *p))
        qtbot.wait(120)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(w.canvas, *points[-1]))
    qtbot.waitUntil(lambda: bool(shown) and shown[-1].kind == FINAL and not w.worker.mailbox.is_stale(shown[-1].id),
                    timeout=20000)
    previews = [r for r in shown if r.kind == PREVIEW]
    assert previews and all(r.value.shape == (256, 256, 3) for r in previews)
    assert render.strokes.context.side == 256 and np.array_equal(render.strokes.context.labels, w.doc.labels)
    again = render.render(RenderRequest.from_snapshot(w.doc.snapshot()))
    assert np.abs(again.astype(int) - w.preview.image.astype(int)).max() <= 3
    exact = render.render(RenderRequest(w.doc.labels, w.doc.photo, w.doc.source_labels, w.doc.styles,
                                        w.doc.references, exact=True))
    files = {p.name: p for p in w.export_to(tmp_path / "bundle")}
    assert np.array_equal(read_image(files["render.png"]), exact)  # exports are float32 renders
    assert "SMILE_SYN" in json.loads(files["settings.json"].read_text())["engines"]["render"]
    w.worker.stop()


def test_smile_engines_loaded_behind_an_open_face_prepare_its_edits(qtbot, smile_engines):
    """The SMILE networks arrive while a face is open on the offline engines (what start-up does): after their
    first render of it, the layout engine prepares that face's edits."""
    from smile_studio.core.document import Document
    from smile_studio.core.labelmap import LabelMap

    layout, render, lab, rgb, *_ = smile_engines
    w = make_window(qtbot)  # offline engines
    w.set_document(Document(LabelMap(lab), photo=rgb, name="A"))
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == FINAL, timeout=20000)
    layout.editor._cache.clear()
    w.set_engines(layout, render, "SMILE (official networks)")
    qtbot.waitUntil(lambda: {k[0] for k in layout.editor._cache} >= {"fan", "S", "enc"}, timeout=30000)
    w.worker.stop()
