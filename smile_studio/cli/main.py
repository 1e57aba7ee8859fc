"""The ``smile-studio`` command: the GUI by default, plus headless subcommands sharing the same core.

    smile-studio [PHOTO_OR_PROJECT]          open the editor (the bundled sample when no file is given)
    smile-studio info                        versions, device, engines available
    smile-studio verify-golden DIR           check our networks against official-code fixtures
    smile-studio edit ...                    headless attribute edit + render

Bad input ends with a one-line message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from .errors import EXIT_USAGE, CliError


def _cmd_info(args: argparse.Namespace) -> int:
    import numpy as np

    lines = [f"SMILE Studio {__version__}", f"Python {platform.python_version()} on {platform.platform()}",
             f"numpy {np.__version__}"]
    try:
        import torch

        cuda = torch.cuda.is_available()
        gpu = f"available: {torch.cuda.get_device_name(0)}" if cuda else "not available"
        lines.append(f"torch {torch.__version__} (CUDA {gpu})")
        lines.append(f"device: {'cuda' if cuda else 'cpu'}, {torch.get_num_threads()} threads")
        from ..nets.onednn import fast_paths_report
        from ..nets.runtime import cpu_description, dtype_name, preview_dtype

        lines.append(f"CPU: {cpu_description()}")
        paths = fast_paths_report()
        lines.append("CPU fast paths: " + ", ".join(f"{k} {'on' if v else 'off'}" for k, v in paths.items()))

        dtype = dtype_name(preview_dtype(torch.device("cuda" if cuda else "cpu")))
        lines.append(f"SMILE previews in {dtype} (exports and headless runs: float32)")
    except ImportError:
        lines.append("torch: not installed")
    try:
        import cv2

        lines.append(f"OpenCV {cv2.__version__}")
    except ImportError:
        lines.append("OpenCV: not installed")
    try:  # the installed version, without importing Qt (headless commands never load it)
        lines.append(f"PySide6 {importlib.metadata.version('PySide6-Essentials')}")
    except importlib.metadata.PackageNotFoundError:
        lines.append("PySide6: not installed (the GUI cannot start; headless commands work)")
    from ..weights import weights_report

    lines.extend(weights_report())
    print("\n".join(lines))
    return 0


GUI = "smile_studio.app"  # the editor's package, opened by name (see _gui)


def _gui(module: str):
    """A module of the editor, imported by name as an entry point is: the command line itself never depends
    on Qt (a headless install without PySide6 runs every other command), and the layering contract
    (pyproject.toml) holds it so."""
    try:
        return importlib.import_module(f"{GUI}.{module}")
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("PySide6", "shiboken6"):
            raise CliError(f"the editor needs PySide6, which is not installed ({exc}); install the app with "
                           "`pip install smile-studio` or run the headless commands (smile-studio --help)") from exc
        raise


def _cmd_gui(args: argparse.Namespace) -> int:
    app = _gui("main")
    try:
        return app.run_app(args.path)
    except app.NoDisplayError as exc:
        raise CliError(str(exc)) from exc


def _cmd_verify_golden(args: argparse.Namespace) -> int:
    import torch

    from ..nets.golden import verify_directory
    from ..nets.runtime import pick_device

    if args.device == "cuda" and not torch.cuda.is_available():
        raise CliError("verify-golden: --device cuda asked for, but no CUDA device is available")
    return verify_directory(args.dir, verbose=not args.quiet, device=pick_device(args.device))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smile-studio", description="Face layout editor built on SMILE.")
    parser.add_argument("--version", action="version", version=f"SMILE Studio {__version__}")
    parser.add_argument("--selftest", action="store_true",
                        help="open the sample offscreen, edit, render and export it; exit 0 when all of it works")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("gui", help="open the editor (default)")
    p.add_argument("path", nargs="?", help="photo, label map or .smile project to open")
    p.set_defaults(func=_cmd_gui)

    p = sub.add_parser("info", help="versions, device and engines available")
    p.set_defaults(func=_cmd_info)

    from . import batch, data, edit, evaluate, serve, train, video, weights

    # the headless subcommands, one row each: name, help, how its options are declared, what runs it
    for name, text, add, run in (
        ("edit", "edit attributes / styles of a photo or map and render it, headless", edit.add_edit_arguments,
         edit.run_edit),
        ("batch", "apply the same edit to every face in a folder, headless", batch.add_batch_arguments,
         batch.run_batch),
        ("video", "carry an edit through a clip (landmarks smoothed over time, audio kept)",
         video.add_video_arguments, video.run_video),
        ("data", "training data: prepare CelebAMask-HQ or a folder of photos", data.add_data_arguments,
         data.run_data),
        ("train", "train SMILE_SEM or SMILE_SYN (one process, or many under torchrun)", train.add_train_arguments,
         train.run_train),
        ("eval", "the paper's measures (FID, LPIPS, PSNR, SSIM, attribute AP/F1, pose) on a prepared folder",
         evaluate.add_eval_arguments, evaluate.run_eval),
        ("weights", "the weight files: status, fetch, import, verify, where", weights.add_weights_arguments,
         weights.run_weights),
        ("serve", "the engines of this machine for editors and scripts elsewhere (HTTP)", serve.add_serve_arguments,
         serve.run_serve),
    ):
        p = sub.add_parser(name, help=text)
        add(p)
        p.set_defaults(func=run)

    p = sub.add_parser("verify-golden", help="compare our networks with official-code fixtures in DIR")
    p.add_argument("dir", help="a directory laid out like shared/golden (npz + json + manifests/)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                   help="where to run the networks (default cpu; auto = CUDA when available)")
    p.set_defaults(func=_cmd_verify_golden)
    return parser


def _looks_like_a_file(word: str) -> bool:
    """A word the GUI should open: an existing path, or a name with a folder or an extension (a missing file is
    then reported by the editor, not taken for a mistyped command)."""
    return os.path.exists(word) or os.sep in word or "/" in word or bool(os.path.splitext(word)[1])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--selftest"]:
        try:
            return _gui("selftest").run_selftest()
        except CliError as exc:
            print(f"smile-studio: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    if argv and argv[0] not in commands and not argv[0].startswith("-") and not _looks_like_a_file(argv[0]):
        close = difflib.get_close_matches(argv[0], sorted(commands), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        print(f"smile-studio: error: unknown command '{argv[0]}' (commands: {', '.join(sorted(commands))}; "
              f"or give a photo, label map or .smile project to open){hint}", file=sys.stderr)
        return EXIT_USAGE
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as exc:
        print(f"smile-studio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("smile-studio: interrupted", file=sys.stderr)
        return 130
