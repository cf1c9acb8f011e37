"""Restoration problems: from an image and a task to (observation, energy, reference, baseline).

Each builder keeps the measurement (physics) separate from the prior that will be fitted to it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import energies, memory, stopping
from .energies import Energy
from .engine import FitConfig
from .errors import InvertError, SettingError
from .physics import Downsample, add_gaussian_noise, random_mask


@dataclass
class Problem:
    task: str
    observation: torch.Tensor  # what the fit sees (the degraded image), at its own size
    energy: Energy
    output_size: tuple[int, int]  # H, W of the restored image
    channels: int
    reference: torch.Tensor | None = None  # the clean image, when known
    baseline: torch.Tensor | None = None  # the classical answer at output size (noisy / bicubic / masked)
    notes: list[str] = field(default_factory=list)


MIN_SIDE = 8  # smaller images have no neighbourhoods for the noise estimate, TV or SSIM to work in


def _check_size(image: torch.Tensor, what: str = "image") -> None:
    h, w = image.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise InvertError(f"the {what} is {w}×{h}; restoration needs at least {MIN_SIDE} pixels a side")


def denoise(image: torch.Tensor, sigma: float | None = None, seed: int = 0) -> Problem:
    """`sigma` given (0–255 scale): `image` is clean, noise is added with `seed`. Else `image` is noisy."""
    _check_size(image)
    if sigma is not None:
        if not 0 < sigma < math.inf:
            raise SettingError("sigma", f"must be a positive, finite noise level on the 0–255 scale, got {sigma}")
        noisy = add_gaussian_noise(image, sigma / 255, seed)
        reference = image
    else:
        noisy, reference = image, None
    return Problem("denoise", noisy, energies.denoising(noisy), tuple(image.shape[-2:]), image.shape[1],
                   reference, noisy)


def super_resolve(image: torch.Tensor, factor: int, from_hr: bool = False, kernel: str = "lanczos2") -> Problem:
    """`from_hr`: `image` is the high-resolution reference, downscaled by `factor` first."""
    if factor < 2 or int(factor) != factor:
        raise SettingError("factor", f"must be a whole number ≥ 2, got {factor}")
    h, w = image.shape[-2:]
    notes = []
    if from_hr:
        if h % factor or w % factor:
            raise SettingError("factor", f"{factor} does not divide the image size {w}×{h}; crop the image to a "
                                         f"multiple of {factor}")
        reference = image
        low = Downsample(factor, kernel, image.shape[1])(image).clamp(0, 1)
        notes.append(f"downscaled the {w}×{h} reference by {factor} with {kernel}")
    else:
        reference, low = None, image
    _check_size(low, "low-resolution image")
    out = (low.shape[-2] * factor, low.shape[-1] * factor)
    # the bicubic baseline and the fit's images at the output size; a huge factor is refused here
    memory.ensure_fits(8 * out[0] * out[1] * image.shape[1] * 4, "cpu", f"a {out[1]}×{out[0]} output",
                       "choose a smaller factor or a smaller image")
    bicubic = F.interpolate(low, size=out, mode="bicubic", align_corners=False).clamp(0, 1)
    energy = energies.super_resolution(low, factor, kernel)
    return Problem("sr", low, energy, out, image.shape[1], reference, bicubic, notes)


def inpaint(image: torch.Tensor, mask: torch.Tensor | None = None, drop: float | None = None, seed: int = 0) -> Problem:
    """Fill the pixels where `mask` is 0, or a random `drop` fraction of them (drawn with `seed`)."""
    _check_size(image)
    if (mask is None) == (drop is None):
        raise InvertError("inpainting needs exactly one of mask and drop")
    notes = []
    if drop is not None:
        if not 0 < drop < 1:
            raise SettingError("drop", f"must be a fraction between 0 and 1, got {drop}")
        mask = random_mask(tuple(image.shape[-2:]), drop, seed)
        notes.append(f"dropped {drop:.0%} of the pixels at random (seed {seed})")
    elif not mask.any():
        raise SettingError("mask", "marks no pixel as known (it is all black): there is nothing to fill from; "
                                   "white marks the known pixels")
    elif mask.all():
        raise SettingError("mask", "marks every pixel as known (it is all white): there is nothing to inpaint; "
                                   "black marks the pixels to fill")
    masked = image * mask
    return Problem("inpaint", masked, energies.inpainting(image, mask), tuple(image.shape[-2:]), image.shape[1],
                   image, masked, notes)


def stop_residual(problem: Problem, config: FitConfig) -> float | None:
    """The residual at which auto-stop ends this fit, or None for the output-variance rule.

    Denoising stops by the discrepancy principle (noise level estimated from the input) when the shown
    output keeps up with the fit. A moving average without warm-up (the paper preset) lags hundreds of
    steps behind it, so there, as for every other task, the output variance (ES-WMV) decides.
    """
    if problem.task == "denoise" and (config.ema == 0 or config.ema_warmup):
        # an input with no measurable noise (a flat image) has no level to stop at
        return stopping.residual_target(problem.observation) or None
    return None
