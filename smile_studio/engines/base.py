"""The two engine protocols the app, the CLI and the tests program against.

* :class:`LayoutEngine` (the SMILE_SEM side) rewrites a label map so that it shows a new attribute state.
* :class:`RenderEngine` (the SMILE_SYN side) turns a label map plus per-region style choices into an image.

Requests and results are frozen dataclasses holding numpy arrays, so workers on other threads exchange snapshots,
never widgets or documents. Engines raise :class:`EngineError` for requests they cannot serve (with a sentence for
the user); anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import numpy as np

from ..core.document import Reference, Snapshot, StyleSource, carried_styles, check_seed
from ..core.labels import ATTRIBUTES, NUM_CLASSES, normalise_value, validate_attributes


class EngineError(RuntimeError):
    """A request an engine cannot serve; str(error) is for the user."""


class EnginesUnreachable(EngineError):
    """The machine running the engines does not answer (a server gone away): the editor's own engines take over."""


@dataclass(frozen=True)
class LayoutRequest:
    labels: np.ndarray  # (H, W) uint8
    current: dict  # complete attribute state of ``labels``
    target: dict  # attribute -> new value, any subset of the six
    seed: int = 0
    psi: float = 1.0  # 0 = the mean shape / style, 1 = full variation
    variations: int = 1
    reference_labels: np.ndarray | None = None  # reference mode when set
    reference_attributes: dict | None = None
    photo: np.ndarray | None = None  # aligned photo of ``labels`` (the neural engine's landmark heatmaps use it)

    def __post_init__(self):
        """Validated once, here: engines take the request as it is (canonical attribute values, checked ranges)."""
        object.__setattr__(self, "current", validate_attributes(self.current))
        object.__setattr__(self, "target", {k: normalise_value(k, v) for k, v in self.target.items()})
        check_seed(self.seed)
        if not 0.0 <= float(self.psi) <= 2.0:
            raise ValueError(f"psi must be between 0 and 2, not {self.psi}")
        if not 1 <= int(self.variations) <= 64:
            raise ValueError(f"variations must be 1..64, not {self.variations}")
        if self.reference_attributes is not None:
            object.__setattr__(self, "reference_attributes",
                               {k: normalise_value(k, v) for k, v in self.reference_attributes.items()})

    def new_state(self) -> dict:
        return validate_attributes({**self.current, **self.target})

    def changed_attributes(self) -> list[str]:
        new = self.new_state()
        return [a.key for a in ATTRIBUTES if new[a.key] != self.current[a.key]]


@dataclass(frozen=True)
class LayoutResult:
    maps: tuple  # one (H, W) uint8 map per variation
    attributes: dict  # the new attribute state
    seeds: tuple  # the seed of each variation
    engine: str
    style: np.ndarray | None = None  # SEM style per variation (V, 6, 64), or None for the offline engine
    notes: tuple = ()  # things the user should know (e.g. "no ears visible: earrings not added")

    @property
    def labels(self) -> np.ndarray:
        return self.maps[0]

    def class_changes(self, before: np.ndarray, index: int = 0) -> np.ndarray:
        """Per-class pixel count difference (after - before), shape (19,)."""
        after = self.maps[index]
        return (np.bincount(after.reshape(-1), minlength=NUM_CLASSES).astype(np.int64)
                - np.bincount(before.reshape(-1), minlength=NUM_CLASSES).astype(np.int64))


@dataclass(frozen=True)
class RenderRequest:
    labels: np.ndarray  # (H, W) uint8: the layout to render
    photo: np.ndarray | None = None  # aligned source photo (H, W, 3) uint8
    source_labels: np.ndarray | None = None  # the layout of ``photo``
    styles: tuple = field(default_factory=lambda: (StyleSource(),) * NUM_CLASSES)
    references: tuple = ()  # Reference objects that styles may name
    size: int | None = None  # output side; None = the map's
    request_id: int = 0
    # exports and headless runs: float32 throughout (reproducible); interactive previews may use a faster
    # reduced precision where the engine has one
    exact: bool = False
    # a preview while a brush stroke is being drawn: the engine may answer quickly and approximately (at half
    # size, or by updating its last render around the change); a render without it follows when the stroke ends
    stroke: bool = False

    def __post_init__(self):
        # the nose, ears and neck follow a restyled skin (core.document.carried_styles): every engine renders
        # the styles as resolved here
        object.__setattr__(self, "styles", carried_styles(self.styles))

    def reference(self, ref_id: str | None) -> Reference | None:
        return next((r for r in self.references if r.id == ref_id), None)

    def halved(self) -> RenderRequest:
        """The same render from every second pixel of the map, photo and source map (output size unchanged)."""
        def half(a):
            return None if a is None else a[::2, ::2]

        return replace(self, labels=half(self.labels), photo=half(self.photo),
                       source_labels=half(self.source_labels), size=self.size or self.labels.shape[0])

    @classmethod
    def from_snapshot(cls, snap: Snapshot, labels: np.ndarray | None = None, exact: bool = False,
                      stroke: bool = False) -> RenderRequest:
        """The render of a document snapshot (or of ``labels`` in its place: a proposal's variation) at the
        document's size."""
        labels = snap.labels if labels is None else labels
        return cls(labels, snap.photo, snap.source_labels, snap.styles, snap.references, size=snap.labels.shape[0],
                   exact=exact, stroke=stroke)


@dataclass(frozen=True)
class EngineInfo:
    """What an engine declares about itself, so that nobody guesses it from its name or probes its attributes."""

    label: str  # what the window and the reports call it: "SMILE" or "offline"
    official_weights: bool  # runs the official (or user-trained) SMILE networks: exports record their hashes
    device: str = "cpu"  # where it runs ("cpu", "cuda", "cuda:1")
    preview_precision: str | None = None  # what interactive previews compute in ("bfloat16", "float32"), if told
    remote: bool = False  # runs on another machine (its weight files are not this machine's)

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")


OFFLINE_INFO = EngineInfo("offline", official_weights=False)


@runtime_checkable
class LayoutEngine(Protocol):
    name: str  # recorded with results and recipes (never compared: see ``info``)
    description: str
    info: EngineInfo

    def edit(self, request: LayoutRequest) -> LayoutResult: ...


@runtime_checkable
class RenderEngine(Protocol):
    name: str
    description: str
    info: EngineInfo
    large_side: int | None  # the side of its renders for large faces (SMILE_SYN 512 when installed), or None

    def render(self, request: RenderRequest) -> np.ndarray: ...


@runtime_checkable
class PreparesFaces(Protocol):
    """A layout engine that can compute ahead what every edit of a face needs (the window asks once the face is
    on screen, so the first toggle costs what a second one does)."""

    def prepare(self, labels: np.ndarray, photo: np.ndarray | None, attributes: dict) -> None: ...


@runtime_checkable
class RendersSessions(Protocol):
    """A render engine whose stroke previews update its last render: ``session()`` is a view of it with a
    context of its own (the networks and caches shared), so that two editors painting at once on one server
    each get previews of their own strokes."""

    def session(self) -> RenderEngine: ...


@runtime_checkable
class RendersBatches(Protocol):
    """A render engine that renders several requests in one pass (batched on a GPU)."""

    def render_many(self, requests: list[RenderRequest]) -> list[np.ndarray]: ...


def photo_render_side(large: int | None, side: int, alignment: np.ndarray | None) -> int:
    """The side to render a face at for its photo: an engine's ``large`` side when it has one and the photo's
    face (the crop of ``side`` px placed by ``alignment``) is at least that large, else ``side``."""
    from ..face.align import photo_scale

    if large is None or alignment is None or large <= side or photo_scale(alignment) * side < large:
        return side
    return large


def for_the_photo(req: RenderRequest, engine: RenderEngine, original: np.ndarray | None,
                  alignment: np.ndarray | None) -> RenderRequest:
    """The exact render that goes back into the photo, at :func:`photo_render_side` (at a large side, the
    photo is cropped afresh from the original; the maps stay as they are, the engine brings them to its side)."""
    from ..face.align import crop_at_side

    req = replace(req, exact=True, stroke=False)
    side = req.labels.shape[0]
    new_side = photo_render_side(engine.large_side, side, alignment if original is not None else None)
    if new_side == side:
        return req
    return replace(req, photo=crop_at_side(original, alignment, side, new_side), size=new_side)


def render_batch(engine: RenderEngine, requests: list[RenderRequest]) -> list[np.ndarray]:
    """Several renders: in one pass where the engine can (``render_many``: batched on a GPU), else one by one."""
    if isinstance(engine, RendersBatches) and len(requests) > 1:
        return engine.render_many(requests)
    return [engine.render(r) for r in requests]
