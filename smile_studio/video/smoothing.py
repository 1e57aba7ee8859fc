"""The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) for landmark tracks: a low-pass filter whose cut-off
rises with the signal's speed, so a still face stops jittering while a moving one is followed without lag."""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters arrays of any fixed shape (e.g. 68 x 2 landmarks), element-wise. ``min_cutoff`` (Hz): smoothing
    of slow motion (lower = smoother); ``beta``: how fast the cut-off grows with speed (higher = less lag)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.t: float | None = None
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the track (a cut, or the face was lost)."""
        self.t = self.x = self.dx = None

    def __call__(self, t: float, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.x is None or self.t is None or t <= self.t:
            self.t, self.x, self.dx = t, x.copy(), np.zeros_like(x)
            return x.copy()
        dt = t - self.t
        dx = (x - self.x) / dt
        a_d = _alpha(self.d_cutoff, dt)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx)
        tau = 1.0 / (2 * np.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        self.x = a * x + (1 - a) * self.x
        self.t = t
        return self.x.copy()
