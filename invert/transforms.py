"""Random transforms applied to the image before the model sees it (as in lucid/lucent).

A pre-image must then explain the features under small shifts, scalings and rotations, which keeps
the optimizer from hiding adversarial high-frequency patterns in it. Each transform is a plain
function Tensor → Tensor; `compose` chains them.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Transform = Callable[[torch.Tensor], torch.Tensor]


def jitter(pixels: int) -> Transform:
    """Shift the image by up to `pixels` in x and y (wrapping around)."""

    def apply(x: torch.Tensor) -> torch.Tensor:
        dy, dx = (int(v) for v in torch.randint(-pixels, pixels + 1, (2,)))
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))

    return apply


def random_affine(degrees: float = 0.0, scale: tuple[float, float] = (1.0, 1.0)) -> Transform:
    """Rotate by up to ±`degrees` and scale by a factor in `scale` around the centre (reflection borders)."""

    def apply(x: torch.Tensor) -> torch.Tensor:
        angle = math.radians(float(torch.empty(()).uniform_(-degrees, degrees)))
        s = float(torch.empty(()).uniform_(*scale))
        cos, sin = math.cos(angle) / s, math.sin(angle) / s
        theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=x.dtype, device=x.device)
        grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    return apply


def compose(transforms: Sequence[Transform]) -> Transform:
    def apply(x: torch.Tensor) -> torch.Tensor:
        for t in transforms:
            x = t(x)
        return x

    return apply


def copies(transform: Transform, n: int) -> Transform:
    """A batch of `n` independently transformed copies: the energy becomes an average over transforms,
    a less noisy estimate of it than one random draw per step."""

    def apply(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([transform(x) for _ in range(n)])

    return apply


def standard(jitter_px: int = 8, degrees: float = 5.0, scale: float = 0.05, n_copies: int = 1) -> Transform:
    """Jitter, then a random rotation (±`degrees`) and scaling (1 ± `scale`): lucid's standard set in two steps."""
    one = compose([jitter(int(jitter_px)), random_affine(degrees, (1 - scale, 1 + scale))])
    return copies(one, n_copies) if n_copies > 1 else one
