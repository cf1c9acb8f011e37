"""Stopping without a reference image: DIP fits the image first and the noise later, so stop in between.

`VarianceStop` is ES-WMV (Wang et al., "Early Stopping for Deep Image Prior", TMLR 2023): while the
generator is still learning structure its outputs change a lot from step to step; near the best
reconstruction they settle; once it starts copying the noise they drift again. The variance of a
window of recent outputs therefore has a minimum close to the PSNR peak, and it can be computed from
the outputs alone.
"""
from __future__ import annotations

import math
from collections import deque

import torch


class VarianceStop:
    """Stop when the windowed output variance has set no new minimum for `patience` steps.

    `update` is fed every step's raw output (what the variance is measured on) and the output that
    would be shown (the moving average when the fit keeps one); the shown output at the variance
    minimum is kept as `image`.
    """

    def __init__(self, window: int = 100, patience: int = 300):
        if window < 2 or patience < 1:
            raise ValueError("auto-stop needs a window of at least 2 outputs and a patience of at least 1 step")
        self.window, self.patience = window, patience
        self._recent: deque[torch.Tensor] = deque()
        self._sum: torch.Tensor | None = None
        self._squares: torch.Tensor | None = None
        self.variance = math.nan  # of the current window; NaN until the window is full
        self.best_variance = math.inf
        self.best_step = -1
        self.image: torch.Tensor | None = None

    def update(self, step: int, raw: torch.Tensor, shown: torch.Tensor) -> bool:
        """Record one step; True when the fit should stop."""
        x = raw.detach().to(torch.float64)
        if self._sum is None:
            self._sum, self._squares = torch.zeros_like(x), torch.zeros_like(x)
        self._recent.append(x)
        self._sum.add_(x)
        self._squares.addcmul_(x, x)
        if len(self._recent) > self.window:
            old = self._recent.popleft()
            self._sum.sub_(old)
            self._squares.addcmul_(old, old, value=-1)
        if len(self._recent) < self.window:
            return False
        mean = self._sum / self.window
        self.variance = float((self._squares / self.window - mean * mean).clamp_min_(0).mean())
        if self.variance < self.best_variance:
            self.best_variance, self.best_step = self.variance, step
            self.image = shown.detach().clone()
        return step - self.best_step >= self.patience

    @property
    def window_mean(self) -> torch.Tensor | None:
        """The mean of the current window of raw outputs (None until the first step)."""
        return None if self._sum is None else (self._sum / len(self._recent)).float()
