"""Reading and writing clips with PyAV (FFmpeg): frames in order as RGB arrays, the edited frames encoded as
H.264 at the input's size and frame rate, and the audio of the frames written copied packet by packet (no
re-encoding). The output is written under a temporary name and renamed when complete."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


class VideoError(ValueError):
    """A clip that cannot be read or written; the message says why."""


@dataclass(frozen=True)
class ClipInfo:
    width: int
    height: int
    fps: Fraction
    frames: int  # from the container; counted by decoding when it does not say
    has_audio: bool


def probe(path: str | Path) -> ClipInfo:
    import av

    try:
        with av.open(str(path)) as box:
            if not box.streams.video:
                raise VideoError(f"{path}: no video stream")
            v = box.streams.video[0]
            frames = v.frames or sum(1 for _ in box.decode(video=0))
            fps = v.average_rate or v.guessed_rate or Fraction(25)
            return ClipInfo(v.codec_context.width, v.codec_context.height, Fraction(fps), frames,
                            bool(box.streams.audio))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{path}: not a readable video ({exc})") from exc


def write_clip(path: str | Path, images: list[np.ndarray], fps: int, crf: int = 18) -> None:
    """RGB frames of one size as an H.264 clip (no audio): test footage, benchmarks."""
    import av

    with av.open(str(path), "w") as box:
        v = box.add_stream("libx264", rate=fps)
        v.height, v.width = images[0].shape[:2]
        v.pix_fmt = "yuv420p"
        v.options = {"crf": str(crf)}
        for i, rgb in enumerate(images):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in v.encode(frame):
                box.mux(packet)
        for packet in v.encode():
            box.mux(packet)


def frames(path: str | Path) -> Iterator[np.ndarray]:
    """Every frame as (H, W, 3) uint8 RGB, in order."""
    import av

    with av.open(str(path)) as box:
        for frame in box.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def transcode(src: str | Path, dst: str | Path, edit: Callable[[int, np.ndarray], np.ndarray],
              start: int = 0, stop: int | None = None, crf: int = 18,
              progress: Callable[[int], None] | None = None, info: ClipInfo | None = None) -> int:
    """Write frames ``start``..``stop`` (exclusive) of ``src``, each passed through ``edit(index, rgb)``, and the
    audio of that span, to ``dst``. ``info``: the clip's :func:`probe`, when the caller has it (probing a
    container that does not store its frame count decodes the whole clip). Returns the number of frames
    written."""
    import av

    info = info or probe(src)
    dst = Path(dst)
    partial = dst.with_name(f".{dst.name}.partial{dst.suffix}")
    written = 0
    try:
        with av.open(str(src)) as box, av.open(str(partial), "w") as out:
            v_in = box.streams.video[0]
            v_out = out.add_stream("libx264", rate=info.fps)
            v_out.width, v_out.height = info.width, info.height
            even = info.width % 2 == 0 and info.height % 2 == 0
            v_out.pix_fmt = "yuv420p" if even else "yuv444p"  # 4:2:0 needs even sides
            v_out.options = {"crf": str(crf), "preset": "medium"}
            a_in = box.streams.audio[0] if box.streams.audio else None
            a_out = out.add_stream_from_template(a_in) if a_in is not None else None
            t0 = t1 = None
            for i, frame in enumerate(box.decode(v_in)):
                if i < start:
                    continue
                if stop is not None and i >= stop:
                    break
                if t0 is None:
                    t0 = float(frame.time or 0.0)
                t1 = float(frame.time or 0.0) + 1 / float(info.fps)
                rgb = edit(i, frame.to_ndarray(format="rgb24"))
                new = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, np.uint8), format="rgb24")
                new.pts = written
                new.time_base = Fraction(1) / info.fps
                for packet in v_out.encode(new):
                    out.mux(packet)
                written += 1
                if progress is not None:
                    progress(written)
            for packet in v_out.encode():
                out.mux(packet)
            if a_in is not None and t0 is not None:
                _copy_audio(src, out, a_in.index, a_out, t0, t1)
        os.replace(partial, dst)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{dst}: cannot write the video ({exc})") from exc
    finally:
        partial.unlink(missing_ok=True)
    return written


def _copy_audio(src, out, index: int, a_out, t0: float, t1: float) -> None:
    """The audio packets of [t0, t1) of the source, shifted to start at 0."""
    import av

    with av.open(str(src)) as box:
        stream = box.streams[index]
        tb = stream.time_base
        offset = int(round(t0 / tb)) if tb else 0
        for packet in box.demux(stream):
            if packet.dts is None or packet.pts is None:
                continue
            t = float(packet.pts * tb)
            if t < t0 - 1e-6 or t >= t1:
                continue
            packet.pts -= offset
            packet.dts -= offset
            packet.stream = a_out
            out.mux(packet)
