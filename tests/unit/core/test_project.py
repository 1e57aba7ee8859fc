import io
import json
import zipfile

import numpy as np
import pytest

from smile_studio.core import imageio
from smile_studio.core.document import Document, Reference, StyleSource
from smile_studio.core.labelmap import LabelMap
from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.core.project import ProjectError, decode_project, encode_project, load_project, save_project


@pytest.fixture
def doc(face_map):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    original = rng.integers(0, 256, (200, 180, 3), dtype=np.uint8)
    d = Document(LabelMap(face_map), photo=photo, original=original,
                 alignment=np.array([[1.2, 0.1, 10.0], [-0.1, 1.2, 20.0]]), name="test face")
    d.paint((30, 30), (60, 40), K["hair"].id, 7)
    ref = Reference("ref1", "ref.jpg", rng.integers(0, 256, (128, 128, 3), dtype=np.uint8), face_map[::-1].copy(),
                    {"gender": "male"})
    d.add_reference(ref)
    d.set_style(K["hair"].id, StyleSource("reference", ref="ref1"))
    d.set_style(K["skin"].id, StyleSource("seed", seed=42, locked=True))
    d.set_attributes(dict(d.attributes, eyeglasses="on", gender="male"))
    return d


def _assert_same(a: Document, b: Document):
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.source_labels, b.source_labels)
    assert np.array_equal(a.photo, b.photo) and np.array_equal(a.original, b.original)
    assert np.array_equal(a.alignment, b.alignment)
    assert a.attributes == b.attributes and a.styles == b.styles and a.name == b.name
    assert [(r.id, r.name, r.attributes) for r in a.references] == [(r.id, r.name, r.attributes) for r in b.references]
    for ra, rb in zip(a.references, b.references, strict=True):
        assert np.array_equal(ra.rgb, rb.rgb) and np.array_equal(ra.labels, rb.labels)


def test_save_load_round_trip(tmp_path, doc):
    path = tmp_path / "face.smile"
    save_project(doc, path)
    _assert_same(doc, load_project(path))


def test_minimal_document_round_trip(tmp_path, face_map):
    d = Document(LabelMap(face_map))
    save_project(d, tmp_path / "m.smile")
    back = load_project(tmp_path / "m.smile")
    _assert_same(d, back)
    assert back.photo is None


def test_interrupted_save_leaves_old_file_intact(tmp_path, doc, monkeypatch):
    path = tmp_path / "face.smile"
    save_project(doc, path)
    old_bytes = path.read_bytes()
    doc.paint((5, 5), (100, 100), K["hat"].id, 9)

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(imageio.os, "replace", crash)  # write and fsync happen, the rename fails
    with pytest.raises(ProjectError, match="No space left.*previous file is unchanged"):
        save_project(doc, path)
    assert path.read_bytes() == old_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.smile"]


def test_corrupt_truncated_and_foreign_files_refused(tmp_path, doc):
    data = encode_project(doc)
    with pytest.raises(ProjectError, match="truncated|damaged"):
        decode_project(data[: len(data) // 2])
    with pytest.raises(ProjectError, match="not a SMILE Studio project"):
        decode_project(b"hello world")
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    with pytest.raises(ProjectError):
        decode_project(bytes(flipped))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "something-else"}))
    with pytest.raises(ProjectError, match="unknown format"):
        decode_project(buf.getvalue())
    with pytest.raises(ProjectError, match="no such file"):
        load_project(tmp_path / "nope.smile")


def _rewrite_manifest(data: bytes, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in src.namelist():
            payload = src.read(name)
            if name == "manifest.json":
                m = json.loads(payload)
                change(m)
                payload = json.dumps(m).encode()
            zf.writestr(name, payload)
    return out.getvalue()


def test_too_new_and_inconsistent_projects_refused(doc):
    data = encode_project(doc)
    newer = _rewrite_manifest(data, lambda m: m.update(version=99))
    with pytest.raises(ProjectError, match="newer SMILE Studio"):
        decode_project(newer)
    bad_size = _rewrite_manifest(data, lambda m: m.update(size=64))
    with pytest.raises(ProjectError, match="manifest says 64x64"):
        decode_project(bad_size)
    bad_attr = _rewrite_manifest(data, lambda m: m["attributes"].update(gender="both"))
    with pytest.raises(ProjectError, match="gender"):
        decode_project(bad_attr)
    bad_ref = _rewrite_manifest(data, lambda m: m["styles"]["hair"].update(ref="ref9"))
    with pytest.raises(ProjectError, match="ref9"):
        decode_project(bad_ref)


def test_checkpoint_hashes_in_exports(tmp_path, monkeypatch, doc):
    import hashlib
    import json

    from smile_studio.export import checkpoint_hashes, export_bundle

    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    assert checkpoint_hashes() == {}
    (tmp_path / "smileSYN_256.pth").write_bytes(b"weights-bytes")
    hashes = checkpoint_hashes()
    assert hashes == {"smileSYN_256.pth": hashlib.sha256(b"weights-bytes").hexdigest()}
    export_bundle(doc, doc.photo, tmp_path / "out", {"render": "x"}, hashes)
    settings = json.loads((tmp_path / "out" / "settings.json").read_text())
    assert settings["checkpoints"] == hashes and settings["attributes"] == doc.attributes
    assert (tmp_path / "out" / "photo_edited.png").is_file()  # the document has an original photo
