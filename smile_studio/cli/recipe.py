"""What ``edit`` and ``batch`` share: the recipe (attribute targets, seed, psi, reference, per-region styles) parsed
and validated once, its application to one face, and all-or-nothing writing of the outputs.

Inputs are read and validated completely before anything is written, and every expected failure is a
:class:`~smile_studio.cli.errors.CliError` (one line, exit code 2).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.document import Document, Reference, StyleSource, check_seed
from ..core.imageio import atomic_write_files, output_format
from ..core.labels import NUM_CLASSES, class_id, normalise_value
from ..core.recipe_file import RecipeError, parse_recipe
from ..engines.base import EngineError, LayoutRequest, RenderRequest, for_the_photo
from ..engines.registry import ENGINES, select_engines
from ..opening import open_document
from ..resources import sample_exemplar
from ..weights.registry import ENHANCE_KEYS
from .errors import CliError


def load_face(path: str, size: int, map_path: str | None = None, face: int = 1) -> Document:
    """The input as a document (``face``: which face of a photo with several, 1 = the largest); any problem with
    it becomes a one-line CLI error."""
    if face < 1:
        raise CliError(f"--face must be 1 or more (1 = the largest face), not {face}")
    try:
        doc = open_document(path, size, map_path, face_index=face - 1)
        for note in doc.notes:
            print(f"note: {note}")
        return doc
    except (ValueError, OSError) as exc:
        hint = "; or pass its label map with --map" if "no face" in str(exc) else ""
        raise CliError(f"{exc}{hint}") from exc


def parse_assignments(text: str | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"{what}: expected key=value, got {item!r}")
        out[key.strip().lower()] = value.strip()
    return out


# the options a recipe file may also set, with their built-in defaults (an option left out on the command line
# takes the recipe's value, else this)
RECIPE_DEFAULTS = {"set": "", "attributes": "", "seed": 0, "psi": 1.0, "reference": None, "style": "",
                   "engine": "auto", "size": 256, "crop": False, "enhance": None}
PRECEDENCE = "options given here override the recipe file's values, which override the defaults"


def add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", default=None, help="attribute targets, e.g. eyeglasses=on,hat=off,gender=male")
    p.add_argument("--attributes", default=None, help="the input's current attributes (default: read from the map)")
    p.add_argument("--seed", type=int, default=None, help="seed of the latent (random) edit (default 0)")
    p.add_argument("--psi", type=float, default=None,
                   help="truncation: 0 = mean shape/style, 1 = full variation (default 1)")
    p.add_argument("--reference", help="reference photo or map: edited attributes copy its shapes")
    p.add_argument("--style", default=None, help="per-region styles, e.g. hair=ref:REF.jpg,skin=seed:7,cloth=source")
    p.add_argument("--engine", choices=tuple(ENGINES), default=None,
                   help="; ".join(f"{k}: {v}" for k, v in ENGINES.items()) + " (default auto)")
    p.add_argument("--server", metavar="URL", help="edit and render on `smile-studio serve` at URL (http://HOST:PORT) "
                                                   "instead of this machine's engines")
    p.add_argument("--token-file", help="the server's token (default: $SMILE_STUDIO_TOKEN)")
    p.add_argument("--size", type=int, choices=(256, 512), default=None, help="working size (default 256)")
    p.add_argument("--face", type=int, default=1, metavar="N",
                   help="which face of a photo with several: 1 = the largest (default), 2 = the next, ...")
    p.add_argument("--crop", action=argparse.BooleanOptionalAction, default=None,
                   help="write the aligned render (256 or 512 square) instead of the edit put back into the photo "
                        "(--no-crop overrides a recipe's crop)")
    p.add_argument("--enhance", choices=ENHANCE_KEYS, default=None, metavar="KEY",
                   help="upsample the render with a Real-ESRGAN network before it goes back into a photo whose "
                        f"face is larger than the render ({', '.join(ENHANCE_KEYS)}; `smile-studio weights fetch "
                        "--enhance` installs the first)")


def settle_options(args: argparse.Namespace, recipe_path: str | None = None) -> None:
    """Fill the recipe options the command line left out: from the recipe file when one is given, else the
    defaults (:data:`PRECEDENCE`)."""
    from_file = read_recipe_file(recipe_path) if recipe_path else {}
    for key, default in RECIPE_DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, from_file.get(key, default))
    if args.engine not in ENGINES:
        raise CliError(f"{recipe_path}: the recipe's engine {args.engine!r} is not one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class Recipe:
    """One edit, parsed and validated once, applicable to any number of faces."""

    target: dict
    overrides: dict  # corrections to the attributes read from each input
    seed: int
    psi: float
    reference: Reference | None
    styles: tuple
    references: tuple
    enhance: str | None = None  # the Enhance network's key


def build_recipe(args: argparse.Namespace, base: Document | None = None) -> Recipe:
    """The edit the arguments describe; ``base``: a project whose per-region styles and references are the
    starting point (``--style`` overrides them region by region)."""
    try:
        overrides = {k: normalise_value(k, v) for k, v in parse_assignments(args.attributes, "--attributes").items()}
        target = {k: normalise_value(k, v) for k, v in parse_assignments(args.set, "--set").items()}
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if not 0.0 <= args.psi <= 2.0:
        raise CliError("--psi must be between 0 and 2")
    try:
        check_seed(args.seed, "--seed")
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    references: dict[str, Reference] = {}

    def reference_for(path: str) -> Reference:
        if path not in references:
            ref_doc = load_face(path, args.size)
            rgb = ref_doc.photo if ref_doc.photo is not None else np.zeros((args.size, args.size, 3), np.uint8)
            references[path] = Reference(f"ref{len(references) + 1}", Path(path).name, rgb, ref_doc.labels.copy(),
                                         dict(ref_doc.attributes))
        return references[path]

    ref = reference_for(args.reference) if args.reference else None
    styles = list(base.styles) if base is not None else [StyleSource()] * NUM_CLASSES
    for r in base.references if base is not None else ():
        references[f"project:{r.id}"] = r  # a project's own references keep their ids
    try:
        for key, value in parse_assignments(args.style, "--style").items():
            cid = class_id(key)
            kind, _, arg = value.partition(":")
            styles[cid] = (StyleSource("reference", ref=reference_for(arg).id) if kind in ("ref", "reference")
                           else StyleSource.parse(value))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.enhance is not None:
        enhancer(args.enhance)  # a known network, installed and loadable, before any face is edited
    return Recipe(target, overrides, args.seed, args.psi, ref, tuple(styles), tuple(references.values()),
                  args.enhance)


def enhancer(key: str):
    """The Enhance network ``key``, loaded once per process; CliError saying how to install it otherwise."""
    from ..engines.enhance import shared_enhancer

    try:
        return shared_enhancer(key)
    except EngineError as exc:
        raise CliError(str(exc)) from exc


def edit_layout(recipe: Recipe, face: Document, layout, render=None):
    """(attributes before, layout result, the render request of the result) of one face; with the ``render``
    engine, the request is at its large side (SMILE_SYN 512 when installed) for a face large enough."""
    current = dict(face.attributes, **recipe.overrides)
    ref = recipe.reference
    try:
        result = layout.edit(LayoutRequest(
            face.labels, current, recipe.target, seed=recipe.seed, psi=recipe.psi,
            reference_labels=ref.labels if ref else None, reference_attributes=ref.attributes if ref else None,
            photo=face.photo))
    except EngineError as exc:
        raise CliError(f"{face.name}: {exc}") from exc
    request = RenderRequest(result.labels, face.photo, face.labels, recipe.styles, recipe.references, exact=True)
    if render is not None:
        request = for_the_photo(request, render, face.original, face.alignment)
    return current, result, request


def apply_recipe(recipe: Recipe, face: Document, layout, render, large: bool = True):
    """(attributes before, layout result, rendered image) of one face; ``large``: at the render engine's large
    side for a face large enough (video frames stay at the map's side: four times faster)."""
    current, result, request = edit_layout(recipe, face, layout, render if large else None)
    try:
        image = render.render(request)
    except EngineError as exc:
        raise CliError(f"{face.name}: {exc}") from exc
    return current, result, image


def at_photo_size(face: Document, labels: np.ndarray, image: np.ndarray, styles, texture: bool = True,
                  enhance: str | None = None) -> np.ndarray:
    """The edit put back into the original photo at its full size and detail (only the changed regions; the
    rest of the photo byte-identical), or the aligned render when the input has no photo (a label map).
    ``texture=False`` for video frames (see :func:`..face.composite.paste_edit`); ``enhance``: the key of the
    network that upsamples the render first (:func:`enhancer`)."""
    from ..export import restyled_classes
    from ..face.composite import paste_edit

    if face.original is None or face.alignment is None:
        return image
    return paste_edit(face.original, image, face.alignment, face.source_labels, labels, restyled_classes(styles),
                      texture=texture, enhance=enhancer(enhance) if enhance else None)


def read_recipe_file(path: str) -> dict:
    """A recipe JSON (what File > Save recipe writes; ``{"set": {"eyeglasses": "on"}, "seed": 1}`` is enough),
    checked against its schema (:mod:`smile_studio.core.recipe_file`), as the command-line options it sets."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such recipe") from None
    except OSError as exc:
        raise CliError(f"{path}: not a recipe ({exc.strerror or exc})") from exc
    try:
        recipe = parse_recipe(raw, path)
    except RecipeError as exc:
        raise CliError(str(exc)) from None
    out = {}
    for key, option in (("set", "set"), ("attributes", "attributes"), ("styles", "style")):
        value = getattr(recipe, key)
        if value:
            out[option] = ",".join(f"{k}={v}" for k, v in value.items())
    for key in ("seed", "psi", "reference", "engine", "size", "crop", "enhance"):
        if getattr(recipe, key) is not None:
            out[key] = getattr(recipe, key)
    return out


def engines_for(choice: str | None, server: str | None = None, token_file: str | None = None):
    """(layout, render, why): this machine's engines (``choice``), or those of the server at ``server``."""
    try:
        if server is None:
            return select_engines(choice or "auto", interactive=False, exemplar=sample_exemplar())
        if choice not in (None, "auto"):
            raise CliError("--engine chooses this machine's engines; with --server the server's run")
        from ..engines.remote import TokenRefused, remote_engines

        try:
            return remote_engines(server, server_token_of(token_file))
        except TokenRefused as exc:
            raise CliError(f"{exc} (give it with --token-file F or SMILE_STUDIO_TOKEN)") from exc
    except EngineError as exc:
        raise CliError(str(exc)) from exc


def server_token_of(token_file: str | None) -> str | None:
    """The token for a server: the first line of ``token_file``, else ``$SMILE_STUDIO_TOKEN``, else none."""
    if token_file is None:
        return os.environ.get("SMILE_STUDIO_TOKEN") or None
    try:
        lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        token = lines[0].strip() if lines else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{token_file}: the token file cannot be read ({exc})") from exc
    if not token:
        raise CliError(f"{token_file}: the token file is empty")
    return token


def make_folder(folder: Path) -> None:
    """Create an output folder (and its parents) the way `mkdir -p` would; a one-line error when it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from exc
    if not folder.is_dir():
        raise CliError(f"{folder}: not a folder")


def write_all(outputs: dict) -> None:
    """Write every output or none (see atomic_write_files)."""
    for path in outputs:
        make_folder(path.parent)
    try:
        atomic_write_files(outputs)
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or ', '.join(map(str, outputs))}: {exc.strerror or exc}") \
            from exc


def check_outputs(*paths: str | None) -> None:
    """Refuse an output whose extension is no image format, before any work is done."""
    for p in paths:
        if p:
            try:
                output_format(p)
            except ValueError as exc:
                raise CliError(str(exc)) from exc
