"""Robust image reading: every odd or broken file becomes an RGB8 array or an ImageReadError with a clear message.

Handles EXIF orientation, palette/grey/CMYK/16-bit/float modes, alpha (composited over white), animated files
(first frame), decompression bombs (pixel limit checked before decoding) and truncated or non-image data.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 64_000_000  # ~8000 x 8000: larger photos are reduced to this while decoding
HARD_MAX_PIXELS = 170_000_000  # refused before decoding (PIL's own bomb limit is 179 M)
MIN_SIDE = 16


class ImageReadError(ValueError):
    """The file cannot be used as an image; str(error) is a sentence for the user."""


def _to_rgb8(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img).astype(np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        if mode == "F" and arr.max() <= 1.0:
            hi = 1.0
        grey = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if mode == "CMYK":
        # PIL's CMYK->RGB ignores ICC profiles but is the documented fallback; good enough for a face photo.
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def open_image(source: str | os.PathLike | bytes) -> Image.Image:
    """Open and fully decode an image (first frame), EXIF-rotated; ImageReadError on any problem."""
    name = "<data>" if isinstance(source, (bytes, bytearray)) else str(source)
    if not isinstance(source, (bytes, bytearray)):
        path = Path(source)
        if not path.exists():
            raise ImageReadError(f"{name}: no such file")
        if path.is_dir():
            raise ImageReadError(f"{name}: is a folder, not an image")
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block forever, /dev/zero never end
            raise ImageReadError(f"{name}: is not an ordinary file (a pipe, device or socket), not an image")
        if path.stat().st_size == 0:
            raise ImageReadError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            # our own limits below decide (PIL warns from 89 Mpx, where a 108-Mpx camera photo is still fine)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
            w, h = img.size
            if w * h > HARD_MAX_PIXELS:
                raise ImageReadError(
                    f"{name}: {w}x{h} pixels is too large (limit {HARD_MAX_PIXELS // 1_000_000} megapixels)")
            if min(w, h) < MIN_SIDE:
                raise ImageReadError(f"{name}: {w}x{h} pixels is too small (at least {MIN_SIDE} per side)")
            img.seek(0)
            factor = 1
            while w * h > MAX_PIXELS * factor * factor:
                factor *= 2
            if factor > 1 and img.format == "JPEG":
                img.draft(img.mode, (w // factor, h // factor))  # decoded at the reduced size: fast, less memory
            img.load()
            if factor > 1:
                if img.size != (w // factor, h // factor):
                    img = img.reduce(factor)
                img.info["smile_reduced"] = (f"{Path(name).name} is {w}x{h} pixels; reduced to "
                                             f"{img.size[0]}x{img.size[1]} to open it")
            info = dict(img.info)
            img = ImageOps.exif_transpose(img)
            img.info.update({k: v for k, v in info.items() if k == "smile_reduced"})
            return img
    except ImageReadError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{name}: not an image file (or a format this app cannot read)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(f"{name}: too many pixels, refused as a possible decompression bomb") from exc
    except OSError as exc:
        msg = str(exc)
        if "truncated" in msg.lower() or "broken data stream" in msg or "unrecognized data stream" in msg:
            raise ImageReadError(f"{name}: the image file is truncated or damaged") from exc
        raise ImageReadError(f"{name}: cannot read image ({msg})") from exc
    except (ValueError, SyntaxError, EOFError) as exc:  # PIL raises these on malformed headers
        raise ImageReadError(f"{name}: the image file is damaged ({exc})") from exc


def read_image(source: str | os.PathLike | bytes | Image.Image) -> np.ndarray:
    """Read any supported image (or take an opened one) as an (H, W, 3) uint8 RGB array."""
    return _to_rgb8(source if isinstance(source, Image.Image) else open_image(source))


def encode_png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _umask() -> int:
    """The process's umask (read without changing it where /proc tells it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def _stage(path: Path, data: bytes) -> Path:
    """``data`` in a temporary file beside ``path``, flushed to disk, with the permissions ``path`` will have
    (the old file's, or those the user's umask gives a new file: mkstemp alone would make every file 0600)."""
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write a file so that it is either the old file or the complete new one, never half of it."""
    atomic_write_files({Path(path): data})


def atomic_write_files(files: dict[Path, bytes]) -> None:
    """Write several files all or none: every file is staged (the disk may refuse any of them) before the first
    one replaces its target, so a full disk leaves the old files and no partial set behind."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            staged.append((_stage(Path(path), data), Path(path)))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    try:
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)  # only those a failed rename left


# Output formats by extension; anything else is refused rather than written as PNG bytes under another name.
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
                 ".tiff": "TIFF"}


IMAGE_SUFFIXES = tuple(WRITE_FORMATS)  # what the app opens and writes by extension (file dialogs, batch folders)


def output_format(path: str | os.PathLike) -> str:
    """The PIL format an output path asks for; ValueError naming the supported extensions otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise ValueError(f"{Path(path).name}: cannot write {suffix or 'a file without an extension'} images "
                         f"(use {', '.join(sorted(WRITE_FORMATS))})")
    return WRITE_FORMATS[suffix]


def encode_image(path: str | os.PathLike, rgb: np.ndarray) -> bytes:
    """The bytes of ``rgb`` in the format ``path``'s extension names (JPEG at quality 95, WebP lossless)."""
    fmt = output_format(path)
    options = {"JPEG": {"quality": 95}, "WEBP": {"lossless": True}}.get(fmt, {})
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).save(buf, format=fmt, **options)
    return buf.getvalue()


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB image atomically in the format of its extension (ValueError for an unknown one)."""
    atomic_write_bytes(path, encode_image(path, rgb))
