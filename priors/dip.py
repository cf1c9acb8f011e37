"""Deep Image Prior (Ulyanov, Vedaldi & Lempitsky, 2018): the "skip" encoder-decoder as a prior.

The presets are the paper's notebook settings, kept as data; `fast` is a cheaper net for CPUs.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import GeneratorPrior, ceil_to, meshgrid_input, uniform_noise
from .color import output_layer
from .errors import PriorSettingError
from .registry import register
from .regularizers import WeightedTotalVariation

_PAPER_NET = {
    "channels_down": [128] * 5,
    "channels_up": [128] * 5,
    "channels_skip": [4] * 5,
    "upsample": "bilinear",
    "input_depth": 32,
}

_FAST_NET = {
    "channels_down": [32, 64, 64, 64],
    "channels_up": [32, 64, 64, 64],
    "channels_skip": [4] * 4,
    "upsample": "bilinear",
    "input_depth": 16,
}
# the paper's AlexNet feature-inversion net: 6 levels, 16–128 channels, 4 skip channels, nearest upsampling,
# average-pool downsampling; run at the image's own size (224², not 256²: the pre-image step 201 -> 139 ms
# on 1 thread, 367 -> 288 ms for maximize's; bench/results/dip_step_1thread-cpu-2026-12-03.json)
_PREIMAGE_NET = {
    "channels_down": [16, 32, 64, 128, 128, 128],
    "channels_up": [16, 32, 64, 128, 128, 128],
    "channels_skip": [4] * 6,
    "upsample": "nearest",
    "downsample": "avg",
    "input_depth": 32,
    "exact_size": True,
}
# the net in bfloat16 where the hardware has it (engine.uses_amp): the net's forward and backward 20-29 %
# cheaper on 1 thread, the whole pre-image step 6-7 % on 1 and 2 threads (139 -> 130, 117 -> 110 ms), feature
# loss unchanged (blocks.1: 0.140 against 0.154); maximize's step got 8-15 % dearer and keeps fp32
# (bench/results/dip_step*-cpu-2026-12-03.json)
_PREIMAGE_FIT = {"lr": 0.01, "steps": 200, "amp": True}
# a budget for auto-stop, which ends denoising near the peak (500–1200 steps on 128² crops)
_FAST_FIT = {"lr": 0.01, "steps": 2000, "reg_noise_std": 1 / 30, "ema": 0.99, "ema_warmup": True}

PRESETS = {
    # denoising.ipynb: about 2.2 M parameters
    "paper-denoise": {
        "prior": _PAPER_NET,
        "fit": {"lr": 0.01, "steps": 3000, "reg_noise_std": 1 / 30, "ema": 0.99},
    },
    # super-resolution.ipynb, ×4 and ×8
    "paper-sr4": {"prior": _PAPER_NET, "fit": {"lr": 0.01, "steps": 2000, "reg_noise_std": 0.03}},
    "paper-sr8": {"prior": _PAPER_NET, "fit": {"lr": 0.01, "steps": 4000, "reg_noise_std": 0.05}},
    # inpainting.ipynb, the "skip" net used for vase / kate / random masks
    "paper-inpaint": {
        "prior": {**_PAPER_NET, "channels_skip": [128] * 5, "upsample": "nearest"},
        "fit": {"lr": 0.01, "steps": 6000, "reg_noise_std": 0.03},
    },
    # feature inversion with the paper's AlexNet net; deep layers (stride ≥ 16) are seen through jitter alone (±8 px), two independent draws per step, with
    # decorrelated colour output and, at the logits, a hinge that keeps the photo's class on top by its own
    # margin (keep_top). On all 54 photos of ../shared/data at Lite0's logits, one attempt: class kept 47/54,
    # Lite2 agreeing 22/54, median 78 s alone on 2 cores; the earlier preset (lucid's ±10°/±10 %, one draw,
    # RGB, 600 steps) kept 31/50, Lite2 20/50, in 1.8x the time: rotations' resampling slowed the fit, one
    # draw's gradient noise stalled it, RGB painted colour fields (docs/natural_preimages.md,
    # bench/results/natural_*-cpu-2026-12-07.json)
    "preimage": {
        "prior": {**_PREIMAGE_NET, "output": "decorrelated"},
        "fit": _PREIMAGE_FIT,
        "objective": {"transforms": True, "degrees": 0.0, "scale": 0.0, "copies": 2, "keep_top": 30.0,
                      "coarse_steps": 300},
    },
    # class visualizations: the preimage net with decorrelated colour output, lucid's transforms (grey padding
    # 12, jitter 8, ±10°, ±10 %, jitter 4) then 3 MACO crops (½–1, noise 0.02) per step, Adam at 0.03 for 120
    # steps. On four design classes (bench/results/design/design_dip_v*) it kept the preimage recipe's
    # recognition (Lite2 3/4, mean p 0.60 against 0.61) in 34 s instead of 39 s, and its images survive a grey
    # copy far better (Lite2 mean p 0.28 against 0.06; lucent 0.60): fur and mane pieces instead of colour
    # fields. Learning rate 0.1 made larger fields (0.03), crops of ¼–0.6 many small tarantulas that the
    # whole-image judges missed, 16 skip channels more texture but no better scores
    "maximize": {
        "prior": {**_PREIMAGE_NET, "output": "decorrelated"},
        "fit": {**_PREIMAGE_FIT, "lr": 0.03, "steps": 120, "amp": False},
        "objective": {"transforms": True, "pad": 12, "jitter_px": 8, "degrees": 10.0, "scale": 0.1,
                      "jitter_after": 4, "crops": 3, "crop_scale": [0.5, 1.0], "crop_noise": 0.02},
    },
    # a narrower, shallower net that makes DIP usable on a laptop CPU
    "fast": {"prior": _FAST_NET, "fit": _FAST_FIT},
    # denoising (chosen by `invert restore denoise`): the fast net plus a little total variation (DIP-TV,
    # Liu et al. 2019) and less input noise. On Set5 96² crops at σ = 25 the TV weight 0.03 (among
    # 0.01 / 0.03 / 0.07) raised the peak by 0.6–1.3 dB, and with the TV in place, input noise 1/45
    # (among 1/30, 1/45, 1/60, 0) reached the fast preset's best − 0.3 dB in 0.39–0.65 of its steps with
    # the peak still 0.3–1.1 dB above it (bench/results/trajectories/design/). The moving average then
    # peaks after the residual reaches the noise level: auto-stop runs on to 1.25× that step (among
    # 1, 1.25, 1.5, 1.75 on 13 design images: mean gap to the best −0.12 dB instead of −0.22)
    "denoise": {
        "prior": {**_FAST_NET, "tv_weight": 0.03},
        "fit": {**_FAST_FIT, "reg_noise_std": 1 / 45, "stop_extend": 1.25},
    },
    # `invert curves` (the paper's Fig. 2): the fast net on a meshgrid input. With a noise input its skip
    # connections see a random pattern at every pixel, and from those the net fits white noise as fast as a
    # textured photo (64² baboon: noise reached 2× the photo's lowest loss in 0.54× its steps, the paper's net
    # 0.84×); from smooth coordinates it cannot (bench/results/curves_speed_*.json, docs/papers.md)
    "curves": {"prior": {**_FAST_NET, "input_kind": "meshgrid"}, "fit": {"lr": 0.01, "steps": 1000}},
    # camera noise (chosen by `invert restore denoise` when the noise is correlated between pixels): the same
    # plus total variation of the colour channels, which keeps the coloured blotches out of the fit; auto-stop
    # then watches the luminance, whose residual alone reaches the noise level
    "denoise-camera": {
        "prior": {**_FAST_NET, "tv_weight": 0.03, "chroma_tv_weight": 0.3},
        "fit": {**_FAST_FIT, "reg_noise_std": 1 / 45, "stop_luminance": True, "stop_extend": 1.25},
    },
}


def _conv(
    c_in: int, c_out: int, kernel: int, *, stride: int = 1, pad: str = "reflection", downsample: str = "stride"
) -> list[nn.Module]:
    """A convolution whose output is `stride`× smaller, with the padding the paper uses."""
    layers: list[nn.Module] = []
    padding = (kernel - 1) // 2
    if pad == "reflection" and padding:
        layers.append(nn.ReflectionPad2d(padding))
        padding = 0
    conv_stride = stride if downsample == "stride" else 1
    layers.append(nn.Conv2d(c_in, c_out, kernel, stride=conv_stride, padding=padding))
    if stride > 1 and downsample == "avg":
        layers.append(nn.AvgPool2d(stride))
    return layers


def _block(c_in: int, c_out: int, kernel: int, **conv_kw) -> nn.Sequential:
    """conv → BatchNorm → LeakyReLU(0.2). BatchNorm always uses the statistics of the current image."""
    return nn.Sequential(
        *_conv(c_in, c_out, kernel, **conv_kw),
        nn.BatchNorm2d(c_out, track_running_stats=False),
        nn.LeakyReLU(0.2, inplace=True),
    )


class SkipLevel(nn.Module):
    """One level of the hourglass: skip branch ‖ (down → deeper levels → up), then merge."""

    def __init__(
        self,
        c_in: int,
        down: int,
        up: int,
        skip: int,
        deeper: nn.Module | None,
        deeper_out: int,
        *,
        filter_down: int,
        filter_up: int,
        filter_skip: int,
        upsample: str,
        need_1x1_up: bool,
        **conv_kw,
    ):
        super().__init__()
        self.skip = _block(c_in, skip, filter_skip, **conv_kw) if skip else None
        self.down = nn.Sequential(
            _block(c_in, down, filter_down, stride=2, **conv_kw),
            _block(down, down, filter_down, **conv_kw),
        )
        self.deeper = deeper if deeper is not None else nn.Identity()
        self.upsample = upsample
        merged = skip + deeper_out
        self.merge_norm = nn.BatchNorm2d(merged, track_running_stats=False)
        merge = [_block(merged, up, filter_up, **conv_kw)]
        if need_1x1_up:
            merge.append(_block(up, up, 1, **conv_kw))
        self.merge = nn.Sequential(*merge)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # back to this level's own size: twice the deeper level's, or one less where this level's size is odd
        h = F.interpolate(self.deeper(self.down(x)), size=x.shape[-2:], mode=self.upsample)
        if self.skip is not None:
            h = torch.cat([self.skip(x), h], dim=1)
        return self.merge(self.merge_norm(h))


def skip_net(
    input_depth: int,
    out_channels: int,
    channels_down: Sequence[int],
    channels_up: Sequence[int],
    channels_skip: Sequence[int],
    *,
    filter_down: int = 3,
    filter_up: int = 3,
    filter_skip: int = 1,
    upsample: str = "bilinear",
    downsample: str = "stride",
    pad: str = "reflection",
    need_1x1_up: bool = True,
    output: str = "sigmoid",
) -> nn.Sequential:
    """The paper's "skip" network, built from the deepest level outwards; `output` "decorrelated" makes its
    last channels decorrelated colours (as lucid's parameterizations) instead of RGB."""
    if not len(channels_down) == len(channels_up) == len(channels_skip):
        raise PriorSettingError("channels_down or channels_up or channels_skip",
                                "need one entry per level each, the same number of levels in all three")
    if upsample not in ("bilinear", "nearest"):
        raise PriorSettingError("upsample", f"must be 'bilinear' or 'nearest', got {upsample!r}")
    if downsample not in ("stride", "avg"):
        raise PriorSettingError("downsample", f"must be 'stride' or 'avg', got {downsample!r}")
    if pad not in ("reflection", "zero"):
        raise PriorSettingError("pad", f"must be 'reflection' or 'zero', got {pad!r}")
    conv_kw = {"pad": pad, "downsample": downsample}
    kw = dict(filter_down=filter_down, filter_up=filter_up, filter_skip=filter_skip, upsample=upsample,
              need_1x1_up=need_1x1_up, **conv_kw)
    deeper: nn.Module | None = None
    n = len(channels_down)
    for i in reversed(range(n)):
        c_in = input_depth if i == 0 else channels_down[i - 1]
        deeper_out = channels_down[i] if deeper is None else channels_up[i + 1]
        deeper = SkipLevel(c_in, channels_down[i], channels_up[i], channels_skip[i], deeper, deeper_out, **kw)
    head = nn.Conv2d(channels_up[0], out_channels, 1)
    return nn.Sequential(deeper, head, output_layer(output))


class DeepImagePrior(GeneratorPrior):
    """x = skip_net(z): the generator of Deep Image Prior."""


@register("dip", presets=PRESETS, default_preset="fast")
def dip(
    channels: int,
    size: tuple[int, int],
    *,
    channels_down: Sequence[int] = (128,) * 5,
    channels_up: Sequence[int] = (128,) * 5,
    channels_skip: Sequence[int] = (4,) * 5,
    input_depth: int = 32,
    input_kind: str = "noise",
    tv_weight: float = 0.0,
    chroma_tv_weight: float = 0.0,
    exact_size: bool = False,
    **net_kw,
) -> DeepImagePrior:
    """Deep Image Prior: a randomly initialised hourglass ("skip") network fitted to one image.

    `tv_weight` > 0 adds weight · TV(x) to the energy (DIP-TV); `chroma_tv_weight` > 0 adds that weight · TV
    of the colour channels alone (against a camera's coloured noise). `exact_size` runs the net at the
    image's own size, a level of odd size taking back one pixel less than twice the deeper level's, instead
    of padding the image to a multiple of 2^levels (224² instead of 256² at 6 levels: 23 % fewer pixels).
    """
    factor = 2 ** len(channels_down)
    # at least 2 pixels a side at the deepest level: BatchNorm needs more than one value per channel, and the
    # reflection padding more than one pixel; the output is centre-cropped back to `size`
    h, w = max(size[0], 2 * factor), max(size[1], 2 * factor)
    if not exact_size:
        h, w = ceil_to(h, factor), ceil_to(w, factor)
    if input_kind == "noise":
        z = uniform_noise((1, input_depth, h, w))
    elif input_kind == "meshgrid":
        z, input_depth = meshgrid_input(h, w), 2
    else:
        raise PriorSettingError("input_kind", f"must be 'noise' or 'meshgrid', got {input_kind!r}")
    net = skip_net(input_depth, channels, channels_down, channels_up, channels_skip, **net_kw)
    for setting, value in (("tv_weight", tv_weight), ("chroma_tv_weight", chroma_tv_weight)):
        if value < 0:
            raise PriorSettingError(setting, f"must be at least 0, got {value}")
    regularizer = (WeightedTotalVariation(tv_weight, chroma_weight=chroma_tv_weight)
                   if tv_weight or chroma_tv_weight else None)
    return DeepImagePrior(channels, size, net, z, regularizer)
