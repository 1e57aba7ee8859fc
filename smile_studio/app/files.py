"""File actions of the main window: open (now, or on the thread pool), place eyes by hand, the sample, save and
save as, export, autosave and crash recovery, recent files, the folder file dialogs start in, the Weights dialog,
the save-before-closing question.

A mixin of :class:`~.window.MainWindow`: it uses the window's document, worker, settings, notify() and
set_document().
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QMessageBox,
)

from ..core.document import Document
from ..core.labelmap import LabelMap
from ..core.project import ProjectError, load_project, project_name, save_project
from ..engines.base import EngineError, RenderRequest, for_the_photo
from ..opening import document_from_photo, open_document
from .config import IMAGE_GLOBS, TITLE, WORK_SIZE
from .pool import PoolTask
from .recovery import discard, orphaned_autosaves


class FileActions:
    def check_recovery(self) -> list[Path]:
        found = orphaned_autosaves(self.autosaver.folder)
        if found:
            self._recoverable = found[0]
            name = project_name(found[0])
            what = f"your work on {name}" if name else f"your work ({found[0].name})"
            when = time.strftime("%H:%M on %d %b", time.localtime(found[0].stat().st_mtime))
            self.notify(f"SMILE Studio did not close properly; an autosave of {what} from {when} exists. "
                        "Press Recover to open it.")
            self.recover_button.setVisible(True)
        return found

    def _recover(self) -> None:
        path = self._recoverable
        if path is None:
            return
        try:
            doc = load_project(path)
        except ProjectError as exc:
            self.notify(f"The autosave could not be opened: {exc}", error=True)
            return
        if not self.maybe_save(f"recovering {doc.name}"):
            self._kept_open(f"The autosave of {doc.name}")
            return
        self.set_document(doc)
        self.saved_version = None  # recovered work is unsaved
        self._update_title()
        self.recover_button.setVisible(False)
        try:  # this session's autosave holds the work before the old one goes: a second crash loses nothing
            self.autosaver.save(doc)
        except ProjectError as exc:
            self.notify(f"Recovered {doc.name}, but it could not be autosaved again ({exc}); the old autosave "
                        f"{path.name} is kept. Save your work (File > Save project as).", error=True)
            return
        discard(path)
        self.notify(f"Recovered {doc.name} from the autosave.")

    def open_path(self, path: str | Path) -> bool:
        """Open a file now, on this thread (start-up, scripts, tests); True when it became the document."""
        try:
            result = open_document(path, WORK_SIZE)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in _finish_open
            result = exc
        return self._finish_open(Path(path), result)

    def next_face(self) -> None:
        """Edit > Next face: the same photo, its next face by size (after the last, the largest again)."""
        face, path = (self.doc.face if self.doc is not None else None), self._opened_photo
        if face is None or path is None:
            self.notify("The open photo has only one face.")
            return
        self.open_in_background(path, (face[0] + 1) % face[1])

    def open_in_background(self, path: str | Path, face_index: int = 0) -> None:
        """What File > Open, a drop and File > Recent do: the file is read, aligned and parsed on a worker thread
        (a huge image or a slow parse never freezes the window); only the newest request is shown."""
        self._open_serial += 1
        self._pending_open = (self._open_serial, Path(path))
        self.notify(f"Opening {Path(path).name}…")
        task = PoolTask(lambda: open_document(path, WORK_SIZE, face_index=face_index))
        task.signals.done.connect(self._opened_in_background, Qt.ConnectionType.QueuedConnection)
        self._open_tasks[self._open_serial] = task
        self.pool.start(task)

    def _opened_in_background(self, result) -> None:
        serial = next((k for k, t in self._open_tasks.items() if t.signals is self.sender()), None)
        self._open_tasks.pop(serial, None)
        if self._pending_open is not None and serial == self._pending_open[0]:
            path = self._pending_open[1]
            self._pending_open = None
            self._finish_open(path, result)

    @property
    def opening(self) -> bool:
        return self._pending_open is not None

    def _finish_open(self, path: Path, result) -> bool:
        from ..face.pipeline import NoFaceDetected

        if isinstance(result, NoFaceDetected):
            self._no_face = path
            still = f" {self.doc.name} stays open." if self.doc is not None else ""
            self.notify(f"No face was detected in {path.name}.{still} Press 'Place eyes…' and click the two eye "
                        f"centres to align {path.name} by hand.", error=True)
            self.place_eyes_button.setVisible(True)
            return False
        if isinstance(result, (ValueError, OSError)):
            self.notify(f"Could not open {path.name}: {result}", error=True)
            return False
        if isinstance(result, Exception):  # a file must never take the editor down
            self.notify(f"Could not open {path.name}: unexpected {type(result).__name__}: {result}", error=True)
            return False
        if not self.maybe_save(f"opening {path.name}"):
            self._kept_open(path.name)
            return False
        doc = result
        self.set_document(doc, path if path.suffix == ".smile" else None)
        self._opened_photo = path if doc.face is not None else None
        self._remember(path)
        self.notify(f"Opened {path.name}." + "".join(f" Note: {n}." for n in doc.notes))
        return True

    def eye_dialog(self, rgb: np.ndarray, name: str):
        from .eyes import EyeDialog

        return EyeDialog(rgb, name, self)

    def place_eyes(self) -> bool:
        """Align and parse the photo that had no detectable face, from eye centres the user clicks."""
        from ..core.imageio import read_image

        path = self._no_face
        if path is None:
            return False
        rgb = read_image(path)
        dialog = self.eye_dialog(rgb, path.name)
        if dialog.exec() != dialog.DialogCode.Accepted or dialog.result_eyes() is None:
            return False
        doc = document_from_photo(rgb, path.name, WORK_SIZE, eyes=dialog.result_eyes())
        if not self.maybe_save(f"opening {path.name}"):
            self._kept_open(path.name)
            return False
        self.place_eyes_button.setVisible(False)
        self._no_face = None
        self.set_document(doc)
        self._remember(path)
        self.notify(f"Opened {path.name} with the eyes placed by hand.")
        return True

    def open_sample(self) -> bool:
        """File > Open sample: through the same unsaved-changes question as File > Open."""
        from ..resources import bundled_sample

        if not self.maybe_save("opening the sample"):
            self._kept_open("The sample")
            return False
        s = bundled_sample(WORK_SIZE)
        if s is None:
            self.set_document(Document(LabelMap.blank(WORK_SIZE), name="blank"))
            self.notify("The bundled sample is missing; started with a blank map.", error=True)
            return True
        self.set_document(s.document())
        self.notify(f"Opened {s.document().name}.")
        return True

    def _kept_open(self, what: str) -> None:
        """After 'Cancel' in the unsaved-changes question: say what stays, not the 'Opening…' line before it."""
        self.notify(f"{what} was not opened; {self.doc.name if self.doc is not None else 'your work'} stays open.")

    def start_folder(self) -> str:
        """Where file dialogs start: the folder last used in any of them (the home folder at first)."""
        value = self.settings.value("last_folder", "")
        return value if isinstance(value, str) and value and Path(value).is_dir() else str(Path.home())

    def remember_folder(self, path: str | Path) -> None:
        path = Path(path)
        self.settings.setValue("last_folder", str(path if path.is_dir() else path.parent))

    def weights_dialog(self, sources=None):
        """File > Weights… (also the banner's link)."""
        from .weights_dialog import WeightsDialog

        kwargs = {"sources": sources} if sources is not None else {}
        self._weights_dialog = WeightsDialog(self, on_installed=self.reload_engines,
                                             folders=(self.start_folder, self.remember_folder), **kwargs)
        self._weights_dialog.show()
        return self._weights_dialog

    def _in_start_folder(self, name: str) -> str:
        return str(Path(self.start_folder()) / name)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open photo, map or project", self.start_folder(),
                                              f"Images and projects ({IMAGE_GLOBS} *.smile)")
        if path:
            self.remember_folder(path)
            self.open_in_background(path)

    def save_to(self, path: str | Path) -> bool:
        try:
            save_project(self.doc, path)
        except ProjectError as exc:
            self.notify(str(exc), error=True)
            return False
        self.project_path = Path(path)
        self.saved_version = self.doc.version
        self._remember(Path(path))
        self._update_title()
        self.notify(f"Saved {Path(path).name}.")
        return True

    def save(self) -> bool:
        if self.doc is None:
            return False
        if self.project_path is None:
            return self.save_as()
        return self.save_to(self.project_path)

    def save_as(self) -> bool:
        suggested = self._in_start_folder(self.suggested_project_name())
        path, _ = QFileDialog.getSaveFileName(self, "Save project", suggested, "SMILE Studio project (*.smile)")
        if path:
            self.remember_folder(path)
        return bool(path) and self.save_to(path if path.endswith(".smile") else path + ".smile")

    def suggested_project_name(self) -> str:
        """'sample-astronaut.smile' for 'sample (astronaut.png)': no brackets, spaces or image extensions."""
        if self.project_path is not None:
            return self.project_path.name
        name = re.sub(r"\.(png|jpe?g|webp|bmp|tiff?|smile)\b", "", self.doc.name if self.doc else "", flags=re.I)
        return (re.sub(r"[^\w.-]+", "-", name).strip("-._") or "untitled") + ".smile"

    def export_to(self, folder: str | Path) -> list[Path]:
        from ..export import export_bundle

        # exports are rendered in float32 (previews may be reduced precision): the bundle's settings reproduce it
        # at SMILE_SYN 512 when installed and the face is large enough
        req = for_the_photo(RenderRequest.from_snapshot(self.doc.snapshot(), exact=True), self.render_engine,
                            self.doc.original, self.doc.alignment)
        try:  # on the engine thread, between two previews; this thread waits for it
            image = self.worker.call(lambda engines: engines.render.render(req))
        except (EngineError, RuntimeError, MemoryError) as exc:
            self.notify(f"Export failed: the image could not be rendered ({exc})", error=True)
            return []
        engines = {"layout": self.layout_engine.description, "render": self.render_engine.description}
        from ..export import checkpoint_hashes

        info = self.render_engine.info
        hashes = checkpoint_hashes() if info.official_weights and not info.remote else {}
        try:
            written = export_bundle(self.doc, image, folder, engines, hashes, self.enhancer())
        except OSError as exc:
            self.notify(f"Export failed: {exc.strerror or exc}", error=True)
            return []
        except (ValueError, RuntimeError, MemoryError) as exc:  # the photo could not be composited (Enhance)
            self.notify(f"Export failed: the edit could not be put back into the photo ({exc})", error=True)
            return []
        self.notify(f"Exported {len(written)} files to {folder}.")
        return written

    def recipe(self) -> tuple[dict, list[str]]:
        """(the recipe of what was done to this face, what it leaves out): the attributes changed since the face
        was opened, the seed of the accepted edit (else the panel's) and its psi, every region's seeded style. A
        reference style names a photo on the shelf, not a file, so it is left out (and said)."""
        from ..core.labels import CLASSES
        from ..core.recipe_file import RecipeFile

        doc, before = self.doc, self._opened_attributes
        changed = {k: v for k, v in doc.attributes.items() if before.get(k) != v}
        styles = {CLASSES[i].key: f"seed:{s.seed}" for i, s in enumerate(doc.styles) if s.kind == "seed"}
        left_out = [CLASSES[i].key for i, s in enumerate(doc.styles) if s.kind == "reference"]
        seed = self.accepted_seed if self.accepted_seed is not None else self.attributes.seed.value()
        recipe = RecipeFile(set=changed, seed=seed, psi=self.attributes.psi.value() / 100,
                            styles=styles, engine="auto", enhance=self.enhance_key).model_dump(exclude_none=True)
        return recipe, left_out

    def save_recipe_to(self, path: str | Path) -> bool:
        import json

        from ..core.imageio import atomic_write_bytes

        recipe, left_out = self.recipe()
        try:
            atomic_write_bytes(Path(path), json.dumps(recipe, indent=2).encode())
        except OSError as exc:
            self.notify(f"Could not save the recipe: {exc.strerror or exc}", error=True)
            return False
        note = f" Reference styles ({', '.join(left_out)}) are not in it." if left_out else ""
        self.notify(f"Saved the recipe {Path(path).name}: `smile-studio batch {Path(path).name} IN_DIR OUT_DIR` "
                    f"applies it to a folder.{note}")
        return True

    def save_recipe_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", self._in_start_folder("recipe.json"),
                                              "Recipe (*.json)")
        if path:
            self.remember_folder(path)
            self.save_recipe_to(path if path.endswith(".json") else path + ".json")

    def export_dialog(self) -> None:
        """File > Export: the bundle's folder is named like a file (a new folder is created; an existing one
        receives the files)."""
        stem = self.suggested_project_name().removesuffix(".smile")
        folder, _ = QFileDialog.getSaveFileName(self, "Export bundle as a folder", self._in_start_folder(
            f"{stem}-export"), "Folder (*)", options=QFileDialog.Option.DontConfirmOverwrite)
        if folder:
            self.remember_folder(Path(folder).parent)
            self.export_to(folder)

    def autosave(self) -> bool:
        if self.doc is None or not self.modified:
            return False
        try:
            return self.autosaver.save(self.doc)
        except ProjectError as exc:
            self.notify(f"Autosave failed: {exc}. Save your work elsewhere (File > Save project as).", error=True)
            return False

    def recent_files(self) -> list[str]:
        """The remembered paths, newest first. QSettings' INI format gives back a list of one as a plain string
        (iterating it gave one-character entries)."""
        value = self.settings.value("recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in items if isinstance(p, str) and p][:10]

    def _remember(self, path: Path) -> None:
        recent = [p for p in self.recent_files() if p != str(path)]
        recent.insert(0, str(path))
        self.settings.setValue("recent", recent[:10])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_files():
            self._action(self.recent_menu, p, None, lambda p=p: self.open_in_background(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def ask_save(self, before: str = "closing") -> QMessageBox.StandardButton:
        name = self.doc.name if self.doc is not None else "your work"
        return QMessageBox.question(
            self, TITLE, f"Save your changes to {name} before {before}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)

    def maybe_save(self, before: str = "closing") -> bool:
        """True when it is fine to drop the current document (``before``: what is about to happen, for the
        question)."""
        if not self.modified:
            return True
        answer = self.ask_save(before)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard
