"""Deep Decoder (Heckel & Hand, 2019): an under-parameterized, convolution-free image generator."""
from __future__ import annotations

import math

from torch import nn

from .base import GeneratorPrior, uniform_noise
from .color import output_layer
from .errors import PriorSettingError
from .registry import register


def decoder_net(width: int, depth: int, out_channels: int, upsample: str = "bilinear",
                output: str = "sigmoid") -> nn.Sequential:
    """Per layer: 1×1 conv (no bias) → upsample ×2 → ReLU → channel normalization; then 1×1 conv → sigmoid
    (of RGB, or of decorrelated colours with `output` "decorrelated")."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [
            nn.Conv2d(width, width, 1, bias=False),
            nn.Upsample(scale_factor=2, mode=upsample),
            nn.ReLU(),
            nn.BatchNorm2d(width, track_running_stats=False),  # per-channel normalization of one image
        ]
    layers += [nn.Conv2d(width, out_channels, 1, bias=False), output_layer(output)]
    return nn.Sequential(*layers)


def default_depth(size: tuple[int, int], most: int = 6, smallest_input: int = 4) -> int:
    """6 layers (the paper's setting) when the image allows, fewer so the input keeps ≥ 4 pixels a side.

    A 1×1 input would be upsampled into a flat map that channel normalization turns to zero.
    """
    depth = most
    while depth > 1 and min(size) / 2**depth < smallest_input:
        depth -= 1
    return depth


class DeepDecoder(GeneratorPrior):
    """x = decoder(z) with z fixed at H/2^depth × W/2^depth."""


PRESETS = {
    "default": {"prior": {"width": 64}, "fit": {"lr": 0.01, "steps": 1500}},
    # a narrower decoder: fewer weights, a stronger prior
    "compact": {"prior": {"width": 32}, "fit": {"lr": 0.01, "steps": 3000}},
    # decorrelated colour output: at the logits the RGB decoder stalled above half a flat image's feature loss
    # on two of six design photos (coastguard 0.57, building after restarts) and on the zebra; decorrelated it
    # reached 0.23 and 0.22 (bench/results/design/design_photos*.json)
    "preimage": {"prior": {"width": 64, "output": "decorrelated"}, "fit": {"lr": 0.01, "steps": 300},
                 "objective": {"transforms": True, "coarse_steps": 600}},
}


@register("deep_decoder", presets=PRESETS)
def deep_decoder(
    channels: int, size: tuple[int, int], *, width: int = 64, depth: int | None = None, upsample: str = "bilinear",
    output: str = "sigmoid",
) -> DeepDecoder:
    """Deep Decoder: 1×1 convolutions, upsampling, ReLU and channel norms; fewer weights than pixels."""
    depth = default_depth(size) if depth is None else depth
    deepest = max(1, int(math.log2(max(size))))
    if not 1 <= depth <= deepest:  # deeper: an input under one pixel, rendered far larger than the image
        raise PriorSettingError("depth", f"must be from 1 to {deepest} for a {size[1]}×{size[0]} image, got {depth}")
    if width < 1:
        raise PriorSettingError("width", f"must be at least 1, got {width}")
    factor = 2**depth
    h, w = -(-size[0] // factor), -(-size[1] // factor)
    net = decoder_net(width, depth, channels, upsample, output)
    prior = DeepDecoder(channels, size, net, uniform_noise((1, width, h, w)))
    prior.architecture = {"width": width, "depth": depth, "upsample": upsample, "output": output}  # enough to rebuild it
    return prior
