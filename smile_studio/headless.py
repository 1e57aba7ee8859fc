"""``smile-studio edit``: attribute edits and per-region styles on a photo or map, rendered without a window.

Inputs are read and validated completely before anything is written, outputs are written atomically, and every
expected failure is a :class:`~smile_studio.cli.CliError` (one line, exit code 2).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .core.document import Document, Reference, StyleSource, check_seed
from .core.imageio import atomic_write_bytes, atomic_write_files, encode_image, encode_png, output_format
from .core.labelio import encode_indexed_png
from .core.labels import CLASSES, NUM_CLASSES, class_id, normalise_value
from .engines.base import EngineError, LayoutRequest, RenderRequest
from .engines.registry import select_engines
from .opening import open_document


def _cli_error(msg: str) -> Exception:
    from .cli import CliError

    return CliError(msg)


def load_face(path: str, size: int, map_path: str | None = None) -> Document:
    """The input as a document; any problem with it becomes a one-line CLI error."""
    try:
        doc = open_document(path, size, map_path)
        for note in doc.notes:
            print(f"note: {note}")
        return doc
    except (ValueError, OSError) as exc:
        hint = "; or pass its label map with --map" if "no face" in str(exc) else ""
        raise _cli_error(f"{exc}{hint}") from exc


def parse_assignments(text: str | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise _cli_error(f"{what}: expected key=value, got {item!r}")
        out[key.strip().lower()] = value.strip()
    return out


def add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", default="", help="attribute targets, e.g. eyeglasses=on,hat=off,gender=male")
    p.add_argument("--attributes", default="", help="the input's current attributes (default: read from the map)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent (random) edit")
    p.add_argument("--psi", type=float, default=1.0, help="truncation: 0 = mean shape/style, 1 = full variation")
    p.add_argument("--reference", help="reference photo or map: edited attributes copy its shapes")
    p.add_argument("--style", default="", help="per-region styles, e.g. hair=ref:REF.jpg,skin=seed:7,cloth=source")
    p.add_argument("--engine", choices=("auto", "offline", "smile"), default="auto")
    p.add_argument("--size", type=int, choices=(256, 512), default=256)


def add_edit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a photo (with its label map beside it or --map) or a label map PNG")
    p.add_argument("--map", help="label map of the input photo")
    add_recipe_arguments(p)
    p.add_argument("--out", required=True, help="rendered image (PNG or JPEG)")
    p.add_argument("--map-out", help="write the edited map as an indexed PNG")
    p.add_argument("--json-out", help="write the settings that reproduce the result")


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a folder of photos and/or label maps (a photo's x.png map beside x.jpg is used)")
    add_recipe_arguments(p)
    p.add_argument("--out-dir", required=True,
                   help="folder for NAME.png renders and NAME_map.png maps (created when missing)")
    p.add_argument("--overwrite", action="store_true", help="redo outputs an earlier run with this recipe finished")


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


def build_recipe(args: argparse.Namespace, base: Document | None = None) -> Recipe:
    """The edit the arguments describe; ``base``: a project whose per-region styles and references are the
    starting point (``--style`` overrides them region by region)."""
    try:
        overrides = {k: normalise_value(k, v) for k, v in parse_assignments(args.attributes, "--attributes").items()}
        target = {k: normalise_value(k, v) for k, v in parse_assignments(args.set, "--set").items()}
    except ValueError as exc:
        raise _cli_error(str(exc)) from exc
    if not 0.0 <= args.psi <= 2.0:
        raise _cli_error("--psi must be between 0 and 2")
    try:
        check_seed(args.seed, "--seed")
    except ValueError as exc:
        raise _cli_error(str(exc)) from exc
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
        raise _cli_error(str(exc)) from exc
    return Recipe(target, overrides, args.seed, args.psi, ref, tuple(styles), tuple(references.values()))


def apply_recipe(recipe: Recipe, face: Document, layout, render):
    """(attributes before, layout result, rendered image) of one face."""
    current = dict(face.attributes, **recipe.overrides)
    ref = recipe.reference
    try:
        result = layout.edit(LayoutRequest(
            face.labels, current, recipe.target, seed=recipe.seed, psi=recipe.psi,
            reference_labels=ref.labels if ref else None, reference_attributes=ref.attributes if ref else None,
            photo=face.photo))
        image = render.render(RenderRequest(result.labels, face.photo, face.labels, recipe.styles,
                                            recipe.references, exact=True))
    except EngineError as exc:
        raise _cli_error(f"{face.name}: {exc}") from exc
    return current, result, image


def _engines(choice: str):
    try:
        return select_engines(choice, interactive=False)
    except EngineError as exc:
        raise _cli_error(str(exc)) from exc


def _make_folder(folder: Path) -> None:
    """Create an output folder (and its parents) the way `mkdir -p` would; a one-line error when it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cli_error(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from exc
    if not folder.is_dir():
        raise _cli_error(f"{folder}: not a folder")


def _write_all(outputs: dict) -> None:
    """Write every output or none (see atomic_write_files)."""
    for path in outputs:
        _make_folder(path.parent)
    try:
        atomic_write_files(outputs)
    except OSError as exc:
        raise _cli_error(f"cannot write {exc.filename or ', '.join(map(str, outputs))}: {exc.strerror or exc}") \
            from exc


def _check_outputs(*paths: str | None) -> None:
    """Refuse an output whose extension is no image format, before any work is done."""
    for p in paths:
        if p:
            try:
                output_format(p)
            except ValueError as exc:
                raise _cli_error(str(exc)) from exc


def run_edit(args: argparse.Namespace) -> int:
    _check_outputs(args.out, args.map_out)
    if args.map_out and Path(args.map_out).suffix.lower() != ".png":
        raise _cli_error(f"{args.map_out}: label maps are written as indexed PNG (use .png)")
    face = load_face(args.input, args.size, args.map)
    recipe = build_recipe(args, face if Path(args.input).suffix.lower() == ".smile" else None)
    layout, render, why = _engines(args.engine)
    current, result, image = apply_recipe(recipe, face, layout, render)
    outputs = {Path(args.out): encode_image(args.out, image)}
    if args.map_out:
        outputs[Path(args.map_out)] = encode_indexed_png(result.labels)
    if args.json_out:
        outputs[Path(args.json_out)] = json.dumps({
            "app": f"SMILE Studio {__version__}", "input": face.name, "layout_engine": layout.description,
            "render_engine": render.description, "attributes_before": current, "attributes_after": result.attributes,
            "seed": args.seed, "psi": args.psi, "reference": recipe.reference.name if recipe.reference else None,
            "styles": {CLASSES[i].key: s.to_json() for i, s in enumerate(recipe.styles) if s.kind != "source"},
            "references": {r.id: r.name for r in recipe.references},
            "notes": list(result.notes),
        }, indent=2).encode()
    _write_all(outputs)
    print(f"engine: {why}")
    changed = {k: v for k, v in result.attributes.items() if v != current[k]}
    print(f"edited {face.name}: {', '.join(f'{k}={v}' for k, v in changed.items()) or 'no attribute change'}"
          f" -> {args.out}")
    for note in result.notes:
        print(f"note: {note}")
    return 0


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def batch_inputs(folder: Path) -> list[Path]:
    """Photos and maps of a folder, without the maps that belong to a photo beside them."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    stems = {p.stem for p in files if p.suffix.lower() != ".png"}
    return [p for p in files if not (p.suffix.lower() == ".png" and (p.stem in stems or (
        p.stem.endswith("_map") and p.stem[:-4] in {q.stem for q in files if q != p})))]


def output_stems(inputs: list[Path]) -> dict[Path, str]:
    """The output name of each input: its stem, or stem_ext where two inputs share a stem (face.jpg, face.webp)
    so that neither output overwrites the other."""
    counts: dict[str, int] = {}
    for p in inputs:
        counts[p.stem] = counts.get(p.stem, 0) + 1
    return {p: p.stem if counts[p.stem] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in inputs}


BATCH_MANIFEST = ".smile-batch.json"  # output name -> what produced it, so that a rerun skips finished work


def _recipe_key(args: argparse.Namespace, path: Path, engines: str) -> str:
    st = path.stat()
    what = {k: getattr(args, k, None) for k in ("set", "attributes", "seed", "psi", "reference", "style", "size")}
    what.update(input=str(path.resolve()), bytes=st.st_size, mtime=st.st_mtime_ns, engines=engines)
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _read_manifest(out: Path) -> dict:
    try:
        data = json.loads((out / BATCH_MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_batch(args: argparse.Namespace) -> int:
    """The same recipe on every face of a folder; a bad file is reported and skipped, never fatal. Outputs that a
    previous run with the same recipe finished are skipped (``--overwrite`` redoes them)."""
    folder, out = Path(args.input), Path(args.out_dir)
    if not folder.is_dir():
        raise _cli_error(f"{folder}: not a folder")
    if out.exists() and out.resolve() == folder.resolve():
        raise _cli_error(f"{out}: the output folder is the input folder; renders named NAME.png would overwrite "
                         "the label maps beside the photos: choose another --out-dir")
    recipe = build_recipe(args)
    layout, render, why = _engines(args.engine)
    _make_folder(out)
    print(f"engine: {why}")
    inputs = batch_inputs(folder)
    names = output_stems(inputs)
    manifest = _read_manifest(out)
    engines = f"{layout.description} | {render.description}"
    failed = skipped = 0
    for path in inputs:
        render_path, map_path = out / f"{names[path]}.png", out / f"{names[path]}_map.png"
        try:
            key = _recipe_key(args, path, engines)
            if (not args.overwrite and manifest.get(render_path.name) == key and render_path.is_file()
                    and map_path.is_file()):
                skipped += 1
                print(f"skip  {path.name} (done by an earlier run: {render_path.name})")
                continue
            face = load_face(str(path), args.size)
            _, result, image = apply_recipe(recipe, face, layout, render)
            _write_all({render_path: encode_png(image), map_path: encode_indexed_png(result.labels)})
            manifest[render_path.name] = key
            atomic_write_bytes(out / BATCH_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
            print(f"ok    {path.name} -> {render_path.name}"
                  + (f"  ({'; '.join(result.notes)})" if result.notes else ""))
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            failed += 1
            print(f"FAIL  {path.name}: {exc}")
    done = len(inputs) - failed - skipped
    print(f"batch: {done} of {len(inputs)} faces edited, {skipped} already done, {failed} failed -> {out}")
    return 0 if failed == 0 else 1



