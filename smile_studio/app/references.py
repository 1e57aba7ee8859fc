"""References on the shelf: added from a file dialog, a drop or the clipboard, each aligned and parsed once; a new
reference restyles the regions the style panel names. A mixin of :class:`~.window.MainWindow`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
)

from ..core.document import Reference, StyleSource
from ..core.labelio import colorize
from ..opening import open_document
from .config import IMAGE_FILTER, data_dir
from .scheduler import FINAL


class ReferenceActions:
    def add_reference_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add reference photos", self.start_folder(), IMAGE_FILTER)
        if paths:
            self.remember_folder(paths[0])
            self.add_references(paths)

    def paste_reference(self) -> list[Reference]:
        """The clipboard's image (a screenshot, a copied picture) or copied image files, as references."""
        mime = QApplication.clipboard().mimeData()
        if mime is not None and mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if paths:
                return self.add_references(paths)
        image = QApplication.clipboard().image()
        if image.isNull():
            self.notify("The clipboard holds no image to use as a reference.", error=True)
            return []
        folder = data_dir() / "pasted"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}.png"
        if not image.save(str(path), "PNG"):
            self.notify(f"The pasted image could not be stored in {folder}.", error=True)
            return []
        return self.add_references([str(path)])

    def add_references(self, paths: list[str]) -> list[Reference]:
        added = []
        if self.doc is None:
            return added
        for path in paths:
            try:
                ref_doc = open_document(path, self.doc.size)
            except (ValueError, OSError) as exc:
                self.notify(f"Could not use {Path(path).name} as a reference: {exc}", error=True)
                continue
            rgb = ref_doc.photo if ref_doc.photo is not None else colorize(ref_doc.labels)
            ref = Reference(self.doc.new_reference_id(), Path(path).name, rgb, ref_doc.labels.copy(),
                            dict(ref_doc.attributes))
            self.doc.begin(f"Add reference {ref.name}")
            try:
                self.doc.add_reference(ref)
                present = set(np.nonzero(self.doc.labelmap.counts())[0].tolist())
                for cid in self.styles.restyle_classes():
                    if cid in present and not self.doc.styles[cid].locked:
                        self.doc.set_style(cid, StyleSource("reference", ref=ref.id))
            finally:
                self.doc.end()
            added.append(ref)
        self._refresh_panels()
        self.request_render(FINAL)
        return added
