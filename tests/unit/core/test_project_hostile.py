"""Hostile or damaged projects: every one is a ProjectError with a sentence, within seconds and bounded memory;
nothing is executed and nothing outside the project is touched."""

from __future__ import annotations

import io
import json
import os
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest

from smile_studio.core.document import Document
from smile_studio.core.labelio import encode_indexed_png
from smile_studio.core.labelmap import LabelMap
from smile_studio.core.project import ProjectError, decode_project, encode_project, load_project


@pytest.fixture
def data(face_map) -> bytes:
    photo = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    return encode_project(Document(LabelMap(face_map), photo=photo, original=photo,
                                   alignment=np.array([[1.0, 0, 0], [0, 1.0, 0]]), name="face"))


def _rebuild(data: bytes, change_manifest=None, members: dict | None = None, extra: list | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in src.namelist():
            payload = src.read(name)
            if name == "manifest.json" and change_manifest is not None:
                payload = change_manifest(payload)
            if members and name in members:
                payload = members[name]
            zf.writestr(name, payload)
        for name, payload in extra or []:
            zf.writestr(name, payload)
    return out.getvalue()


def _refused(blob: bytes, *words: str) -> str:
    t0 = time.perf_counter()
    with pytest.raises(ProjectError) as info:
        decode_project(blob, "bad.smile")
    msg = str(info.value)
    assert time.perf_counter() - t0 < 10, f"took {time.perf_counter() - t0:.1f} s to refuse"
    assert "\n" not in msg and "bad.smile" in msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


def test_bit_rot_in_a_compressed_member_is_refused(data):
    raw = bytearray(data)
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.getinfo("map.png")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + 40):  # a run of corrupted bytes inside the deflate stream
        raw[i] ^= 0x5A
    _refused(bytes(raw), "map.png")


def test_encrypted_and_unknown_compression_are_refused(data):
    raw = bytearray(data)
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.getinfo("photo.png")
    cd = data.find(b"PK\x01\x02")
    while cd >= 0:  # set the 'encrypted' flag on photo.png's central directory entry
        name_len = struct.unpack("<H", data[cd + 28:cd + 30])[0]
        if data[cd + 46:cd + 46 + name_len] == info.filename.encode():
            raw[cd + 8] |= 0x1
        cd = data.find(b"PK\x01\x02", cd + 4)
    _refused(bytes(raw), "encrypted")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in zf.namelist():
            z.writestr(name, zf.read(name), compress_type=zipfile.ZIP_STORED if name == "map.png"
                       else zipfile.ZIP_DEFLATED)
    raw, name = bytearray(out.getvalue()), b"map.png"
    for sig, method_at, name_at in ((b"PK\x03\x04", 8, 30), (b"PK\x01\x02", 10, 46)):
        at = raw.find(sig)
        while at >= 0:  # map.png's method becomes 93 (Zstandard), which this Python's zipfile cannot read
            if raw[at + name_at:at + name_at + len(name)] == name:
                raw[at + method_at:at + method_at + 2] = struct.pack("<H", 93)
            at = raw.find(sig, at + 4)
    _refused(bytes(raw), "compression")


@pytest.mark.parametrize("change,words", [
    (lambda m: m.update(size=float("inf")), ("not a number",)),
    (lambda m: m.update(size=1e308), ("size",)),
    (lambda m: m.update(size="256"), ("size",)),
    (lambda m: m.update(styles=[1, 2, 3]), ("styles",)),
    (lambda m: m.update(styles={"hair": "seed:3"}), ("styles.hair",)),
    (lambda m: m.update(styles={"hair": {"kind": "seed", "seed": -5}}), ("seed",)),
    (lambda m: m.update(styles={"hair": {"kind": "seed", "seed": 2**40}}), ("seed",)),
    (lambda m: m.update(styles={"wings": {"kind": "seed", "seed": 1}}), ("wings",)),
    (lambda m: m.update(references="ref1"), ("references",)),
    (lambda m: m.update(references=[{"id": 3}]), ("references.0",)),
    (lambda m: m.update(attributes={"gender": "robot"}), ("attributes",)),
    (lambda m: m.update(name=["a"]), ("name",)),
    (lambda m: m.update(version=True), ("version",)),
])
def test_manifests_of_the_wrong_shape_or_range_are_refused(data, change, words):
    def apply(raw):
        m = json.loads(raw)
        change(m)
        return json.dumps(m, allow_nan=True).encode()

    _refused(_rebuild(data, apply), *words)


def test_deeply_nested_manifest_is_refused(data):
    deep = b'{"format": "smile-studio-project", "version": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    _refused(_rebuild(data, lambda raw: deep), "nested")


def test_npy_header_asking_for_huge_memory_is_refused(data):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }"
    header += " " * (118 - len(header)) + "\n"
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
    _refused(_rebuild(data, members={"alignment.npy": blob}), "alignment.npy", "expected float (2, 3)")
    text = io.BytesIO()
    np.save(text, np.array([["a", "b", "c"], ["d", "e", "f"]]))
    _refused(_rebuild(data, members={"alignment.npy": text.getvalue()}), "alignment.npy")


@pytest.mark.parametrize("matrix", [np.full((2, 3), 7.0), np.zeros((2, 3)), np.array([[1.0, 2, 0], [2, 4, 0]])])
def test_a_degenerate_alignment_is_refused_by_name(data, matrix):
    blob = io.BytesIO()
    np.save(blob, matrix)
    _refused(_rebuild(data, members={"alignment.npy": blob.getvalue()}), "alignment.npy", "degenerate")


def test_a_map_declaring_billions_of_pixels_is_refused_from_its_header(data):
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    _refused(_rebuild(data, members={"map.png": png}), "map.png")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_project_repacked_by_an_archive_tool_opens_as_it_was(data, method):
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as zf:
        for name in src.namelist():
            zf.writestr(name, src.read(name))
    a, b = decode_project(data, "a.smile"), decode_project(out.getvalue(), "b.smile")
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.photo, b.photo)
    assert np.array_equal(a.alignment, b.alignment) and a.name == b.name


def test_map_bomb_is_refused_before_decoding(data):
    big = np.zeros((8192, 8192), np.uint8)  # 67 Mpx, a few hundred KB compressed
    _refused(_rebuild(data, members={"map.png": encode_indexed_png(big)}), "map.png", "8192x8192")


def test_duplicate_and_escaping_entries_are_refused(data):
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name it is asked to write
        blob = _rebuild(data, extra=[("map.png", encode_indexed_png(np.zeros((128, 128), np.uint8)))])
    _refused(blob, "two entries named map.png")
    _refused(_rebuild(data, extra=[("../evil.txt", b"x")]), "outside the project")


def test_member_holding_more_than_it_declares_is_refused_without_inflating_it(data):
    payload = b"\0" * (64 * 2**20)  # 64 MiB of zeros, declared as 1 KiB
    out = io.BytesIO()
    zf = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in zf.namelist():
            z.writestr(name, payload if name == "photo.png" else zf.read(name))
    raw = bytearray(out.getvalue())
    cd = raw.find(b"PK\x01\x02")
    while cd >= 0:
        name_len = struct.unpack("<H", raw[cd + 28:cd + 30])[0]
        if raw[cd + 46:cd + 46 + name_len] == b"photo.png":
            raw[cd + 24:cd + 28] = struct.pack("<I", 1024)  # uncompressed size in the central directory
        cd = raw.find(b"PK\x01\x02", cd + 4)
    _refused(bytes(raw), "photo.png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_device_link_and_huge_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.smile"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    with pytest.raises(ProjectError, match="not an ordinary file"):
        load_project(fifo)
    link = tmp_path / "zero.smile"
    link.symlink_to("/dev/zero")
    with pytest.raises(ProjectError, match="not an ordinary file"):
        load_project(link)
    huge = tmp_path / "huge.smile"
    with open(huge, "wb") as f:
        f.truncate(5 * 2**30)  # sparse: takes no disk space
    with pytest.raises(ProjectError, match="larger than any SMILE Studio project"):
        load_project(huge)
    assert time.perf_counter() - t0 < 2
