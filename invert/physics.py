"""Measurement operators A (the "physics"), kept apart from priors and energies as deepinv does."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .errors import SettingError


class Operator(nn.Module):
    """y = A(x) for a 1×C×H×W image x."""


class Identity(Operator):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Mask(Operator):
    """Keeps the known pixels (mask = 1) and zeroes the missing ones."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


def _cubic(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    t = t.abs()
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def _lanczos(t: torch.Tensor, lobes: int) -> torch.Tensor:
    inside = t.abs() < lobes
    return torch.where(inside, torch.sinc(t) * torch.sinc(t / lobes), torch.zeros_like(t))


KERNELS = {
    "lanczos2": (2, lambda t: _lanczos(t, 2)),
    "lanczos3": (3, lambda t: _lanczos(t, 3)),
    "bicubic": (2, _cubic),
}


def downsampling_kernel(factor: int, kernel: str = "lanczos2") -> torch.Tensor:
    """The 1-D anti-aliasing filter for an integer factor, sampled at input pixel centres (as PIL does)."""
    if kernel not in KERNELS:
        raise SettingError("kernel", f"= {kernel!r}; choose one of {', '.join(KERNELS)}")
    support, fn = KERNELS[kernel]
    taps = 2 * support * factor
    offsets = (torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2) / factor
    weights = fn(offsets)
    return (weights / weights.sum()).float()


class Downsample(Operator):
    """Anti-aliased downsampling by an integer factor: a separable filter, then stride `factor`.

    Lanczos-2 is what the DIP paper uses for super-resolution; bicubic matches PIL's BICUBIC reduce.
    Borders are replicated.
    """

    def __init__(self, factor: int, kernel: str = "lanczos2", channels: int = 3):
        super().__init__()
        if factor < 1 or int(factor) != factor:
            raise SettingError("factor", f"= {factor}; give a whole number, at least 1")
        self.factor, self.kernel_name, self.channels = int(factor), kernel, channels
        k1 = downsampling_kernel(self.factor, kernel)
        self.register_buffer("weight", torch.outer(k1, k1).expand(channels, 1, -1, -1).contiguous())
        # taps − factor pixels of border in all, split so an odd remainder still gives exactly H / factor
        total = k1.numel() - self.factor
        self.pad = (total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor == 1:
            return x
        before, after = self.pad
        x = F.pad(x, [before, after, before, after], mode="replicate")
        return F.conv2d(x, self.weight, stride=self.factor, groups=self.channels)

    def extra_repr(self) -> str:
        return f"factor={self.factor}, kernel={self.kernel_name}"


class GaussianBlur(Operator):
    """Convolution with an isotropic Gaussian of σ `sigma` pixels (a separable kernel of radius ⌈3σ⌉), borders
    reflected, so the output has the input's size: a defocused or shaken photo's usual model."""

    def __init__(self, sigma: float, channels: int = 3):
        super().__init__()
        if not sigma > 0:
            raise SettingError("sigma", f"= {sigma}; give a positive blur σ")
        self.sigma, self.channels = float(sigma), channels
        radius = max(1, math.ceil(3 * self.sigma))
        t = torch.arange(-radius, radius + 1, dtype=torch.float64)
        k1 = torch.exp(-0.5 * (t / self.sigma) ** 2)
        k1 = (k1 / k1.sum()).float()
        self.radius = radius
        self.register_buffer("weight", torch.outer(k1, k1).expand(channels, 1, -1, -1).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.radius
        mode = "reflect" if min(x.shape[-2:]) > r else "replicate"  # reflection needs more pixels than the radius
        return F.conv2d(F.pad(x, [r, r, r, r], mode=mode), self.weight, groups=self.channels)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:g}"


def add_gaussian_noise(x: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """x + N(0, σ²) with σ on the [0, 1] scale, drawn from `seed`, clipped to [0, 1] as in the paper."""
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def random_mask(shape: tuple[int, int], drop: float, seed: int) -> torch.Tensor:
    """1×1×H×W mask with a `drop` fraction of pixels missing (0), drawn from `seed`."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((1, 1, *shape), generator=g) >= drop).float()


__all__ = ["Operator", "Identity", "Mask", "Downsample", "GaussianBlur", "downsampling_kernel", "add_gaussian_noise", "random_mask"]
