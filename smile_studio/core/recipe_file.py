"""The recipe file: one edit to repeat on other faces (File > Save recipe writes it; ``batch RECIPE IN OUT`` and
``video --recipe`` read it), as a declared, versioned schema. Values are checked by type (``"crop": "false"`` is
refused, not taken as true) and a refusal names the field. The command line's precedence: an option given
explicitly overrides the recipe's value, which overrides the built-in default."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from .manifest import first_problem, newer_than

RECIPE_FORMAT = "smile-studio-recipe"
RECIPE_VERSION = 1
MAX_RECIPE_BYTES = 1 << 20


class RecipeError(ValueError):
    """A recipe that cannot be used; str(error) names the file and the field."""


class RecipeFile(BaseModel):
    """What a recipe may hold; every field but ``format`` and ``version`` is optional (absent: the option's
    default, or the value given on the command line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["smile-studio-recipe"] = RECIPE_FORMAT
    version: StrictInt = Field(RECIPE_VERSION, ge=1)
    set: dict[StrictStr, StrictStr] = Field(default_factory=dict, max_length=64)  # attribute targets
    attributes: dict[StrictStr, StrictStr] = Field(default_factory=dict, max_length=64)  # corrections to the input's
    seed: StrictInt | None = Field(None, ge=0, lt=2**63)
    psi: float | None = Field(None, ge=0.0, le=2.0, strict=True)
    reference: StrictStr | None = None
    styles: dict[StrictStr, StrictStr] = Field(default_factory=dict, max_length=64)  # region -> style source
    engine: StrictStr | None = None
    size: Literal[256, 512] | None = None
    crop: StrictBool | None = None
    enhance: StrictStr | None = None  # an Enhance network's key (the weights manager's ENHANCE_KEYS)


def parse_recipe(raw: bytes, name: str) -> RecipeFile:
    """A recipe from its bytes; RecipeError naming ``name`` and the first wrong field otherwise."""
    if len(raw) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{name}: {len(raw)} bytes is larger than any recipe")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise RecipeError(f"{name}: not a recipe (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format", RECIPE_FORMAT) != RECIPE_FORMAT:
        raise RecipeError(f"{name}: not a SMILE Studio recipe")
    version = data.get("version", RECIPE_VERSION)
    if newer_than(version, RECIPE_VERSION):
        raise RecipeError(f"{name}: written by a newer SMILE Studio (recipe version {version})")
    unknown = sorted(set(data) - set(RecipeFile.model_fields))
    if unknown:
        raise RecipeError(f"{name}: unknown recipe keys {unknown}")
    try:
        return RecipeFile.model_validate(data)
    except ValidationError as exc:
        where, what, given = first_problem(exc, "recipe")
        raise RecipeError(f"{name}: the recipe's {where} is wrong: {what} (got {json.dumps(given)[:60]})") from None
