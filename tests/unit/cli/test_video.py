"""``smile-studio video`` on short clips made here from a sample photo (a slow camera pan, with and without a
sound track): frame count, size and rate kept, the audio copied, the edit local to the face in every frame, a
frame range, frames without a face passed through, the temporal-stability figure printed; bad input refused."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from smile_studio.cli import main
from smile_studio.core.imageio import read_image
from smile_studio.video.clip import probe, write_clip
from smile_studio.video.smoothing import OneEuroFilter

SIDE, FPS, FRAMES = 384, 12, 10


def make_clip(path, samples_dir, audio: bool, blank: bool = False) -> list[np.ndarray]:
    base = cv2.resize(read_image(samples_dir / "maskgan_0.jpg"), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(FRAMES):
        shift = np.float32([[1, 0, 2 * i - FRAMES], [0, 1, i - FRAMES / 2]])
        rgb = cv2.warpAffine(base, shift, (SIDE, SIDE), borderMode=cv2.BORDER_REFLECT)
        frames.append(np.full_like(rgb, 90 + i) if blank else rgb)
    silent = path.with_name(f"silent_{path.name}")
    write_clip(silent if audio else path, frames, FPS, crf=4)
    if audio:
        add_tone(silent, path)
    return frames


def add_tone(silent, path, seconds: float = FRAMES / FPS) -> None:
    """``silent`` with a 440 Hz tone as its sound track (the video packets copied)."""
    with av.open(str(silent)) as src, av.open(str(path), "w") as box:
        v = box.add_stream_from_template(src.streams.video[0])
        a = box.add_stream("aac", rate=16000)
        a.layout = "mono"
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = v
                box.mux(packet)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(16000 * seconds)) / 16000)).astype(np.float32)
        for k in range(0, len(tone), 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, k:k + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, k
            for packet in a.encode(chunk):
                box.mux(packet)
        for packet in a.encode():
            box.mux(packet)


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as box:
        return [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]


def audio_seconds(path) -> float:
    with av.open(str(path)) as box:
        stream = box.streams.audio[0]
        return sum(float(p.duration * stream.time_base) for p in box.demux(stream) if p.duration)


@pytest.fixture(scope="module")
def clip(samples_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    make_clip(path, samples_dir, audio=True)
    return path


def test_an_edit_is_carried_through_a_clip_with_its_sound(clip, tmp_path, capsys):
    out = tmp_path / "edited.mp4"
    assert main(["video", str(clip), str(out), "--set", "eyeglasses=on", "--seed", "3", "--crf", "8"]) == 0
    text = capsys.readouterr().out
    info, source = probe(out), probe(clip)
    assert (info.frames, info.width, info.height, info.fps) == (FRAMES, SIDE, SIDE, Fraction(FPS))
    assert info.has_audio and abs(audio_seconds(out) - audio_seconds(clip)) < 0.15
    assert source.frames == FRAMES
    before, after = decoded(clip), decoded(out)
    for a, b in zip(before, after, strict=True):
        diff = np.abs(a.astype(np.int16) - b).max(-1)
        # the glasses: many pixels changed strongly around the eyes (rows 130-230 of 384)
        assert (diff[130:230] > 60).mean() > 0.02
        # below the nose and at the frame's sides: only the codec's noise
        assert diff[270:].mean() < 2.5 and diff[:, :30].mean() < 2.5
    stable = [line for line in text.splitlines() if line.startswith("temporal stability")]
    assert stable and "ratio" in stable[0]
    edited, original = (float(x) for x in
                        stable[0].split("change inside the face ")[1].replace(" (edited) vs ", " ").split()[:2])
    assert 0 < edited < 3 * original  # the edit does not flicker more than three times the footage moves


def test_a_frame_range_and_a_clip_without_faces(clip, samples_dir, tmp_path, capsys):
    out = tmp_path / "part.mkv"
    assert main(["video", str(clip), str(out), "--set", "hat=on", "--start", "3", "--end", "7"]) == 0
    info = probe(out)
    assert info.frames == 4 and info.has_audio
    assert abs(audio_seconds(out) - 4 / FPS) < 0.15
    blank = tmp_path / "blank.mp4"
    frames = make_clip(blank, samples_dir, audio=False, blank=True)
    out2 = tmp_path / "blank_out.mp4"
    assert main(["video", str(blank), str(out2), "--set", "hat=on", "--crf", "8"]) == 0
    assert f"{FRAMES} frames without a face left unchanged" in capsys.readouterr().out
    for a, b in zip(frames, decoded(out2), strict=True):
        assert np.abs(a.astype(np.int16) - b).mean() < 2.5


def test_bad_clips_and_outputs_are_refused(clip, tmp_path, capsys):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    assert main(["video", str(not_video), str(tmp_path / "o.mp4"), "--set", "hat=on"]) == 2
    assert "not a readable video" in capsys.readouterr().err
    assert main(["video", str(clip), str(tmp_path / "o.gif"), "--set", "hat=on"]) == 2
    assert "write the clip as" in capsys.readouterr().err
    assert main(["video", str(clip), str(tmp_path / "o.mp4"), "--start", "50"]) == 2
    assert "empty" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def test_one_euro_filter_steadies_a_still_point_and_follows_a_moving_one():
    rng = np.random.default_rng(0)
    still = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    noisy = 100 + rng.normal(0, 2, 120)
    smooth = np.array([still(i / 30, np.array([x]))[0] for i, x in enumerate(noisy)])
    assert np.std(np.diff(smooth[10:])) < 0.4 * np.std(np.diff(noisy[10:]))
    moving = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    ramp = 5.0 * np.arange(60)  # 150 px/s at 30 fps
    followed = np.array([moving(i / 30, np.array([x]))[0] for i, x in enumerate(ramp)])
    assert abs(followed[-1] - ramp[-1]) < 10  # lags by less than two frames' motion
    moving.reset()
    assert moving(3.0, np.array([7.0]))[0] == 7.0


def _numbered_frames(count: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """Frames that say which they are (a grey level per frame) and which way is up (a white top-left corner)."""
    frames = []
    for i in range(count):
        rgb = np.full((h, w, 3), 20 + (i * 7) % 200, np.uint8)
        rgb[:8, :12] = 255
        frames.append(rgb)
    return frames


def test_long_clips_interleave_audio_with_video(tmp_path):
    """A 14-s clip (longer than the muxer's 10-s buffer): in the written file, sound and picture never drift more
    than half a second apart in file order (the old code muxed the sound after every video packet)."""
    from smile_studio.video.clip import transcode

    frames = _numbered_frames(140)
    write_clip(tmp_path / "silent.mp4", frames, 10, crf=20)
    add_tone(tmp_path / "silent.mp4", tmp_path / "long.mp4", seconds=14)
    assert transcode(tmp_path / "long.mp4", tmp_path / "out.mp4", lambda i, rgb: rgb, crf=30) == 140
    latest = {"video": None, "audio": None}
    worst = 0.0
    with av.open(str(tmp_path / "out.mp4")) as box:
        for packet in box.demux():
            if packet.dts is None:
                continue
            latest[packet.stream.type] = float(packet.dts * packet.time_base)
            if None not in latest.values():
                worst = max(worst, abs(latest["video"] - latest["audio"]))
    assert latest["audio"] is not None and worst < 0.5, worst  # measured: 0.25 s (the old two-pass mux: 1.06 s)
    assert abs(audio_seconds(tmp_path / "out.mp4") - 14) < 0.2


def test_variable_frame_rate_clips_keep_their_timestamps(tmp_path):
    """A phone's variable frame rate: frames 40 ms or 100 ms apart. The output frames keep those times (a
    constant-rate output would drift from the sound by the end)."""
    from smile_studio.video.clip import transcode

    times = list(np.cumsum([0.0] + [0.04 if i % 3 else 0.1 for i in range(1, 30)]))
    write_clip(tmp_path / "silent.mp4", _numbered_frames(30), 25, crf=10, times=times)
    add_tone(tmp_path / "silent.mp4", tmp_path / "vfr.mp4", seconds=times[-1] + 0.04)
    assert transcode(tmp_path / "vfr.mp4", tmp_path / "out.mp4", lambda i, rgb: rgb, start=5, crf=10) == 25
    with av.open(str(tmp_path / "out.mp4")) as box:
        got = [float(f.time) for f in box.decode(video=0)]
    want = [t - times[5] for t in times[5:]]
    assert np.allclose(got, want, atol=0.002), (got[:6], want[:6])


def test_a_rotated_phone_clip_comes_out_upright(tmp_path):
    from smile_studio.video.clip import transcode

    stored = _numbered_frames(6)  # stored landscape 64x48, shown turned by the player
    write_clip(tmp_path / "turned.mp4", stored, 12, crf=0, rotation=90)
    info = probe(tmp_path / "turned.mp4")
    assert (info.width, info.height, info.rotation) == (48, 64, 1)
    seen = []
    assert transcode(tmp_path / "turned.mp4", tmp_path / "out.mp4", lambda i, rgb: seen.append(rgb.shape) or rgb,
                     crf=0) == 6
    assert seen == [(64, 48, 3)] * 6  # the edit sees the face the right way up
    out = decoded(tmp_path / "out.mp4")
    assert out[0].shape == (64, 48, 3)
    assert np.abs(out[0].astype(int) - np.rot90(stored[0], 1)).mean() < 3  # upright pixels, no metadata
    with av.open(str(tmp_path / "out.mp4")) as box:
        assert next(box.decode(video=0)).rotation == 0


def test_a_failing_edit_is_one_line_and_leaves_no_output(clip, tmp_path):
    from smile_studio.video.clip import VideoError, transcode

    def failing(i, rgb):
        if i == 3:
            raise RuntimeError("out of memory on the engine")
        return rgb

    with pytest.raises(VideoError, match="frame 3: the edit failed .RuntimeError: out of memory") as info:
        transcode(clip, tmp_path / "out.mp4", failing)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # neither the output nor its partial file
