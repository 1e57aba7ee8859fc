"""Attribute proposals: the layout edit runs on the engine worker; the proposal is shown (canvas diff, preview,
panel with its variations) until it is accepted (one undo step) or rejected. A mixin of
:class:`~.window.MainWindow`."""

from __future__ import annotations

import cv2

from ..engines.base import EngineError, LayoutRequest, RenderRequest
from .config import THUMB
from .scheduler import FINAL


def missing_in_reference(targets: dict, current: dict, reference_labels) -> list[str]:
    """The accessories asked for (eyeglasses, earrings, hat turned on) whose class the reference's map lacks:
    reference mode cannot copy a shape that is not there."""
    from ..core.labels import ATTRIBUTES

    out = []
    for a in ATTRIBUTES:
        if a.key in ("eyeglasses", "earrings", "hat") and targets.get(a.key) == "on" and current.get(a.key) != "on" \
                and not any((reference_labels == cid).any() for cid in a.regions):
            out.append(a.name.lower())
    return out


class ProposalActions:
    def propose(self, targets: dict, seed: int, psi: float, variations: int, reference_mode: bool) -> None:
        if self.doc is None or self.layout_engine is None:
            return
        ref = None
        if reference_mode:
            ref = next((r for r in reversed(self.doc.references) if r.labels is not None), None)
            if ref is None:
                self.notify("Reference mode needs a reference: drop a photo on the reference shelf first.",
                            error=True)
                return
            missing = missing_in_reference(targets, dict(self.doc.attributes), ref.labels)
            if missing:
                self.notify(f"The reference {ref.name} shows no {' or '.join(missing)} in its map (the parser found "
                            f"none): {'it' if len(missing) == 1 else 'they'} will be a generated shape, not copied. "
                            "Paint it on the reference's map or use Latent mode.", until_edit=True)
        req = LayoutRequest(self.doc.labels.copy(), dict(self.doc.attributes), targets, seed=seed, psi=psi,
                            variations=variations, reference_labels=ref.labels if ref else None,
                            reference_attributes=ref.attributes if ref else None, photo=self.doc.photo)
        if not req.changed_attributes():
            self.notify("The toggles match the current attributes: nothing to edit.")
            return
        self.attributes.propose.setEnabled(False)
        self.worker.submit(lambda engines: engines.layout.edit(req), self._proposal_ready)

    def _proposal_ready(self, result) -> None:
        self.attributes.propose.setEnabled(True)
        if isinstance(result, Exception):
            msg = str(result) if isinstance(result, (EngineError, ValueError)) else f"{type(result).__name__}: {result}"
            self.notify(f"Attribute edit failed: {msg}", error=True)
            return
        self.proposal = (result, 0)
        self.attributes.set_proposal_active(True)
        self._show_proposal()  # map thumbnails at once; the rendered faces follow from the engine worker
        if self.render_engine is not None and len(result.maps) > 1:
            snap = self.doc.snapshot()

            def render_all(engines):
                out = []
                for m in result.maps:
                    img = engines.render.render(RenderRequest.from_snapshot(snap, m))
                    out.append(cv2.resize(img, (THUMB, THUMB), interpolation=cv2.INTER_AREA))  # on that thread
                return result, out

            self.worker.submit(render_all, self._thumbnails_ready)

    def _thumbnails_ready(self, out) -> None:
        if isinstance(out, Exception) or self.proposal is None or out[0] is not self.proposal[0]:
            return  # a render failure keeps the map thumbnails; a newer proposal replaced this one
        self.attributes.show_rendered_variations(out[1])

    def _choose_variation(self, idx: int) -> None:
        if self.proposal is not None and 0 <= idx < len(self.proposal[0].maps):
            self.proposal = (self.proposal[0], idx)
            self._show_proposal()

    def _show_proposal(self) -> None:
        """The chosen variation on the canvas and in the preview, with its own pixel summary and seed."""
        res, idx = self.proposal
        self.canvas.set_labels(res.maps[idx], diff=res.maps[idx] != self.doc.labels)
        self.attributes.show_proposal(res, idx, res.class_changes(self.doc.labels, idx))
        self.request_render(FINAL)

    def accept_proposal(self) -> None:
        if self.proposal is None or self.doc is None:
            return
        res, idx = self.proposal
        self.proposal = None
        self.attributes.set_proposal_active(False)
        self.doc.apply_attribute_edit(res.maps[idx], res.attributes,
                                      label=f"Attributes ({', '.join(k for k in res.attributes)})")
        self.accepted_seed = int(res.seeds[idx])
        self.attributes.advance_seed()
        self.attributes.info.setText(f"Accepted variation {idx + 1} (seed {res.seeds[idx]}); Ctrl+Z undoes it.")
        self._accepted_version = self.doc.version  # the line goes with the next change (an undo included)
        self.canvas.set_labels(self.doc.labels)
        self._refresh_panels()
        self.request_render(FINAL)

    def reject_proposal(self) -> None:
        if self.proposal is None:
            return
        self.proposal = None
        self.attributes.set_proposal_active(False)
        self.attributes.info.setText("")
        if self.doc is not None:
            self.canvas.set_labels(self.doc.labels)
            self.attributes.show_state(self.doc.attributes)
            self.request_render(FINAL)
