"""The image's own pixels as the parameters: no prior at all (the baseline that over-fits)."""
from __future__ import annotations

import torch
from torch import nn

from .base import Prior
from .registry import register


class PixelPrior(Prior):
    """x = θ: pixels initialised at mid-grey plus a little seeded noise."""

    def __init__(
        self, channels: int, size: tuple[int, int], init_noise: float = 0.01, regularizer: nn.Module | None = None
    ):
        super().__init__(channels, size, regularizer)
        self.pixels = nn.Parameter(0.5 + init_noise * torch.randn(1, channels, *size))

    def render(self, input_noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        return self.pixels


PRESETS = {
    "default": {"prior": {}, "fit": {"lr": 0.01, "steps": 500}},
    # lucent's learning rate; at the logits 200 steps at 0.01 stalled above half a flat image's feature loss on
    # two design photos (bench/results/design_photos1-*.json), 400 at 0.05 got below it
    "preimage": {"prior": {}, "fit": {"lr": 0.05, "steps": 200}, "objective": {"transforms": True, "coarse_steps": 600}},
}


@register("pixel", presets=PRESETS)
def pixel(channels: int, size: tuple[int, int], *, init_noise: float = 0.01) -> PixelPrior:
    """Pixels with no prior: fits anything, noise included."""
    return PixelPrior(channels, size, init_noise)
