"""What every prior is: a module that renders an image from trainable parameters."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Prior(nn.Module):
    """x = f_θ(z): `forward()` renders a 1×C×H×W image; `regularizer()` is an optional explicit R(x).

    Subclasses implement `render`; the engine calls `forward(input_noise_std, generator)`, where the
    input perturbation is DIP's `reg_noise_std` (priors without an input ignore it). Any prior may carry
    an explicit regularizer, which the engine adds to the energy (TV's pixels need one; a generator can
    have one too, as DIP's denoising preset does).
    """

    fit_defaults: dict[str, Any]
    preset: str
    # fitted long enough, the prior copies the noise too, so auto-stop ends the fit early; a prior whose
    # energy has its answer at the minimum (TV) runs its step budget instead
    stops_early: bool = True

    def __init__(self, channels: int, size: tuple[int, int], regularizer: nn.Module | None = None):
        super().__init__()
        self.channels = channels
        self.size = (int(size[0]), int(size[1]))
        self.fit_defaults = {}
        self.preset = "default"
        self.explicit_regularizer = regularizer

    def forward(self, input_noise_std: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.render(input_noise_std, generator)

    def render(self, input_noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def regularizer(self) -> nn.Module | None:
        """An energy R(x) the engine adds to the data term, or None."""
        return self.explicit_regularizer

    def num_parameters(self) -> int:
        """Trainable real values (a complex parameter counts twice: Adam steps both parts)."""
        return sum(p.numel() * (2 if p.is_complex() else 1) for p in self.parameters() if p.requires_grad)


class Batch(Prior):
    """B priors rendered as one N×C×H×W batch (each with its own parameters and seed): what objectives over a
    batch of images, such as lucid's diversity, fit."""

    def __init__(self, members: list[Prior]):
        first = members[0]
        super().__init__(first.channels, first.size, first.regularizer())
        self.members = nn.ModuleList(members)
        self.fit_defaults, self.preset, self.stops_early = first.fit_defaults, first.preset, first.stops_early

    def render(self, input_noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        return torch.cat([member(input_noise_std, generator) for member in self.members])


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop the spatial centre of an N×C×H'×W' tensor to `size` (H' ≥ H, W' ≥ W)."""
    h, w = size
    top = (x.shape[-2] - h) // 2
    left = (x.shape[-1] - w) // 2
    return x[..., top : top + h, left : left + w]


def ceil_to(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


class GeneratorPrior(Prior):
    """A network fed a fixed random input: the Deep Image Prior / Deep Decoder family.

    The network works at a padded size (a multiple of its total down/up-sampling factor) and the
    output is centre-cropped, so any H×W works.
    """

    def __init__(
        self,
        channels: int,
        size: tuple[int, int],
        net: nn.Module,
        net_input: torch.Tensor,
        regularizer: nn.Module | None = None,
    ):
        super().__init__(channels, size, regularizer)
        self.net = net
        self.register_buffer("net_input", net_input)

    def render(self, input_noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        z = self.net_input
        if input_noise_std > 0:
            noise = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
            z = z + input_noise_std * noise
        return center_crop(self.net(z), self.size)


def uniform_noise(shape: tuple[int, ...], scale: float = 0.1) -> torch.Tensor:
    """The papers' fixed input: U(0, 1) × scale."""
    return torch.rand(shape) * scale


def meshgrid_input(height: int, width: int) -> torch.Tensor:
    """Two channels with x and y coordinates in [0, 1] (DIP's 'meshgrid' input)."""
    ys = torch.linspace(0, 1, height)
    xs = torch.linspace(0, 1, width)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy])[None]
