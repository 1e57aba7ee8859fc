import logging

import numpy as np
import pytest
from PIL import Image

from smile_studio.core.labelio import (
    LabelMapError,
    colorize,
    encode_indexed_png,
    read_label_map,
    write_indexed_png,
)
from smile_studio.core.labels import PALETTE


def test_indexed_png_round_trip_with_embedded_palette(tmp_path, face_map):
    path = tmp_path / "map.png"
    write_indexed_png(path, face_map)
    with Image.open(path) as img:
        assert img.mode == "P"
        pal = np.array(img.getpalette()[: 19 * 3], np.uint8).reshape(19, 3)
        assert np.array_equal(pal, PALETTE)
        # viewers show the official colours
        assert np.array_equal(np.asarray(img.convert("RGB")), colorize(face_map))
    assert np.array_equal(read_label_map(path).labels, face_map)


def test_indexed_png_rejects_bad_ids():
    with pytest.raises(LabelMapError):
        encode_indexed_png(np.full((4, 4), 30, np.uint8))


def test_colour_map_import_snaps_unknown_colours_with_warning(tmp_path, face_map, caplog):
    rgb = colorize(face_map).copy()
    rgb[0:3, 0:3] = (10, 5, 3)  # near background
    rgb[60, 64] = (200, 10, 10)  # near skin (204,0,0)
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    with caplog.at_level(logging.WARNING):
        res = read_label_map(path)
    expected = face_map.copy()
    expected[0:3, 0:3] = 0
    expected[60, 64] = 1
    assert np.array_equal(res.labels, expected)
    assert set(res.unknown_colors) == {(10, 5, 3), (200, 10, 10)}
    assert res.snapped_pixels == 10
    assert "not in the palette" in caplog.text and "(10, 5, 3)" in caplog.text


def test_grey_id_maps_and_errors(tmp_path, face_map):
    p = tmp_path / "grey.png"
    Image.fromarray(face_map).save(p)
    assert np.array_equal(read_label_map(p).labels, face_map)
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(p)
    with pytest.raises(LabelMapError, match="outside"):
        read_label_map(p)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(LabelMapError, match="not an image"):
        read_label_map(tmp_path / "junk.png")


def test_real_colour_map_decodes_exactly(samples_dir):
    res = read_label_map(samples_dir / "sean_29258_colormap.png")
    assert res.unknown_colors == [] and res.labels.max() < 19
    original = np.asarray(Image.open(samples_dir / "sean_29258_colormap.png").convert("RGB"))
    assert np.array_equal(colorize(res.labels), original)
