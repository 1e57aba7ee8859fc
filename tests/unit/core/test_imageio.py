import io

import numpy as np
import pytest
from PIL import Image

from smile_studio.core import imageio
from smile_studio.core.imageio import ImageReadError, read_image


def _save(img, path, **kw):
    img.save(path, **kw)
    return path


@pytest.fixture
def gradient():
    x = np.linspace(0, 255, 64, dtype=np.uint8)
    return np.stack([np.tile(x, (48, 1)), np.tile(x[:48, None], (1, 64)), np.full((48, 64), 77, np.uint8)], -1)


def test_exif_orientation_is_applied(tmp_path, gradient):
    img = Image.fromarray(gradient)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    p = _save(img, tmp_path / "rot.jpg", exif=exif, quality=100)
    out = read_image(p)
    assert out.shape == (64, 48, 3)
    ref = np.rot90(gradient, k=-1)
    assert np.abs(out.astype(int) - ref.astype(int)).mean() < 3


def test_grey_cmyk_16bit_alpha_palette_normalised(tmp_path, gradient):
    grey = _save(Image.fromarray(gradient[..., 0]), tmp_path / "g.png")
    assert np.array_equal(read_image(grey), np.repeat(gradient[..., :1], 3, 2))
    cmyk = _save(Image.fromarray(gradient).convert("CMYK"), tmp_path / "c.jpg", quality=100)
    out = read_image(cmyk)
    assert out.shape == (48, 64, 3) and np.abs(out.astype(int) - gradient.astype(int)).mean() < 6
    sixteen = (gradient[..., 0].astype(np.uint16) * 257)
    p16 = _save(Image.fromarray(sixteen), tmp_path / "s.png")
    out = read_image(p16)
    assert out.dtype == np.uint8 and np.abs(out[..., 0].astype(int) - gradient[..., 0]).max() <= 1
    rgba = np.dstack([gradient, np.zeros((48, 64), np.uint8)])
    rgba[:, :32, 3] = 255
    pa = _save(Image.fromarray(rgba), tmp_path / "a.png")
    out = read_image(pa)
    assert np.array_equal(out[:, :32], gradient[:, :32]) and (out[:, 32:] == 255).all()
    pal = _save(Image.fromarray(gradient).convert("P"), tmp_path / "p.png")
    assert read_image(pal).shape == (48, 64, 3)


def test_bad_files_give_clear_errors(tmp_path, gradient):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.jpg")
    (tmp_path / "text.png").write_text("hello, not an image")
    with pytest.raises(ImageReadError, match="not an image"):
        read_image(tmp_path / "text.png")
    buf = io.BytesIO()
    Image.fromarray(gradient).save(buf, format="JPEG")
    (tmp_path / "trunc.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="truncated|damaged"):
        read_image(tmp_path / "trunc.jpg")
    buf = io.BytesIO()
    Image.fromarray(gradient).save(buf, format="PNG")
    (tmp_path / "trunc.png").write_bytes(buf.getvalue()[:-30])
    with pytest.raises(ImageReadError, match="truncated|damaged"):
        read_image(tmp_path / "trunc.png")
    tiny = _save(Image.new("RGB", (4, 4)), tmp_path / "tiny.png")
    with pytest.raises(ImageReadError, match="too small"):
        read_image(tiny)


def test_decompression_bomb_refused_before_decoding_and_large_photos_reduced(tmp_path, monkeypatch):
    p = _save(Image.new("L", (3000, 3000)), tmp_path / "big.png")
    monkeypatch.setattr(imageio, "HARD_MAX_PIXELS", 4_000_000)
    with pytest.raises(ImageReadError, match="too large"):
        read_image(p)
    monkeypatch.setattr(imageio, "HARD_MAX_PIXELS", 170_000_000)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 1_000_000)  # a photo over the working limit is reduced, with a note
    rgb = np.zeros((3000, 2400, 3), np.uint8)
    rgb[:, :1200] = (200, 30, 30)
    for name in ("big.jpg", "big.png"):
        _save(Image.fromarray(rgb), tmp_path / name)
        img = imageio.open_image(tmp_path / name)
        assert img.size[0] * img.size[1] <= 1_000_000 and img.size[0] / img.size[1] == pytest.approx(0.8, abs=0.01)
        assert "3000" in img.info["smile_reduced"] and "reduced" in img.info["smile_reduced"]
        out = read_image(img)
        assert abs(int(out[10, 10, 0]) - 200) < 8 and out[10, -10, 0] < 10


def test_write_image_is_atomic(tmp_path, gradient, monkeypatch):
    p = tmp_path / "out.png"
    imageio.write_image(p, gradient)
    assert np.array_equal(read_image(p), gradient)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(imageio.os, "replace", boom)
    with pytest.raises(OSError):
        imageio.write_image(p, 255 - gradient)
    assert np.array_equal(read_image(p), gradient)
    assert [f.name for f in tmp_path.iterdir()] == ["out.png"]  # no temp file left behind


def test_pipes_and_devices_are_refused_without_reading(tmp_path):
    import os
    import time

    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    link = tmp_path / "zero.jpg"
    link.symlink_to("/dev/zero")
    t0 = time.perf_counter()
    for p in (fifo, link):
        with pytest.raises(ImageReadError, match="not an ordinary file"):
            read_image(p)
    assert time.perf_counter() - t0 < 1
