"""The one label schema of SMILE Studio.

Every table about classes and attributes lives here and nowhere else: the 19 CelebAMask-HQ classes (official
order and colours of SMILE's ``labelcolormap(19)``), their display names, hotkeys and left/right mirror partners,
the face parser's (BiSeNet) class order, and the 6 attributes / 12 domains of SMILE_SEM.  Everything else
(palette arrays, look-up tables, the 12-d label vector) is derived from these tables.

l_/r_ are the *subject's* left/right, so l_eye lies on the image's right half.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np


@dataclass(frozen=True)
class LabelClass:
    id: int
    key: str  # stable identifier used in files and on the command line
    name: str  # what the user reads
    color: tuple[int, int, int]
    hotkey: str  # Qt key sequence text
    mirror: int  # id of the L/R partner (itself when it has none)
    bisenet_id: int  # index of this class in the face parser's output


def _hotkey(i: int) -> str:
    # Number keys 0-9 for the first ten classes, Alt+digit for ids 10-18.
    return str(i) if i < 10 else f"Alt+{i - 10}"


_CLASS_ROWS = (
    # id, key, display name, RGB colour, mirror partner, BiSeNet id
    (0, "background", "Background", (0, 0, 0), 0, 0),
    (1, "skin", "Skin", (204, 0, 0), 1, 1),
    (2, "nose", "Nose", (76, 153, 0), 2, 10),
    (3, "eye_g", "Eyeglasses", (204, 204, 0), 3, 6),
    (4, "l_eye", "Left eye", (51, 51, 255), 5, 4),
    (5, "r_eye", "Right eye", (204, 0, 204), 4, 5),
    (6, "l_brow", "Left brow", (0, 255, 255), 7, 2),
    (7, "r_brow", "Right brow", (51, 255, 255), 6, 3),
    (8, "l_ear", "Left ear", (102, 51, 0), 9, 7),
    (9, "r_ear", "Right ear", (255, 0, 0), 8, 8),
    (10, "mouth", "Mouth", (102, 204, 0), 10, 11),
    (11, "u_lip", "Upper lip", (255, 255, 0), 11, 12),
    (12, "l_lip", "Lower lip", (0, 0, 153), 12, 13),
    (13, "hair", "Hair", (0, 0, 204), 13, 17),
    (14, "hat", "Hat", (255, 51, 153), 14, 18),
    (15, "ear_r", "Earring", (0, 204, 204), 15, 9),
    (16, "neck_l", "Necklace", (0, 51, 0), 16, 15),
    (17, "neck", "Neck", (255, 153, 51), 17, 14),
    (18, "cloth", "Cloth", (0, 204, 0), 18, 16),
)

CLASSES: tuple[LabelClass, ...] = tuple(
    LabelClass(i, key, name, color, _hotkey(i), mirror, bis) for i, key, name, color, mirror, bis in _CLASS_ROWS
)
NUM_CLASSES = len(CLASSES)
CLASS_BY_KEY: dict[str, LabelClass] = {c.key: c for c in CLASSES}
# The class ids by name (ClassId.HAIR == 13), generated from the table above: code names a class once, here.
ClassId = IntEnum("ClassId", [(c.key.upper(), c.id) for c in CLASSES])

#: (19, 3) uint8 palette, row = class id.
PALETTE = np.array([c.color for c in CLASSES], dtype=np.uint8)
#: id -> id of its mirror partner (identity for unpaired classes).
MIRROR_LUT = np.array([c.mirror for c in CLASSES], dtype=np.uint8)
#: BiSeNet id -> CelebAMask-HQ id.
BISENET_TO_CELEBA = np.zeros(NUM_CLASSES, dtype=np.uint8)
for _c in CLASSES:
    BISENET_TO_CELEBA[_c.bisenet_id] = _c.id

#: Classes that make up "the face" (used for face geometry and gender edits).
FACE_CLASSES = frozenset(
    CLASS_BY_KEY[k].id
    for k in ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth", "u_lip", "l_lip")
)

#: Classes that show the face's own skin: a style given to the skin carries to them unless they have one of their
#: own (a skin reference that left the nose, ears and neck in the photo's tone drew a seam around each).
SKIN_TONED = tuple(CLASS_BY_KEY[k].id for k in ("nose", "l_ear", "r_ear", "neck"))


def class_id(key_or_id: str | int) -> int:
    """Accept a class key ('hair'), a display name ('Upper lip') or an id, return the id."""
    if isinstance(key_or_id, (int, np.integer)):
        if 0 <= int(key_or_id) < NUM_CLASSES:
            return int(key_or_id)
        raise ValueError(f"class id {key_or_id} is outside 0..{NUM_CLASSES - 1}")
    text = str(key_or_id).strip()
    if text.isdigit():
        return class_id(int(text))
    low = text.lower()
    for c in CLASSES:
        if low in (c.key, c.name.lower(), c.name.lower().replace(" ", "_")):
            return c.id
    raise ValueError(f"unknown class {key_or_id!r}; known: {', '.join(f'{c.key} ({c.name})' for c in CLASSES)}")


def from_bisenet(labels: np.ndarray) -> np.ndarray:
    """Relabel a map in the face parser's class order to CelebAMask-HQ ids."""
    return BISENET_TO_CELEBA[np.asarray(labels)]


# ---------------------------------------------------------------------------------------------------------------
# Attributes of SMILE_SEM
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """A binary face attribute: two SEM domains, in the official label-vector order."""

    key: str
    name: str
    domains: tuple[str, str]  # SEM domain names, in 12-d label order
    values: tuple[str, str]  # user-facing value of each domain, same order
    regions: tuple[int, ...]  # classes where the attribute lives (for locality checks and styles)
    default: str  # value of a plain face without the accessory


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("gender", "Gender", ("Male", "Female"), ("male", "female"),
              tuple(sorted(FACE_CLASSES | {13})), "female"),
    Attribute("eyeglasses", "Eyeglasses", ("NOT_Eyeglasses", "Eyeglasses"), ("off", "on"),
              (CLASS_BY_KEY["eye_g"].id,), "off"),
    Attribute("bald", "Bald", ("Few_Hair", "Much_Hair"), ("on", "off"), (CLASS_BY_KEY["hair"].id,), "off"),
    Attribute("bangs", "Bangs", ("NOT_Bangs", "Bangs"), ("off", "on"), (CLASS_BY_KEY["hair"].id,), "off"),
    Attribute("earrings", "Earrings", ("NOT_Earrings", "Earrings"), ("off", "on"), (CLASS_BY_KEY["ear_r"].id,), "off"),
    Attribute("hat", "Hat", ("NOT_Hat", "Hat"), ("off", "on"), (CLASS_BY_KEY["hat"].id,), "off"),
)
ATTRIBUTE_BY_KEY: dict[str, Attribute] = {a.key: a for a in ATTRIBUTES}
#: The 12 SEM domains in label-vector order.
DOMAINS: tuple[str, ...] = tuple(d for a in ATTRIBUTES for d in a.domains)

_TRUE = {"on", "yes", "true", "1"}
_FALSE = {"off", "no", "false", "0"}


def normalise_value(attr_key: str, value: str | bool) -> str:
    """Map user input ('on', True, 'yes', 'Male') to the attribute's canonical value, or raise ValueError."""
    attr = ATTRIBUTE_BY_KEY.get(attr_key)
    if attr is None:
        raise ValueError(f"unknown attribute {attr_key!r}; known: {', '.join(ATTRIBUTE_BY_KEY)}")
    if isinstance(value, bool):
        value = "on" if value else "off"
    text = str(value).strip().lower()
    if text in attr.values:
        return text
    if attr.key == "gender":
        raise ValueError(f"gender must be one of {attr.values}, not {value!r}")
    if text in _TRUE:
        return "on"
    if text in _FALSE:
        return "off"
    raise ValueError(f"{attr_key} must be on or off, not {value!r}")


def default_attributes() -> dict[str, str]:
    return {a.key: a.default for a in ATTRIBUTES}


def validate_attributes(state: Mapping[str, str]) -> dict[str, str]:
    """A complete, canonical attribute state (all six keys), or ValueError naming what is wrong."""
    missing = [a.key for a in ATTRIBUTES if a.key not in state]
    extra = [k for k in state if k not in ATTRIBUTE_BY_KEY]
    if missing or extra:
        raise ValueError(f"attribute state needs exactly {list(ATTRIBUTE_BY_KEY)}; missing {missing}, unknown {extra}")
    return {a.key: normalise_value(a.key, state[a.key]) for a in ATTRIBUTES}


def label_vector(state: Mapping[str, str]) -> np.ndarray:
    """The 12-d two-hot SEM label of an attribute state (one 1 per attribute, official order)."""
    state = validate_attributes(state)
    vec = np.zeros(len(DOMAINS), dtype=np.float32)
    for i, attr in enumerate(ATTRIBUTES):
        vec[2 * i + attr.values.index(state[attr.key])] = 1.0
    return vec


def attributes_from_vector(vec: np.ndarray) -> dict[str, str]:
    """Inverse of :func:`label_vector`; a vector with both or neither bit of a pair set is an error.

    The official demo silently patches such rows (forcing 'Female'); we refuse instead so that a bad classifier
    output or a hand-made label never turns into a wrong edit.
    """
    v = np.asarray(vec).reshape(-1)
    if v.shape[0] != len(DOMAINS):
        raise ValueError(f"label vector must have {len(DOMAINS)} entries, got {v.shape[0]}")
    state = {}
    for i, attr in enumerate(ATTRIBUTES):
        pair = v[2 * i: 2 * i + 2] > 0.5
        if pair.sum() != 1:
            raise ValueError(
                f"label vector cannot be encoded: {attr.domains[0]}={int(pair[0])}, {attr.domains[1]}={int(pair[1])}"
                " (exactly one of each pair must be set)"
            )
        state[attr.key] = attr.values[int(pair[1])]
    return state
