"""Random transforms applied to the image before the model sees it (as in lucid/lucent).

A pre-image must then explain the features under small shifts, scalings and rotations (lucid), or in
random crops at several scales with noise (MACO), which keeps the optimizer from hiding adversarial
high-frequency patterns in it. Each transform is a plain function Tensor → Tensor; `compose` chains
them; `from_recipe` builds the chain a prior's preset asks for.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

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


def padded(transform: Transform, pixels: int, value: float = 0.5) -> Transform:
    """Pad with a flat `value`, apply `transform`, crop back to the original size (lucid's padding): what
    shifts and rotations bring in at the borders is grey, not content wrapped from the opposite side."""

    def apply(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        y = transform(F.pad(x, [pixels] * 4, mode="constant", value=value))
        return y[..., pixels : pixels + h, pixels : pixels + w]

    return apply


def crops(n: int, scale: tuple[float, float] = (0.5, 1.0), noise: float = 0.0) -> Transform:
    """`n` random square crops of each image of the batch, each resized to the image's size, plus noise (MACO's
    transform).

    A crop's side is a fraction in `scale` of the image's shorter side; its centre is drawn around the image
    centre (σ = 0.15 of the size) and kept inside. The noise is Gaussian of std `noise` plus uniform of width
    `noise`, as in Fel et al. (2023): the image must work at several scales and when slightly perturbed.
    """

    def apply(x: torch.Tensor) -> torch.Tensor:
        b, (h, w) = x.shape[0], x.shape[-2:]
        count = n * b  # n crops of each image, copy-major (crop c of image i is item c·b + i), as `copies` orders them
        side = torch.empty(count).uniform_(*scale) * min(h, w)
        cy = (0.5 + 0.15 * torch.randn(count)) * h
        cx = (0.5 + 0.15 * torch.randn(count)) * w
        cy = torch.minimum(torch.maximum(cy, side / 2), h - side / 2)
        cx = torch.minimum(torch.maximum(cx, side / 2), w - side / 2)
        image = torch.arange(b).repeat(n).float()
        boxes = torch.stack([image, cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], dim=1)
        batch = roi_align(x, boxes.to(x), output_size=(h, w), sampling_ratio=2, aligned=True)
        if noise:
            batch = batch + noise * torch.randn_like(batch) + noise * (torch.rand_like(batch) - 0.5)
        return batch

    return apply


def standard(jitter_px: int = 8, degrees: float = 5.0, scale: float = 0.05, *, pad: int = 0, jitter_after: int = 0,
             crops_per_step: int = 0, crop_scale: Sequence[float] = (0.5, 1.0), crop_noise: float = 0.0,
             n_copies: int = 1) -> Transform:
    """The field's transforms in one chain, each step off at 0: inside a `pad` of grey, jitter, a random
    rotation (±`degrees`) and scaling (1 ± `scale`), a second jitter (lucid's set); then either a batch of
    random crops with noise (MACO's) or `n_copies` independently transformed copies."""
    chain: list[Transform] = []
    if jitter_px:
        chain.append(jitter(int(jitter_px)))
    if degrees or scale:
        chain.append(random_affine(degrees, (1 - scale, 1 + scale)))
    if jitter_after:
        chain.append(jitter(int(jitter_after)))
    one = compose(chain)
    if pad:
        one = padded(one, int(pad))
    if crops_per_step:
        return compose([one, crops(int(crops_per_step), tuple(crop_scale), crop_noise)])
    return copies(one, n_copies) if n_copies > 1 else one


# the keys of a preset's "objective" that configure the transforms, and the `standard` argument each sets
RECIPE_KEYS = {"jitter_px": "jitter_px", "degrees": "degrees", "scale": "scale", "pad": "pad",
               "jitter_after": "jitter_after", "crops": "crops_per_step", "crop_scale": "crop_scale",
               "crop_noise": "crop_noise", "copies": "n_copies"}


def from_recipe(settings: dict) -> Transform | None:
    """The transform a preset's objective settings describe (None when `transforms` is off)."""
    if not settings.get("transforms"):
        return None
    return standard(**{arg: settings[key] for key, arg in RECIPE_KEYS.items() if key in settings})
