"""Lucid's Fourier parameterization (Olah, Mordvintsev & Schubert, Distill 2017): the field's standard
image parameterization for feature visualization, here as a prior beside DIP and the Deep Decoder.

The parameters are a 2-D spectrum scaled by 1/f^decay, so that every frequency moves at the rate it has
in natural images instead of high frequencies dominating the gradient; colours are decorrelated; a
sigmoid maps to [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn

from .base import Prior
from .color import recorrelate
from .registry import register


def frequencies(height: int, width: int) -> torch.Tensor:
    """|f| for every coefficient of an `rfft2` of a height × width image (cycles per pixel)."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class FourierPrior(Prior):
    """x = sigmoid(C · irfft2(s ⊙ θ) / 4) with s = 1 / max(|f|, 1/size)^decay and C the colour matrix."""

    # lucid's constant: the spectrum's initial scale gives images of low contrast that the optimizer opens up
    MAGIC = 4.0

    def __init__(self, channels: int, size: tuple[int, int], decay: float = 1.0, init_std: float = 0.01):
        super().__init__(channels, size)
        h, w = self.size
        scale = 1.0 / frequencies(h, w).clamp_min(1.0 / max(h, w)) ** decay
        self.register_buffer("scale", scale)
        real, imaginary = init_std * torch.randn(2, 1, channels, h, w // 2 + 1)
        self.spectrum = nn.Parameter(torch.complex(real, imaginary))  # Adam steps its real and imaginary parts

    def render(self, input_noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        image = torch.fft.irfft2(self.spectrum * self.scale, s=self.size, norm="ortho") / self.MAGIC
        return torch.sigmoid(recorrelate(image))


PRESETS = {
    # restoration: a preconditioned pixel image (no bias towards natural images beyond its smoothness early on)
    "default": {"prior": {}, "fit": {"lr": 0.05, "steps": 500}},
    # lucid/lucent's render_vis: Adam at 0.05, 512 steps, its standard transforms (pad 12 with grey, jitter 8,
    # scale ±10 %, rotation ±10°, jitter 4)
    "preimage": {"prior": {}, "fit": {"lr": 0.05, "steps": 512},
                 "objective": {"transforms": True, "pad": 12, "jitter_px": 8, "degrees": 10.0, "scale": 0.1,
                               "jitter_after": 4, "coarse_steps": 512}},
}


@register("fourier", presets=PRESETS)
def fourier(channels: int, size: tuple[int, int], *, decay: float = 1.0, init_std: float = 0.01) -> FourierPrior:
    """Lucid's Fourier parameterization: a 1/f-scaled spectrum, decorrelated colour, a sigmoid."""
    return FourierPrior(channels, size, decay, init_std)
