"""The window opens before torch is loaded (~2 s on a 2-core machine): the engines bring it in later."""

import subprocess
import sys


def test_the_window_module_does_not_import_torch():
    probe = "import sys; import smile_studio.app.window, smile_studio.app.worker; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
