"""Photo or label map? What a file is taken for, and what is said when a beside map is not used."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from smile_studio.core.labelio import colorize, looks_like_label_map, read_label_map
from smile_studio.core.labels import NUM_CLASSES
from smile_studio.opening import open_document


@pytest.fixture
def map512(samples_dir) -> np.ndarray:
    return read_label_map(samples_dir / "maskgan_0.png").labels


def test_a_16_colour_palette_photo_is_a_photo(samples_dir, tmp_path):
    photo = Image.open(samples_dir / "maskgan_0.jpg").convert("RGB").quantize(16)
    assert np.asarray(photo).max() < NUM_CLASSES  # small palette indices, like ids
    assert not looks_like_label_map(photo)
    photo.save(tmp_path / "poster.png")
    doc = open_document(tmp_path / "poster.png")
    assert doc.photo is not None  # detected, aligned and parsed as a photo


def test_a_float_tiff_is_a_photo_and_a_whole_number_float_map_is_a_map(samples_dir, map512, tmp_path):
    grey = np.asarray(Image.open(samples_dir / "maskgan_0.jpg").convert("L"), np.float32) / 255.0
    assert not looks_like_label_map(Image.fromarray(grey, mode="F"))
    assert looks_like_label_map(Image.fromarray(map512.astype(np.float32), mode="F"))
    Image.fromarray(map512.astype(np.float32), mode="F").save(tmp_path / "ids.tif")
    assert np.array_equal(open_document(tmp_path / "ids.tif", 512).labels, map512)


def test_colour_maps_with_stray_pixels_and_grey_rgb_maps_are_maps(map512, tmp_path):
    color = colorize(map512)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 512, (300, 2))
    color[idx[:, 0], idx[:, 1]] = (123, 45, 67)  # a few off-palette pixels, e.g. a stray soft brush
    assert looks_like_label_map(Image.fromarray(color))
    Image.fromarray(color).save(tmp_path / "color.png")
    doc = open_document(tmp_path / "color.png", 512)
    assert (doc.labels == map512).mean() > 0.99
    grey_rgb = np.repeat(map512[..., None], 3, axis=2)
    assert looks_like_label_map(Image.fromarray(grey_rgb))
    Image.fromarray(grey_rgb).save(tmp_path / "grey_rgb.png")
    assert np.array_equal(open_document(tmp_path / "grey_rgb.png", 512).labels, map512)


@pytest.mark.parametrize("bad", ["sixteen_bit", "out_of_range", "other_aspect"])
def test_an_unusable_map_beside_a_photo_is_named_and_the_photo_parsed(samples_dir, map512, tmp_path, bad):
    photo = tmp_path / "face.jpg"
    photo.write_bytes((samples_dir / "maskgan_0.jpg").read_bytes())
    if bad == "sixteen_bit":
        Image.fromarray(map512.astype(np.uint16) * 3000).save(tmp_path / "face.png")  # 16-bit grey
    elif bad == "out_of_range":
        Image.fromarray((map512 + 30).astype(np.uint8), mode="L").save(tmp_path / "face.png")
    else:
        Image.fromarray(map512[:, :300], mode="L").save(tmp_path / "face.png")
    doc = open_document(photo)
    assert doc.photo is not None and doc.notes, "the beside file was ignored without a word"
    assert "face.png" in doc.notes[0] and "parsed the photo" in doc.notes[0]
    if bad == "other_aspect":
        assert "512x300" not in doc.notes[0] and "300x512" in doc.notes[0]


def test_a_huge_colour_map_opens_within_seconds(map512, tmp_path):
    big = np.repeat(np.repeat(colorize(map512), 12, 0), 12, 1)  # 6144 x 6144 colour map, 38 Mpx
    Image.fromarray(big).save(tmp_path / "big.png", compress_level=1)
    t0 = time.perf_counter()
    doc = open_document(tmp_path / "big.png", 256)
    took = time.perf_counter() - t0
    assert doc.labels.shape == (256, 256) and took < 10, f"{took:.1f} s"
    small = open_document(tmp_path / "big.png", 512).labels
    assert (small == map512).mean() > 0.97


def test_a_beside_map_with_colours_of_no_class_says_so_in_the_notes(samples_dir, tmp_path):
    """A palette map whose indices go above 18 (colours no class has) is snapped to the nearest classes; the
    Python API's document says how many pixels were, as the editor and the command line do."""
    import shutil

    import numpy as np
    from PIL import Image

    from smile_studio.core.labelio import read_label_map
    from smile_studio.core.labels import PALETTE
    from smile_studio.opening import open_document

    shutil.copy(samples_dir / "maskgan_0.jpg", tmp_path / "a.jpg")
    ids = read_label_map(samples_dir / "maskgan_0.png").labels.copy()
    ids[:40, :40] = 25
    img = Image.fromarray(ids, "P")
    pal = np.zeros((256, 3), np.uint8)
    pal[:len(PALETTE)] = PALETTE
    pal[25] = (250, 5, 250)
    img.putpalette(pal.ravel().tolist())
    img.save(tmp_path / "a.png")
    doc = open_document(tmp_path / "a.jpg")
    assert any("a.png: 1600 pixels in 1 colours that are no class" in n for n in doc.notes), doc.notes
    assert doc.labels.max() < 19
