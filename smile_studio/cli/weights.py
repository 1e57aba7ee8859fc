"""``smile-studio weights status | fetch | import PATH | verify | where``: from a fresh install to the SMILE
networks in one command, and a clear account of what is installed."""

from __future__ import annotations

import argparse
import threading

from .errors import CliError


def add_weights_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="weights_command", required=True)
    sub.add_parser("status", help="a table of the files: found, verified, what each enables (exit 0 only when "
                                  "the SMILE engines can run)")
    f = sub.add_parser("fetch", help="download the official SMILE archive (and face-alignment's files) and install "
                                     "what it holds")
    f.add_argument("--source", action="append", metavar="URL",
                   help="fetch the archive from this URL instead of the published sources (repeatable: tried in "
                        "order)")
    f.add_argument("--face-alignment-from", metavar="URL", help="a folder URL holding face-alignment's files")
    f.add_argument("--no-face-alignment", action="store_true", help="only the official SMILE archive")
    f.add_argument("--evaluation", action="store_true",
                   help="only the evaluation networks published on their own (FID's Inception, LPIPS's AlexNet)")
    f.add_argument("--evaluation-from", metavar="URL", help="a folder URL holding those files")
    f.add_argument("--enhance", nargs="*", metavar="KEY", default=None,
                   help="only the Enhance networks (Real-ESRGAN, BSD-3-Clause): no KEY = enhance_general (5 MB, "
                        "fast); keys: enhance_general, enhance_x4plus (64 MB), enhance_x2plus (64 MB), all")
    f.add_argument("--enhance-from", metavar="URL", help="a folder URL holding those files (a mirror: the files "
                                                         "must be the published ones, by sha256)")
    i = sub.add_parser("import", help="install the weights in an archive (zip, tar) or folder you already have; "
                                      "files are recognised by content")
    i.add_argument("path")
    sub.add_parser("verify", help="check every file's structure and record its sha256 (reports later changes)")
    sub.add_parser("where", help="the folders searched, in order, and where new files go")


def run_weights(args: argparse.Namespace) -> int:
    return {"status": _status, "fetch": _fetch, "import": _import, "verify": _verify, "where": _where}[
        args.weights_command](args)


def _table(states) -> list[str]:
    """The status rows: file names whole (a user renames files to them), the "enables" column as wide as the
    terminal allows (whole when the output is not a terminal)."""
    import shutil
    import sys

    from ..weights import CHECKPOINT_BY_KEY, display_path

    checkpoints = [CHECKPOINT_BY_KEY[st.key] for st in states]
    wheres = [display_path(st.path) if st.path else "-" for st in states]
    name_w = max(len("file"), *(len(c.filename) for c in checkpoints))
    enables_w = max(len(c.enables) for c in checkpoints)
    if sys.stdout.isatty():
        room = shutil.get_terminal_size().columns - name_w - 11 - 3 - max(len(w) for w in wheres) - 1
        enables_w = max(24, min(enables_w, room))

    def cut(text: str) -> str:
        return text if len(text) <= enables_w else text[:enables_w - 1] + "…"

    rows = [f"{'file':<{name_w}} {'state':<11} {'enables':<{enables_w}} where"]
    for st, c, where in zip(states, checkpoints, wheres, strict=True):
        rows.append(f"{c.filename:<{name_w}} {st.state:<11} {cut(c.enables):<{enables_w}} {where}")
        if st.state in ("unusable", "changed"):
            rows.append(f"    {st.detail}")
    return rows


def _status(args: argparse.Namespace) -> int:
    from ..weights import CHECKPOINTS, smile_ready, state_of
    from ..weights.verify import read_lock

    lock = read_lock()
    states = [state_of(c, lock) for c in CHECKPOINTS]
    print("\n".join(_table(states)))
    ready = smile_ready(states)
    print("SMILE engines: ready" if ready else
          "SMILE engines: not ready (the offline engines run); `smile-studio weights fetch` installs the files")
    return 0 if ready else 1


def _progress_bar():
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(p) -> None:
        bar = bars.get(p.name)
        if bar is None:
            bar = bars[p.name] = tqdm(total=p.total, initial=0, unit="B", unit_scale=True, unit_divisor=1024,
                                      desc=p.name, leave=True)
        bar.n = p.done
        bar.refresh()

    return update, bars


def _fetch(args: argparse.Namespace) -> int:
    from ..weights.fetch import (
        ENHANCE_DEFAULT,
        EVALUATION_KEYS,
        Cancelled,
        FetchError,
        fetch_face_alignment,
        fetch_official,
        fetch_published,
    )
    from ..weights.registry import ENHANCE_KEYS, OFFICIAL_ARCHIVE_SOURCES

    update, bars = _progress_bar()
    cancel = threading.Event()
    try:
        if args.enhance is not None:
            keys = ENHANCE_KEYS if "all" in args.enhance else tuple(args.enhance) or ENHANCE_DEFAULT
            unknown = sorted(set(keys) - set(ENHANCE_KEYS))
            if unknown:
                raise CliError(f"--enhance: no network {', '.join(unknown)}; choose from {', '.join(ENHANCE_KEYS)}"
                               " or all")
            for path in fetch_published(keys, progress=update, cancel=cancel, base_url=args.enhance_from):
                print(f"installed {path.name}")
            return 0
        if args.evaluation:
            for path in fetch_published(EVALUATION_KEYS, progress=update, cancel=cancel,
                                        base_url=args.evaluation_from):
                print(f"installed {path.name}")
            return 0
        report = fetch_official(args.source or OFFICIAL_ARCHIVE_SOURCES, progress=update, cancel=cancel)
        for line in report.lines():
            print(line)
        if not args.no_face_alignment:
            fetch_face_alignment(progress=update, cancel=cancel, base_url=args.face_alignment_from)
    except KeyboardInterrupt:  # Ctrl+C: the partial file stays for the next fetch to resume
        raise CliError("fetch cancelled; run it again to resume") from None
    except (FetchError, Cancelled) as exc:
        raise CliError(str(exc)) from exc
    finally:
        for bar in bars.values():
            bar.close()
    return _status(args)


def _import(args: argparse.Namespace) -> int:
    from ..weights.archive import ImportRefused, import_path

    try:
        report = import_path(args.path, progress=lambda name: print(f"reading {name}"))
    except ImportRefused as exc:
        raise CliError(str(exc)) from exc
    for line in report.lines():
        print(line)
    if not report.installed:
        raise CliError(f"{args.path}: holds no file of a network SMILE Studio knows")
    return _status(args)


def _verify(args: argparse.Namespace) -> int:
    from ..weights import smile_ready, verify_all

    states = verify_all()
    print("\n".join(_table(states)))
    bad = [s for s in states if s.state == "unusable"]
    return 0 if smile_ready(states) and not bad else 1


def _where(args: argparse.Namespace) -> int:
    from ..weights import install_dir, search_dirs

    print(f"new files go to: {install_dir()}")
    for i, folder in enumerate(search_dirs(), 1):
        print(f"searched {i}: {folder}")
    return 0
