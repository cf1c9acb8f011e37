"""Stopping without a reference image: DIP fits the image first and the noise later, so stop in between.

`DiscrepancyStop` serves denoising, where the noise level can be estimated from the noisy image itself:
Morozov's discrepancy principle stops once the residual ‖x − y‖²/n has fallen to (a little under) the
noise variance σ², since a fit any closer must be copying noise.

`VarianceStop` serves every task; it is ES-WMV (Wang et al., "Early Stopping for Deep Image Prior",
TMLR 2023): while the generator is still learning structure its outputs change a lot from step to step; near the best
reconstruction they settle; once it starts copying the noise they drift again. The variance of a
window of recent outputs therefore has a minimum close to the PSNR peak, and it can be computed from
the outputs alone.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import SettingError

# the residual, as a fraction of the estimated noise variance, at which denoising stops: chosen among
# 0.85 / 0.90 / 0.95 on 13 design images (bench/trajectories.py, splits dev + design)
DISCREPANCY = 0.95
# the same on the luminance residual, for presets that keep colour noise out of the fit (`stop_luminance`)
LUMINANCE_DISCREPANCY = 0.8


# A photo's noise is correlated over a few pixels (demosaicking, the camera's own filtering, JPEG), so a
# high-pass filter over neighbouring pixels sees a fraction of it: on synthetic camera noise (invert.camera)
# the 3×3 estimate found 0.2–0.7 of the true σ. Its taps spread 2 pixels apart see white noise alike but
# camera noise 1.6–3.6× more strongly (white noise at σ ≥ 5: at most 1.5× on 21 crops, textures included),
# which tells the two apart; taps 3 pixels apart see all of correlated noise, and the texture they also
# see is avoided by measuring in blocks and keeping a low quantile (the flattest blocks).
WHITE_RATIO = 1.75
CORRELATED_DILATION = 3
BLOCK = 16
BLOCK_QUANTILE = 0.3
_LAPLACIAN_DIFFERENCE = torch.tensor([[1.0, -2, 1], [-2, 4, -2], [1, -2, 1]])  # Σw² = 36


@dataclass
class NoiseEstimate:
    sigma: float  # on the image's scale
    correlated: bool  # measured as camera-like noise, correlated between neighbouring pixels


def _response(image: torch.Tensor, dilation: int) -> torch.Tensor:
    """The Laplacian-difference response with taps `dilation` pixels apart, per channel, divided by its
    weights' norm so that white noise of σ gives a response of σ."""
    c = image.shape[1]
    kernel = _LAPLACIAN_DIFFERENCE.to(image).expand(c, 1, 3, 3)
    return F.conv2d(image, kernel, groups=c, dilation=dilation) / 6


def _robust_sigma(response: torch.Tensor) -> float:
    return float(response.abs().median() / 0.6745)


def estimate_noise(image: torch.Tensor) -> NoiseEstimate:
    """σ of the noise in an N×C×H×W image, white or correlated. White noise: Immerkær's estimate ("Fast
    noise variance estimation", 1996); image structure adds a little to it. Correlated noise: the blocks'
    robust σ at taps 3 pixels apart, a low quantile over blocks, the root mean square over channels. An
    image under 3 pixels a side has no neighbourhood to measure in: 0."""
    if min(image.shape[-2:]) < 3:
        return NoiseEstimate(0.0, False)
    fine = _response(image, 1)
    white = float(math.sqrt(math.pi / 2) * fine.abs().mean())
    if min(image.shape[-2:]) < 2 * CORRELATED_DILATION + 1:
        return NoiseEstimate(white, False)
    if _robust_sigma(_response(image, 2)) <= WHITE_RATIO * _robust_sigma(fine):
        return NoiseEstimate(white, False)
    return NoiseEstimate(float(block_sigmas(image).quantile(BLOCK_QUANTILE, dim=1).pow(2).mean().sqrt()), True)


def block_sigmas(image: torch.Tensor) -> torch.Tensor:
    """C×L: a robust σ per channel and block of the response with taps `CORRELATED_DILATION` pixels apart."""
    coarse = _response(image, CORRELATED_DILATION).abs()[0]  # C×h×w
    c, h, w = coarse.shape
    block = min(BLOCK, h, w)
    per_block = F.unfold(coarse.unsqueeze(1), block, stride=block)  # C×block²×L
    return per_block.median(1).values / 0.6745


def luminance(image: torch.Tensor) -> torch.Tensor:
    """N×1×H×W: the mean of an image's channels."""
    return image.mean(1, keepdim=True)


def noise_sigma(image: torch.Tensor) -> float:
    """σ of the noise in `image` (see `estimate_noise`)."""
    return estimate_noise(image).sigma


class DiscrepancyStop:
    """Stop at the first step whose mean squared residual is at most `threshold`; keep that step's output.

    `extend` > 1 runs on to ⌈extend · s⌉ when the threshold was reached at step s, and keeps that output:
    with total variation in the energy the shown moving average still improves for a while after the
    fit reaches the noise level.
    """

    def __init__(self, threshold: float, extend: float = 1.0):
        if threshold <= 0:
            raise SettingError("threshold", f"= {threshold}; the discrepancy threshold must be positive")
        if extend < 1:
            raise SettingError("extend", f"= {extend}; the discrepancy rule's extension must be at least 1")
        self.threshold, self.extend = threshold, extend
        self.reached_step: int | None = None
        self.chosen_step = -1
        self.image: torch.Tensor | None = None

    def update(self, step: int, residual: float, shown: torch.Tensor | None = None) -> bool:
        if self.reached_step is None:
            if residual > self.threshold:
                return False
            self.reached_step = step
        if step < math.ceil(self.reached_step * self.extend):
            return False
        self.chosen_step = step
        self.image = shown.detach().clone() if shown is not None else None
        return True

    def __call__(self, step: int, data_term: float, raw: torch.Tensor, shown: torch.Tensor) -> bool:
        return self.update(step, data_term, shown)


class LuminanceDiscrepancyStop(DiscrepancyStop):
    """The discrepancy rule on the luminance alone. A prior that keeps a camera's coloured noise out of the
    fit (total variation of the colour channels) leaves that noise in the residual for good, so the whole
    residual never falls to the noise level; its luminance does, once the fit starts copying grain."""

    def __init__(self, observation: torch.Tensor, threshold: float, extend: float = 1.0):
        super().__init__(threshold, extend)
        self.target = luminance(observation)

    def __call__(self, step: int, data_term: float, raw: torch.Tensor, shown: torch.Tensor) -> bool:
        residual = float((luminance(raw.detach()) - self.target.to(raw.device)).pow(2).mean())
        return self.update(step, residual, shown)


class VarianceStop:
    """Stop when the windowed output variance has not come back near its minimum for `patience` steps.

    `update` is fed every step's raw output (what the variance is measured on) and the output that
    would be shown (the moving average when the fit keeps one). The kept output (`image`, from
    `chosen_step`) is the latest whose variance is within `tolerance` (relative) of the minimum so
    far. With tolerance 0 that is ES-WMV's rule, the minimum itself; a small tolerance matters when
    the variance sits on a long flat floor, where the exact minimum is an accident of noise and
    often lies early on the floor, before the moving average has peaked.
    """

    def __init__(self, window: int, patience: int, tolerance: float = 0.0, warmup: int | None = None):
        if window < 2 or patience < 1 or tolerance < 0:
            raise SettingError("window", f"= {window}, patience = {patience}, tolerance = {tolerance}: auto-stop needs "
                                         "a window of at least 2 outputs, a patience of at least 1 step and a "
                                         "tolerance of at least 0")
        self.window, self.patience, self.tolerance = window, patience, tolerance
        # the first outputs change fast, then briefly slow down: a dip that is not the minimum sought
        self.warmup = 2 * window if warmup is None else warmup
        self._recent: deque[torch.Tensor] = deque()
        self._sum: torch.Tensor | None = None
        self._squares: torch.Tensor | None = None
        self.variance = math.nan  # of the current window; NaN until the window is full
        self.best_variance = math.inf
        self.chosen_step = -1
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
        return self.observe(step, self.variance, shown)

    def observe(self, step: int, variance: float, shown: torch.Tensor | None = None) -> bool:
        """The decision alone, from a variance measured elsewhere (also used to replay recorded runs)."""
        if step < self.warmup:
            return False
        self.best_variance = min(self.best_variance, variance)
        if variance <= (1 + self.tolerance) * self.best_variance:
            self.chosen_step = step
            self.image = shown.detach().clone() if shown is not None else None
        return step - self.chosen_step >= self.patience

    def __call__(self, step: int, data_term: float, raw: torch.Tensor, shown: torch.Tensor) -> bool:
        return self.update(step, raw, shown)

    @property
    def window_mean(self) -> torch.Tensor | None:
        """The mean of the current window of raw outputs (None until the first step)."""
        return None if self._sum is None else (self._sum / len(self._recent)).float()
