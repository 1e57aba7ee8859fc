"""The server's token: none on 127.0.0.1 unless asked for; on any other address always one, read from the token
file (``--token-file``, created with a new token when missing) or from the user's configuration folder, created
there on first start. Token files are written owner-only (0600)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from ..core.places import config_dir

DEFAULT_FILE = "serve-token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_or_create(path: Path) -> tuple[str, bool]:
    """(the token in ``path``, whether it was made now). A file that holds no token is an error, not replaced:
    it may be the user's own."""
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if not token or len(token) < 16 or any(c.isspace() for c in token):
            raise ValueError(f"{path} does not hold a token (one line of 16 or more characters, no spaces)")
        return token, False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token, True


def server_token(host: str, token_file: str | os.PathLike | None) -> tuple[str | None, Path | None, bool]:
    """(the token the server requires or None, the file it is in, whether it was made now)."""
    if token_file is None and is_loopback(host):
        return None, None, False
    path = Path(token_file) if token_file is not None else config_dir() / DEFAULT_FILE
    token, made = read_or_create(path)
    return token, path, made
