"""Temporal stability of a layout edit carried through a clip: the mean frame-to-frame change inside the face
(0-255 levels) of the original footage, of the edit with landmarks smoothed (One-Euro, the default), and of the
edit with raw per-frame landmarks — measured in one process on the same clip, with the time per frame.

The clip is made from a sample photo (../shared/samples) as hand-held footage: a slow pan plus 1.5 px of random
shake per frame, 48 frames at 24 fps, 512x512, encoded nearly losslessly.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import SHARED, machine_line

from smile_studio.cli.main import build_parser
from smile_studio.cli.recipe import build_recipe, engines_for, settle_options
from smile_studio.cli.video import FrameEditor
from smile_studio.core.imageio import read_image
from smile_studio.video.clip import transcode, write_clip


def make_clip(path: Path, frames: int, side: int = 512, fps: int = 24) -> None:
    base = cv2.resize(read_image(SHARED / "samples" / "maskgan_1.jpg"), (side, side), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    images = []
    for i in range(frames):
        dx, dy = 0.5 * i - frames / 4 + rng.normal(0, 1.5), rng.normal(0, 1.5)
        images.append(cv2.warpAffine(base, np.float32([[1, 0, dx], [0, 1, dy]]), (side, side),
                                     borderMode=cv2.BORDER_REFLECT))
    write_clip(path, images, fps, crf=4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--set", default="eyeglasses=on,hat=on")
    ap.add_argument("--engine", default="auto")
    opts = ap.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_clip(clip, opts.frames)
        results = {}
        for label, smoothing in (("smoothed landmarks", "1.0"), ("raw landmarks", "0")):
            args = build_parser().parse_args(["video", str(clip), str(Path(tmp) / "out.mp4"), "--set", opts.set,
                                              "--engine", opts.engine, "--smoothing", smoothing])
            settle_options(args)
            layout, render, why = engines_for(args.engine)
            editor = FrameEditor(build_recipe(args), layout, render, args, 24.0)
            t0 = time.perf_counter()
            n = transcode(clip, args.output, editor, crf=4)
            results[label] = (editor.stability(), (time.perf_counter() - t0) / n)
        print(f"engine: {why}; {opts.frames} frames at 512x512, edit {opts.set}")
        original = results["smoothed landmarks"][0][0]
        print(f"  original footage:   {original:.2f} levels frame to frame inside the face")
        for label, ((_, edited), per_frame) in results.items():
            print(f"  edit, {label}: {edited:.2f} levels ({edited / original:.2f}x the footage's), "
                  f"{per_frame * 1000:.0f} ms/frame")


if __name__ == "__main__":
    main()
