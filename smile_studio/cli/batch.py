"""``smile-studio batch``: one recipe applied to every face of a folder. A bad file is reported and skipped, never
fatal; outputs never overwrite inputs or each other; a rerun skips what an earlier run of the same recipe finished."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from ..core.imageio import IMAGE_SUFFIXES, atomic_write_bytes, encode_png
from ..core.labelio import encode_indexed_png
from .errors import CliError
from .recipe import (
    PRECEDENCE,
    add_recipe_arguments,
    at_photo_size,
    build_recipe,
    edit_layout,
    engines_for,
    load_face,
    make_folder,
    write_all,
)

EXIT_PARTIAL = 3  # some faces failed (each is reported); the others were written


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="RECIPE.json IN_DIR OUT_DIR, or IN_DIR with the recipe as options and --out-dir (a folder of "
                        "photos and/or label maps; a photo's x.png map beside x.jpg is used); " + PRECEDENCE)
    add_recipe_arguments(p)
    p.add_argument("--out-dir", help="folder for NAME.png renders and NAME_map.png maps (created when missing)")
    p.add_argument("--overwrite", action="store_true", help="redo outputs an earlier run with this recipe finished")
    p.add_argument("--workers", type=int, default=1, metavar="K",
                   help="edit K faces at once in separate processes (each loads the engines once)")
    p.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help="render B faces in one pass (default: 8 with the SMILE engines on a GPU, else 1)")
    p.add_argument("--shard", default="1/1", metavar="I/N",
                   help="process only the I-th of N equal shares of the folder (for job arrays and many machines)")


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """(input folder, output folder), reading a recipe file into ``args`` when one is given."""
    from .recipe import settle_options

    if len(args.paths) == 3 and args.paths[0].lower().endswith(".json"):
        settle_options(args, args.paths[0])
        return Path(args.paths[1]), Path(args.paths[2])
    if len(args.paths) == 1 and args.out_dir:
        settle_options(args)
        return Path(args.paths[0]), Path(args.out_dir)
    raise CliError("batch takes RECIPE.json IN_DIR OUT_DIR, or IN_DIR with --out-dir OUT_DIR")


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise CliError(f"--shard must be I/N, e.g. 2/4, not {text!r}") from None
    if not 1 <= i <= n:
        raise CliError(f"--shard {text}: I must be between 1 and N")
    return i, n


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
MANIFEST_LOCK_TIMEOUT = 120.0  # seconds: other shards hold the lock only to merge one entry


def _recipe_key(args: argparse.Namespace, path: Path, engines: str) -> str:
    st = path.stat()
    what = {k: getattr(args, k, None) for k in ("set", "attributes", "seed", "psi", "reference", "style", "size",
                                                "crop", "face", "enhance")}
    what.update(input=str(path.resolve()), bytes=st.st_size, mtime=st.st_mtime_ns, engines=engines)
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _read_manifest(out: Path) -> dict:
    try:
        data = json.loads((out / BATCH_MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record_done(out: Path, name: str, key: str) -> None:
    """Add one finished output to the folder's batch record. Shards running at the same time into one folder
    share the record: each takes its lock, re-reads it and merges its entry, so no shard's entries are lost."""
    from filelock import FileLock, Timeout

    try:
        with FileLock(out / f"{BATCH_MANIFEST}.lock", timeout=MANIFEST_LOCK_TIMEOUT):
            manifest = _read_manifest(out)
            manifest[name] = key
            atomic_write_bytes(out / BATCH_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    except Timeout:
        raise CliError(f"{out}: another batch has held {BATCH_MANIFEST} for {MANIFEST_LOCK_TIMEOUT:.0f} s") from None


_WORKER: dict = {}  # in a --workers process: the recipe and engines it built once


def _init_worker(args: argparse.Namespace) -> None:
    _WORKER["recipe"] = build_recipe(args)
    _WORKER["engines"] = engines_for(args.engine, args.server, args.token_file)[:2]
    _WORKER["args"] = args


def _edit_group(group: list, recipe, engines, args) -> list:
    """Faces ``(path, render_path, map_path, key)`` edited one by one and rendered in one pass; each face's
    outcome (its notes, or the exception that stopped it). A failed batched render is retried face by face, so
    one bad face never costs the others."""
    from ..engines.base import render_batch

    layout, render = engines
    prepared, outcomes = [], {}
    for item in group:
        try:
            face = load_face(str(item[0]), args.size, face=args.face)
            prepared.append((item, face, *edit_layout(recipe, face, layout)[1:]))
        except Exception as exc:  # noqa: BLE001 - reported, the batch goes on
            outcomes[item[0]] = exc
    requests = [p[3] for p in prepared]
    try:
        images = render_batch(render, requests)
    except Exception as exc:  # noqa: BLE001 - a batch of one failed on its own; a larger one: find the face
        images = [exc] if len(requests) == 1 else [_render_or_error(render, r) for r in requests]
    for (item, face, result, _), image in zip(prepared, images, strict=True):
        try:
            if isinstance(image, Exception):
                raise CliError(f"{face.name}: {image}")
            if not args.crop:
                image = at_photo_size(face, result.labels, image, recipe.styles, enhance=recipe.enhance)
            write_all({item[1]: encode_png(image), item[2]: encode_indexed_png(result.labels)})
            outcomes[item[0]] = list(result.notes)
        except Exception as exc:  # noqa: BLE001
            outcomes[item[0]] = exc
    return [outcomes[item[0]] for item in group]


def _render_or_error(render, request):
    try:
        return render.render(request)
    except Exception as exc:  # noqa: BLE001 - the caller reports it for this face
        return exc


def _batch_size(args: argparse.Namespace, render) -> int:
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise CliError("--batch-size must be at least 1")
        return args.batch_size
    return 8 if render.info.on_gpu else 1


def _edit_one(path: Path, render_path: Path, map_path: Path) -> list[str]:
    """In a ``--workers`` process: one face with the recipe and engines the process built at start; its notes
    (a failure is raised back to the parent, which reports it)."""
    outcome = _edit_group([(path, render_path, map_path, None)], _WORKER["recipe"], _WORKER["engines"],
                          _WORKER["args"])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def run_batch(args: argparse.Namespace) -> int:
    """The same recipe on every face of a folder; a bad file is reported and skipped, never fatal. Outputs that a
    previous run with the same recipe finished are skipped (``--overwrite`` redoes them)."""
    folder, out = _paths(args)
    shard, shards = _shard(args.shard)
    if not folder.is_dir():
        raise CliError(f"{folder}: not a folder")
    if out.exists() and out.resolve() == folder.resolve():
        raise CliError(f"{out}: the output folder is the input folder; renders named NAME.png would overwrite "
                         "the label maps beside the photos: choose another --out-dir")
    recipe = build_recipe(args)
    layout, render, why = engines_for(args.engine, args.server, args.token_file)
    size = _batch_size(args, render)
    make_folder(out)
    print(f"engine: {why}")
    everything = batch_inputs(folder)
    names = output_stems(everything)  # over the whole folder: every shard names its outputs the same way
    inputs = everything[shard - 1::shards]
    manifest = _read_manifest(out)
    engines = f"{layout.description} | {render.description}"
    failed = skipped = 0
    todo = []
    for path in inputs:
        render_path, map_path = out / f"{names[path]}.png", out / f"{names[path]}_map.png"
        try:
            key = _recipe_key(args, path, engines)
        except OSError as exc:  # the file went away since the folder was listed
            failed += 1
            print(f"FAIL  {path.name}: {exc.strerror or exc}")
            continue
        if (not args.overwrite and manifest.get(render_path.name) == key and render_path.is_file()
                and map_path.is_file()):
            skipped += 1
            print(f"skip  {path.name} (done by an earlier run: {render_path.name})")
        else:
            todo.append((path, render_path, map_path, key))

    def finished(path, render_path, key, outcome) -> None:
        nonlocal failed
        if isinstance(outcome, Exception):  # one bad file must not stop the batch
            failed += 1
            print(f"FAIL  {path.name}: {outcome}")
            return
        _record_done(out, render_path.name, key)
        print(f"ok    {path.name} -> {render_path.name}" + (f"  ({'; '.join(outcome)})" if outcome else ""))

    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="batch", unit="face", file=sys.stderr, disable=not sys.stderr.isatty())
    if args.workers > 1 and len(todo) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(args.workers, len(todo)), initializer=_init_worker, initargs=(args,)) as pool:
            futures = [(pool.submit(_edit_one, p, r, m), p, r, k) for p, r, m, k in todo]
            for future, path, render_path, key in futures:
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 - reported, the batch goes on
                    outcome = exc
                finished(path, render_path, key, outcome)
                bar.update()
    else:
        for first in range(0, len(todo), size):
            group = todo[first:first + size]
            for (path, render_path, _, key), outcome in zip(group, _edit_group(group, recipe, (layout, render), args),
                                                            strict=True):
                finished(path, render_path, key, outcome)
                bar.update()
    bar.close()
    done = len(inputs) - failed - skipped
    print(f"batch: {done} of {len(inputs)} faces edited, {skipped} already done, {failed} failed -> {out}")
    return 0 if failed == 0 else EXIT_PARTIAL
