"""The Help menu: keyboard shortcuts (read from the window's own actions and the class table, so the list cannot
drift from what the keys do), the engine in use, and About."""

from __future__ import annotations

import html

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMainWindow, QMessageBox, QTextBrowser, QVBoxLayout

from .. import __version__
from ..core.labels import CLASSES

CANVAS_KEYS = (
    ("Space + drag, middle drag", "pan"),
    ("Wheel", "zoom at the cursor"),
    ("[ / ]", "brush size"),
    ("Enter, double-click, right-click", "close a polygon"),
)


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what they do) for every action of the window that has a shortcut, then the canvas and class keys."""
    rows, seen = [], set()
    for act in window.findChildren(QAction):
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in act.shortcuts() if not k.isEmpty())
        name = act.text().replace("&", "").rstrip("…")
        if keys and (keys, name) not in seen:
            seen.add((keys, name))
            rows.append((keys, name))
    rows.extend(CANVAS_KEYS)
    rows.extend((c.hotkey, f"class {c.name} ({c.key})") for c in CLASSES)
    return rows


def shortcuts_html(window: QMainWindow) -> str:
    body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>"
                   for k, v in shortcut_rows(window))
    return f"<h3>Keyboard shortcuts</h3><table cellspacing='4'>{body}</table>"


def show_shortcuts(window: QMainWindow) -> QDialog:
    dialog = QDialog(window)
    dialog.setObjectName("shortcutsDialog")
    dialog.setWindowTitle("Keyboard shortcuts")
    lay = QVBoxLayout(dialog)
    text = QTextBrowser()
    text.setHtml(shortcuts_html(window))
    lay.addWidget(text)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    lay.addWidget(buttons)
    dialog.resize(460, 560)
    dialog.show()
    return dialog


def about_text(engine_note: str) -> str:
    return (f"<h3>SMILE Studio {__version__}</h3><p>A face layout editor built on SMILE (Semantically-guided "
            f"Multi-attribute Image and Layout Editing, ICCVW 2021).</p><p>Engine: {engine_note or 'none'}</p>"
            "<p>Without the official SMILE weights the offline engines (classical algorithms, not SMILE) do the "
            "whole job; see the README, section Weights.</p>")


def build_help_menu(window: QMainWindow) -> None:
    menu = window.menuBar().addMenu("&Help")
    keys = QAction("&Keyboard shortcuts", window)
    keys.setShortcut(QKeySequence("F1"))
    keys.triggered.connect(window.show_shortcuts)
    menu.addAction(keys)
    about = QAction("&About SMILE Studio", window)
    about.triggered.connect(lambda: QMessageBox.about(window, "About SMILE Studio",
                                                      about_text(window.engine_note)))
    menu.addAction(about)
