"""Photos as people have them, through ``smile-studio edit``: odd formats open and come back at their own size;
broken ones are one line, exit code 2, nothing written."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from smile_studio.cli import main
from smile_studio.core.imageio import read_image


@pytest.fixture(scope="module")
def face(samples_dir) -> np.ndarray:
    return np.asarray(Image.open(samples_dir / "maskgan_1.jpg").convert("RGB").resize((512, 512)))


def _write(kind: str, rgb: np.ndarray, folder) -> tuple:
    """(path, expected output shape or None for a refusal, words the refusal names)."""
    img = Image.fromarray(rgb)
    path = folder / {"grey": "g.png", "cmyk": "c.jpg", "16bit": "s.png", "alpha": "a.png", "exif": "e.jpg",
                     "gif": "m.gif", "truncated": "t.jpg", "text": "x.jpg", "noface": "n.png", "small": "s2.png"}[kind]
    if kind == "grey":
        img.convert("L").save(path)
    elif kind == "cmyk":
        img.convert("CMYK").save(path, quality=95)
    elif kind == "16bit":
        Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257).save(path)
    elif kind == "alpha":
        rgba = img.convert("RGBA")
        rgba.putalpha(255)
        rgba.save(path)
    elif kind == "exif":
        exif = Image.Exif()
        exif[0x0112] = 6  # stored sideways; shown rotated 90 degrees clockwise
        img.rotate(90, expand=True).save(path, exif=exif, quality=95)
        return path, (512, 512, 3), ()
    elif kind == "gif":
        frames = [img.convert("P"), Image.new("P", img.size, 3)]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    elif kind == "truncated":
        buf = io.BytesIO()
        img.save(buf, format="JPEG")
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
        return path, None, ("t.jpg", "truncated")
    elif kind == "text":
        path.write_text("this is not a photo")
        return path, None, ("x.jpg", "not an image")
    elif kind == "noface":
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(path)
        return path, None, ("no face",)
    elif kind == "small":
        canvas = Image.new("RGB", (280, 280), (128, 128, 128))
        canvas.paste(img.resize((80, 80)), (100, 100))
        canvas.save(path)
        return path, None, ("at least 64 px",)
    return path, (512, 512, 3), ()


@pytest.mark.parametrize("kind", ["grey", "cmyk", "16bit", "alpha", "exif", "gif", "truncated", "text", "noface",
                                  "small"])
def test_odd_and_broken_photos(face, tmp_path, capsys, kind):
    src = tmp_path / "in"
    src.mkdir()
    path, shape, words = _write(kind, face, src)
    out = tmp_path / "out" / "o.png"
    code = main(["edit", str(path), "--set", "eyeglasses=on", "--out", str(out)])
    err = capsys.readouterr().err
    if shape is None:
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        for w in words:
            assert w in err, (w, err)
        assert not out.exists() and not (tmp_path / "out").exists()
    else:
        assert code == 0, err
        assert read_image(out).shape == shape


@pytest.mark.slow
def test_a_108_megapixel_photo_is_edited_within_2_gb(face, tmp_path):
    big = np.asarray(Image.fromarray(face).resize((12000, 9000), Image.BILINEAR))
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=85)
    del big
    probe = (f"import sys; from smile_studio.cli import main; from smile_studio.app.main import peak_rss_mb; "
             f"code = main(['edit', {str(tmp_path / 'big.jpg')!r}, '--set', 'eyeglasses=on', '--out', "
             f"{str(tmp_path / 'o.jpg')!r}]); print('PEAK', peak_rss_mb()); sys.exit(code)")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    peak = float(res.stdout.split("PEAK")[1])
    assert peak < 2048, f"peak memory {peak:.0f} MB"
    assert "reduced to 6000x4500" in res.stdout
    assert read_image(tmp_path / "o.jpg").shape == (4500, 6000, 3)
