"""``smile-studio edit``: attribute edits and per-region styles on one photo, map or project, rendered without a
window; the render, the edited map and the settings that reproduce it are written all or nothing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.imageio import encode_image
from ..core.labelio import encode_indexed_png
from ..export import checkpoint_hashes, edit_settings, enhance_record
from ..face.paste import map_at_photo_size
from .errors import CliError
from .recipe import (
    add_recipe_arguments,
    apply_recipe,
    at_photo_size,
    build_recipe,
    check_outputs,
    engines_for,
    enhancer,
    load_face,
    settle_options,
    write_all,
)


def add_edit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a photo (with its label map beside it or --map) or a label map PNG")
    p.add_argument("--map", help="label map of the input photo")
    add_recipe_arguments(p)
    p.add_argument("--out", required=True, help="the edited photo at its full size (the aligned render with --crop, "
                                                "or for a label map input); PNG, JPEG, WebP, BMP or TIFF")
    p.add_argument("--map-out", help="write the edited map as an indexed PNG (at the photo's size unless --crop)")
    p.add_argument("--json-out", help="write the settings that reproduce the result")


def run_edit(args: argparse.Namespace) -> int:
    settle_options(args)
    check_outputs(args.out, args.map_out)
    if args.map_out and Path(args.map_out).suffix.lower() != ".png":
        raise CliError(f"{args.map_out}: label maps are written as indexed PNG (use .png)")
    face = load_face(args.input, args.size, args.map, args.face)
    recipe = build_recipe(args, face if Path(args.input).suffix.lower() == ".smile" else None)
    layout, render, why = engines_for(args.engine, args.server, args.token_file)
    current, result, image = apply_recipe(recipe, face, layout, render, large=not args.crop)  # --crop: the map's side
    full = not args.crop and face.original is not None
    shown = at_photo_size(face, result.labels, image, recipe.styles, enhance=recipe.enhance) if full else image
    outputs = {Path(args.out): encode_image(args.out, shown)}
    if args.map_out:
        edited_map = map_at_photo_size(result.labels, face.alignment, face.original.shape) if full else result.labels
        outputs[Path(args.map_out)] = encode_indexed_png(edited_map)
    if args.json_out:
        engines = {"layout": layout.description, "render": render.description}
        local_weights = render.info.official_weights and not render.info.remote  # a server's files are its own
        edit = {"seed": args.seed, "psi": args.psi, "reference": recipe.reference.name if recipe.reference else None}
        settings = edit_settings(face.name, args.size, result.attributes, recipe.styles, recipe.references, engines,
                                 attributes_before=current, edit=edit,
                                 checkpoints=checkpoint_hashes() if local_weights else None,
                                 files=[Path(p).name for p in (args.out, args.map_out) if p], notes=result.notes,
                                 render_size=image.shape[0],
                                 enhance=enhance_record(enhancer(recipe.enhance) if recipe.enhance and full else None,
                                                        face.alignment, face.labels.shape[0], image.shape[0]))
        outputs[Path(args.json_out)] = json.dumps(settings, indent=2).encode()
    write_all(outputs)
    print(f"engine: {why}")
    changed = {k: v for k, v in result.attributes.items() if v != current[k]}
    print(f"edited {face.name}: {', '.join(f'{k}={v}' for k, v in changed.items()) or 'no attribute change'}"
          f" -> {args.out}")
    for note in result.notes:
        print(f"note: {note}")
    return 0
