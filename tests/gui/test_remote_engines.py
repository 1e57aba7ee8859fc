"""The real window on a server's engines (``smile-studio serve`` on 127.0.0.1 with the offline engines): File >
Connect to server… connects, a stroke's previews and final render come from the server and equal the local
engine's render, an attribute edit is proposed and accepted there; when the server goes away the window keeps
working on this machine's engines, says so, and connects again when asked."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from smile_studio.core.labels import ClassId as C
from smile_studio.engines.base import RenderRequest
from smile_studio.engines.exemplar import ExemplarRenderEngine
from smile_studio.engines.offline import OfflineLayoutEngine
from smile_studio.resources import sample_exemplar
from tests.serving import serving

from .conftest import drag
from .driving import wait_final

TOKEN = "a-token-for-the-gui-test"


def _connect(qtbot, window, url, token, monkeypatch):
    def filled(dialog):
        dialog.url.setText(url)
        dialog.token.setText(token)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr("smile_studio.app.engine_actions.ServerDialog.exec", filled)
    window.connect_dialog()
    qtbot.waitUntil(lambda: window.render_engine.info.remote, timeout=20000)


def test_the_window_paints_proposes_and_falls_back_on_a_server(qtbot, window, monkeypatch, tmp_path):
    layout, render = OfflineLayoutEngine(), ExemplarRenderEngine(sample=sample_exemplar())
    with serving(layout, render, TOKEN) as url:
        _connect(qtbot, window, url, TOKEN, monkeypatch)
        assert "on 127.0.0.1" in window.status_engine.text() and "offline on 127.0.0.1" in window.banner.text()
        assert window.settings.value("server/url") == url  # remembered for the next time
        wait_final(qtbot, window, timeout=20000)
        window.editor.set_class(C.HAIR)
        seen = []
        window.rendered.connect(lambda res: seen.append(res.kind))
        drag(qtbot, window.canvas, [(60, 200), (80, 200), (100, 200)])
        wait_final(qtbot, window, timeout=20000)
        assert "preview" in seen and window.doc.labels[200, 80] == C.HAIR
        snap = window.doc.snapshot()
        local = ExemplarRenderEngine(sample=sample_exemplar()).render(RenderRequest.from_snapshot(snap))
        assert np.array_equal(window.preview.image, local)  # the server's final render is the local engine's
        window.attributes.toggles["hat"].setChecked(True)
        qtbot.mouseClick(window.attributes.propose, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.proposal is not None, timeout=20000)
        window.accept_proposal()
        assert window.doc.attributes["hat"] == "on"
        files = window.export_to(tmp_path / "bundle")  # rendered on the server
        assert files and all(f.is_file() for f in files)
        settings = json.loads(next(f for f in files if f.suffix == ".json").read_text())
        assert f"on {url}" in json.dumps(settings)  # the bundle says where it was rendered
        assert settings["checkpoints"] == {}  # and records no weight files of this machine
    # the server is gone: the next render fails over to this machine's engines, with a message
    window.editor.set_class(C.SKIN)
    drag(qtbot, window.canvas, [(120, 120), (130, 120)])
    qtbot.waitUntil(lambda: not window.render_engine.info.remote, timeout=30000)
    assert "stopped answering" in window.message.text() and "Connect to server" in window.message.text()
    wait_final(qtbot, window, timeout=20000)
    assert window.preview.image is not None
    # a new server on another port: connecting again works
    with serving(OfflineLayoutEngine(), ExemplarRenderEngine(sample=sample_exemplar()), TOKEN) as url:
        _connect(qtbot, window, url, TOKEN, monkeypatch)
        wait_final(qtbot, window, timeout=20000)


def test_a_refused_token_keeps_the_engines_in_use(qtbot, window, monkeypatch):
    with serving(OfflineLayoutEngine(), ExemplarRenderEngine(), TOKEN) as url:
        def filled(dialog):
            dialog.url.setText(url)
            dialog.token.setText("wrong-token")
            return QDialog.DialogCode.Accepted

        monkeypatch.setattr("smile_studio.app.engine_actions.ServerDialog.exec", filled)
        before = window.render_engine
        window.connect_dialog()
        qtbot.waitUntil(lambda: "refused the token" in window.message.text(), timeout=20000)
        assert window.render_engine is before
