"""``smile-studio video IN OUT``: one layout edit carried through a clip (upright: a phone's rotation metadata is
applied; its timestamps kept, so variable frame rates stay in sync with the sound). Per frame the face is detected, its
landmarks smoothed over time (One-Euro filter), aligned, parsed and edited with the first face's attributes,
the recipe's seed and its styles locked, and put back into the frame; frames without a face pass unchanged. The
audio is copied. The summary reports the temporal stability: the mean frame-to-frame change inside the face,
edited vs original."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .errors import CliError
from .recipe import (
    PRECEDENCE,
    add_recipe_arguments,
    apply_recipe,
    at_photo_size,
    build_recipe,
    engines_for,
    make_folder,
    settle_options,
)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")


def add_video_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="the clip (any format FFmpeg reads)")
    p.add_argument("output", help="the edited clip: .mp4, .mkv or .mov (H.264; the audio is copied)")
    p.add_argument("--recipe", help=f"a recipe file (File > Save recipe); {PRECEDENCE}")
    add_recipe_arguments(p)
    p.add_argument("--start", type=int, default=0, help="first frame to write (0-based)")
    p.add_argument("--end", type=int, help="frame to stop before (default: the end)")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality: 0 lossless ... 51 worst (default 18)")
    p.add_argument("--smoothing", type=float, default=1.0,
                   help="landmark smoothing: the One-Euro filter's cut-off in Hz (lower = steadier; 0 = off)")


class FrameEditor:
    """Edits frame after frame; holds the landmark track, the locked attributes and the stability sums."""

    def __init__(self, recipe, layout, render, args: argparse.Namespace, fps: float):
        from ..video.smoothing import OneEuroFilter

        self.recipe, self.layout, self.render, self.args, self.fps = recipe, layout, render, args, fps
        self.track = OneEuroFilter(min_cutoff=args.smoothing) if args.smoothing > 0 else None
        self.attributes: dict | None = None
        self.without_face = 0
        self.previous: tuple[np.ndarray, np.ndarray] | None = None  # (input, output) of the last frame
        self.change = {"original": [], "edited": []}

    def __call__(self, index: int, rgb: np.ndarray) -> np.ndarray:
        from ..face.geometry import NoFaceDetected
        from ..face.landmarks import detect_faces
        from ..face.paste import map_at_photo_size
        from ..opening import document_from_photo

        try:
            face, _ = detect_faces(rgb, self.args.face - 1, thorough=False)
        except NoFaceDetected:
            self.without_face += 1
            if self.track is not None:
                self.track.reset()
            self.previous = None
            return rgb
        eyes, points = np.asarray(face.eyes, np.float64), face.points
        if self.track is not None:
            both = self.track(index / self.fps, eyes if points is None else np.vstack([eyes, points]))
            eyes, points = both[:2], (both[2:] if points is not None else None)
        doc = document_from_photo(rgb, f"frame {index}", self.args.size, eyes=tuple(map(tuple, eyes)),
                                  known_attributes=self.attributes, points=points)
        if self.attributes is None:  # the key frame: every later frame keeps its attributes
            self.attributes = dict(doc.attributes, **self.recipe.overrides)
        _, result, image = apply_recipe(self.recipe, doc, self.layout, self.render, large=False)
        out = at_photo_size(doc, result.labels, image, self.recipe.styles, texture=False)
        region = map_at_photo_size(doc.labels, doc.alignment, rgb.shape) > 0
        if self.previous is not None and region.any():
            for key, now, before in (("original", rgb, self.previous[0]), ("edited", out, self.previous[1])):
                self.change[key].append(float(np.abs(now.astype(np.int16) - before)[region].mean()))
        self.previous = (rgb, out)
        return out

    def stability(self) -> tuple[float, float] | None:
        """(mean frame-to-frame change inside the face of the original, of the edit), 0-255 levels."""
        if not self.change["original"]:
            return None
        return float(np.mean(self.change["original"])), float(np.mean(self.change["edited"]))


def run_video(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..video.clip import VideoError, probe, transcode

    settle_options(args, args.recipe)
    if Path(args.output).suffix.lower() not in VIDEO_SUFFIXES:
        raise CliError(f"{args.output}: write the clip as {', '.join(VIDEO_SUFFIXES)}")
    if Path(args.output).resolve() == Path(args.input).resolve():
        raise CliError("the output would overwrite the input clip")
    try:
        info = probe(args.input)
    except VideoError as exc:
        raise CliError(str(exc)) from exc
    end = info.frames if args.end is None else min(args.end, info.frames)
    if not 0 <= args.start < end:
        raise CliError(f"frames {args.start}..{end} are empty (the clip has {info.frames} frames)")
    if not 0 <= args.crf <= 51:
        raise CliError("--crf must be between 0 and 51")
    if args.enhance is not None:  # about a second a frame, and the fringe and scalp mirrors are off in video too
        print(f"note: Enhance ({args.enhance}) is not used for video frames")
        args.enhance = None
    recipe = build_recipe(args)
    layout, render, why = engines_for(args.engine, args.server, args.token_file)
    print(f"engine: {why}")
    editor = FrameEditor(recipe, layout, render, args, float(info.fps))
    make_folder(Path(args.output).parent)
    bar = tqdm(total=end - args.start, desc="video", unit="frame", file=sys.stderr)
    try:
        written = transcode(args.input, args.output, editor, args.start, end, crf=args.crf,
                            progress=lambda n: bar.update(1), info=info)
    except VideoError as exc:
        raise CliError(str(exc)) from exc
    finally:
        bar.close()
    audio = "audio copied" if info.has_audio else "no audio"
    print(f"video: {written} frames at {float(info.fps):.3g} fps, {info.width}x{info.height}, {audio} -> "
          f"{args.output}" + (f"; {editor.without_face} frames without a face left unchanged"
                              if editor.without_face else ""))
    stable = editor.stability()
    if stable is not None:
        print(f"temporal stability: mean frame-to-frame change inside the face {stable[1]:.2f} (edited) vs "
              f"{stable[0]:.2f} (original) levels, ratio {stable[1] / max(stable[0], 1e-9):.2f}")
    return 0
