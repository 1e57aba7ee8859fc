"""The ``serve`` command: the token rules (none on 127.0.0.1 unless asked; always one elsewhere, kept owner-only)
and a real server process answering with its token."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import httpx
import pytest

from smile_studio.serve.token import is_loopback, server_token
from tests.serving import free_port


def test_a_token_is_required_off_this_machine_and_kept_owner_only(tmp_path, monkeypatch):
    monkeypatch.setenv("SMILE_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20") and not is_loopback("gpu-box")
    assert server_token("127.0.0.1", None) == (None, None, False)
    token, path, made = server_token("0.0.0.0", None)
    assert made and path == tmp_path / "config" / "serve-token" and len(token) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert server_token("0.0.0.0", None) == (token, path, False)  # the same token on the next start
    mine = tmp_path / "mine.token"
    mine.write_text("correct-horse-battery-staple\n")
    assert server_token("127.0.0.1", mine)[0] == "correct-horse-battery-staple"
    mine.write_text("short\n")
    with pytest.raises(ValueError, match="does not hold a token"):
        server_token("0.0.0.0", mine)


def test_the_command_serves_with_its_token(tmp_path):
    port = free_port()
    token_file = tmp_path / "t"
    env = {**os.environ, "SMILE_STUDIO_CONFIG_DIR": str(tmp_path / "config"), "SMILE_STUDIO_WEIGHTS": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "smile_studio", "serve", "--port", str(port), "--engine",
                             "offline", "--token-file", str(token_file)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url, deadline, answer = f"http://127.0.0.1:{port}/info", time.time() + 60, None
        while time.time() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(url, headers={"Authorization": f"Bearer {token_file.read_text().strip()}"})
                break
            except (httpx.HTTPError, FileNotFoundError):
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200, proc.stdout.read() if proc.poll() else "no answer"
        assert answer.json()["label"] == "offline"
        assert httpx.get(url).status_code == 401
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert "serving offline default" in out and str(token_file) in out


def test_bad_options_are_one_line(capsys):
    from smile_studio.cli.main import main

    assert main(["serve", "--port", "0"]) == 2
    assert "--port must be" in capsys.readouterr().err
    assert main(["serve", "--certfile", "c.pem"]) == 2
    assert "go together" in capsys.readouterr().err


def test_edit_on_a_server_writes_what_this_machine_would(server, samples_dir, tmp_path, capsys):
    """`edit --server URL` edits and renders on the server (the same engines here): the same file as a local run;
    a wrong token or a server that is down is one line, exit 2, nothing written."""
    from smile_studio.cli.main import main

    from .conftest import TOKEN

    url, *_ = server
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    photo = str(samples_dir / "maskgan_0.jpg")
    common = [photo, "--set", "hat=on", "--seed", "3"]
    assert main(["edit", *common, "--server", url, "--token-file", str(token), "--out", str(tmp_path / "r.png")]) == 0
    assert "offline on 127.0.0.1" in capsys.readouterr().out
    assert main(["edit", *common, "--engine", "offline", "--out", str(tmp_path / "l.png")]) == 0
    assert (tmp_path / "r.png").read_bytes() == (tmp_path / "l.png").read_bytes()
    token.write_text("not-the-token-at-all\n")
    assert main(["edit", *common, "--server", url, "--token-file", str(token), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused the token" in err and not (tmp_path / "x.png").exists()
    down = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    assert main(["edit", *common, "--server", down, "--out", str(tmp_path / "y.png")]) == 2
    assert "cannot be reached" in capsys.readouterr().err and not (tmp_path / "y.png").exists()
