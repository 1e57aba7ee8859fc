"""The message bar above the canvas, tied to the document it describes. A mixin of
:class:`~.window.MainWindow`: it uses the window's ``doc``, ``message`` label, status bar and attribute panel.

A message describes the document on screen: it goes when another document opens, and a message shown with
``until_edit`` (and the panel's "Accepted variation ... Ctrl+Z undoes it" line) goes at the document's next
change, an undo included.
"""

from __future__ import annotations


class DocumentMessages:
    def notify(self, text: str, error: bool = False, until_edit: bool = False) -> None:
        """A non-modal message above the canvas (errors never block painting). A message describes the open
        document: it goes when another document opens, and with ``until_edit`` at the document's next change
        (an undo included)."""
        self.message.setText(text)
        self.message.setStyleSheet("background:#5a1f1f;color:white;padding:4px;" if error
                                   else "background:#1f3a5a;color:white;padding:4px;")
        self.message.setVisible(True)
        self.statusBar().showMessage(text, 8000)
        self._message_for = (self.doc, self.doc.version if until_edit and self.doc is not None else None)

    def _expire_messages(self) -> None:
        """Hide what no longer describes the document on screen (another document, or a later version)."""
        doc, version = self._message_for
        if self.message.isVisible() and (doc is not self.doc or (version is not None and version != doc.version)):
            self.message.setVisible(False)
            self.statusBar().clearMessage()
        if self._accepted_version is not None and (self.doc is None or self.doc.version != self._accepted_version):
            self._accepted_version = None
            self.attributes.info.setText("")
