"""Reading and writing clips with PyAV (FFmpeg): frames in order as upright RGB arrays (a phone clip's rotation
metadata applied), the edited frames encoded as H.264 at the source's timestamps (variable frame rates stay in
sync with their sound), and the audio of the frames copied packet by packet (no re-encoding), interleaved with
the video in the source's order. The output is written under a temporary name and renamed when complete; any
failure removes it and is one VideoError."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


class VideoError(ValueError):
    """A clip that cannot be read or written; the message says why."""


@dataclass(frozen=True)
class ClipInfo:
    width: int  # as displayed (after the rotation)
    height: int
    fps: Fraction  # the average rate (a variable-rate clip keeps its own timestamps)
    frames: int  # from the container; counted by decoding when it does not say
    has_audio: bool
    rotation: int = 0  # quarter turns counter-clockwise the stored frames need to be upright (0..3)


def quarter_turns(frame) -> int:
    """The rotation metadata of a decoded frame (degrees counter-clockwise) as np.rot90's k."""
    return int(round(float(getattr(frame, "rotation", 0) or 0) / 90)) % 4


def probe(path: str | Path) -> ClipInfo:
    import av

    try:
        with av.open(str(path)) as box:
            if not box.streams.video:
                raise VideoError(f"{path}: no video stream")
            v = box.streams.video[0]
            first = next(box.decode(video=0), None)
            if first is None:
                raise VideoError(f"{path}: the video stream holds no frame")
            turns = quarter_turns(first)
            box.seek(0)
            frames = v.frames or sum(1 for _ in box.decode(video=0))
            fps = v.average_rate or v.guessed_rate or Fraction(25)
            w, h = v.codec_context.width, v.codec_context.height
            return ClipInfo(*((h, w) if turns % 2 else (w, h)), Fraction(fps), frames, bool(box.streams.audio),
                            turns)
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{path}: not a readable video ({exc})") from exc


def write_clip(path: str | Path, images: list[np.ndarray], fps: int, crf: int = 18, rotation: int = 0,
               times: list[float] | None = None) -> None:
    """RGB frames of one size as an H.264 clip (no audio): test footage, benchmarks. ``rotation``: display
    metadata (degrees counter-clockwise, as phones write it); ``times``: each frame's time in seconds (a variable
    frame rate; default i / fps)."""
    import av

    with av.open(str(path), "w") as box:
        v = box.add_stream("libx264", rate=fps)
        v.height, v.width = images[0].shape[:2]
        v.pix_fmt = "yuv420p"
        v.options = {"crf": str(crf)}
        tb = Fraction(1, 1000) if times is not None else Fraction(1, fps)
        v.codec_context.time_base = tb
        if rotation:
            v.set_display_rotation(rotation)
        for i, rgb in enumerate(images):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, np.uint8), format="rgb24")
            frame.pts = round(times[i] * 1000) if times is not None else i
            frame.time_base = tb
            for packet in v.encode(frame):
                box.mux(packet)
        for packet in v.encode():
            box.mux(packet)


def transcode(src: str | Path, dst: str | Path, edit: Callable[[int, np.ndarray], np.ndarray],
              start: int = 0, stop: int | None = None, crf: int = 18,
              progress: Callable[[int], None] | None = None, info: ClipInfo | None = None) -> int:
    """Write frames ``start``..``stop`` (exclusive) of ``src``, each upright and passed through
    ``edit(index, rgb)``, and the audio of that span, to ``dst``: one pass over the source's packets in their
    order, so the output interleaves as the source does. Frames keep their timestamps (shifted to start at 0),
    audio packets theirs. ``info``: the clip's :func:`probe`, when the caller has it. Returns the number of
    frames written; VideoError (and no output) on any failure."""
    import av

    info = info or probe(src)
    dst = Path(dst)
    partial = dst.with_name(f".{dst.name}.partial{dst.suffix}")
    state = {"written": 0}
    try:
        with av.open(str(src)) as box, av.open(str(partial), "w") as out:
            _copy_span(box, out, info, edit, start, stop, crf, progress, state)
        os.replace(partial, dst)
    except VideoError:
        raise
    except av.error.FFmpegError as exc:
        raise VideoError(f"{dst}: cannot write the video ({exc})") from exc
    except OSError as exc:
        raise VideoError(f"{dst}: cannot write the video ({exc.strerror or exc})") from exc
    except Exception as exc:  # noqa: BLE001 - an edit that failed: one line naming the frame, no partial file
        raise VideoError(f"frame {start + state['written']}: the edit failed ({type(exc).__name__}: {exc})") \
            from exc
    finally:
        partial.unlink(missing_ok=True)
    return state["written"]


def _copy_span(box, out, info: ClipInfo, edit, start: int, stop: int | None, crf: int,
               progress: Callable[[int], None] | None, state: dict) -> None:
    import av

    v_in = box.streams.video[0]
    v_out = out.add_stream("libx264", rate=info.fps)
    v_out.width, v_out.height = info.width, info.height
    v_out.codec_context.time_base = v_in.time_base  # the source's clock: variable frame rates keep their times
    v_out.pix_fmt = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"  # 4:2:0: even sides
    v_out.options = {"crf": str(crf), "preset": "medium"}
    a_in = box.streams.audio[0] if box.streams.audio else None
    a_out = out.add_stream_from_template(a_in) if a_in is not None else None
    index, t0, t1, last_pts, pending = 0, None, None, None, []  # pending: audio read before its span is known
    frame_span = 1 / float(info.fps)

    def flush_audio(until: float | None) -> None:
        """Mux the waiting audio packets that start before ``until`` (all when None) and inside the span."""
        keep = []
        for packet in pending:
            t = _seconds(packet)
            if until is not None and t >= until:
                keep.append(packet)
            elif t0 is not None and t >= t0 - 1e-6 and (t1 is None or t < t1):
                shift = int(round(t0 / packet.time_base))
                if packet.pts is not None:
                    packet.pts -= shift
                packet.dts -= shift
                packet.stream = a_out
                out.mux(packet)
        pending[:] = keep

    packets = box.demux([v_in] + ([a_in] if a_in is not None else []))
    for packet in packets:
        if packet.stream.type == "audio":
            if packet.dts is not None and t1 is None:  # (a packet without pts is timed by its dts)
                pending.append(packet)
            continue
        for frame in packet.decode():
            time = float(frame.time) if frame.time is not None else index * frame_span
            if index < start:
                index += 1
                pending[:] = [p for p in pending if _seconds(p) >= time]  # before the span
                continue
            if stop is not None and index >= stop:
                t1 = time  # the first frame left out: audio stops here
                break
            if t0 is None:
                t0 = time
            rgb = frame.to_ndarray(format="rgb24")
            if info.rotation:
                rgb = np.rot90(rgb, info.rotation)
            new = av.VideoFrame.from_ndarray(np.ascontiguousarray(edit(index, rgb), np.uint8), format="rgb24")
            pts = round((time - t0) / v_in.time_base)
            new.pts = pts if last_pts is None or pts > last_pts else last_pts + 1
            new.time_base = v_in.time_base
            last_pts = new.pts
            for out_packet in v_out.encode(new):
                out.mux(out_packet)
            index += 1
            state["written"] += 1
            if progress is not None:
                progress(state["written"])
            flush_audio(time)
        if t1 is not None:
            break
    if t1 is None and t0 is not None:  # the clip's end: the span ends a frame after its last frame
        t1 = t0 + float(last_pts * v_in.time_base) + frame_span
    for out_packet in v_out.encode():
        out.mux(out_packet)
    if a_in is not None and t1 is not None:  # stopped early: the span's audio stored after its last frame (at the
        # clip's end there is nothing left to read)
        for packet in packets:
            if packet.stream.type == "audio" and packet.dts is not None:
                if _seconds(packet) >= t1:
                    break
                pending.append(packet)
    flush_audio(None)


def _seconds(packet) -> float:
    """A packet's presentation time in seconds (its decoding time when it has no presentation time)."""
    return float((packet.pts if packet.pts is not None else packet.dts) * packet.time_base)
