"""``smile-studio serve``: the engines of this machine (SMILE on its GPU when installed) for editors and scripts
elsewhere. 127.0.0.1 by default; any other address requires a token (``--token-file F``, or one made and kept in
the user's configuration folder, printed on first start); TLS with ``--certfile`` / ``--keyfile`` or behind a
reverse proxy (README, "Remote engines")."""

from __future__ import annotations

import argparse
import os

from .errors import CliError

DEFAULT_PORT = 8470


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                                                       "only; 0.0.0.0: every interface, a token required)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--engine", choices=("auto", "offline", "smile"), default="auto",
                   help="the engines to serve (auto: SMILE when its weights are installed)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="where SMILE runs (auto: CUDA when available)")
    p.add_argument("--token-file", help="the token clients must send (created with a new token if missing)")
    p.add_argument("--certfile", help="TLS certificate (PEM); with --keyfile the server speaks HTTPS")
    p.add_argument("--keyfile", help="TLS private key (PEM)")


def run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serve.app import create_app
    except ImportError as exc:
        raise CliError(f"serving needs FastAPI and uvicorn ({exc}); install them with "
                       "`pip install 'smile-studio[serve]'`") from exc
    from ..engines.base import EngineError
    from ..engines.registry import select_engines
    from ..resources import sample_exemplar
    from ..serve.token import server_token

    if not 1 <= args.port <= 65535:
        raise CliError(f"--port must be 1 to 65535, not {args.port}")
    if bool(args.certfile) != bool(args.keyfile):
        raise CliError("--certfile and --keyfile go together")
    try:
        token, path, made = server_token(args.host, args.token_file)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    try:
        layout, render, why = select_engines(args.engine, exemplar=sample_exemplar(), device=args.device)
    except EngineError as exc:
        raise CliError(str(exc)) from exc
    scheme = "https" if args.certfile else "http"
    print(f"serving {why} on {scheme}://{args.host}:{args.port} ({render.info.device})", flush=True)
    if token is not None:
        print(f"clients send the token in {path}" + (f" (made now: {token})" if made else ""), flush=True)
        if path is not None and os.name == "posix" and path.stat().st_mode & 0o077:
            print(f"warning: {path} can be read by other users of this machine (chmod 600 {path})", flush=True)
    uvicorn.run(create_app(layout, render, token=token), host=args.host, port=args.port, log_level="info",
                ssl_certfile=args.certfile, ssl_keyfile=args.keyfile)
    return 0
