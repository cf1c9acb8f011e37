"""Energies E(x): scalar functions of the image that the engine minimizes.

Energies add and scale like numbers (`data + 0.1 * TotalVariation()`), as lucid's objectives do. The
measurement operator (physics.py) stays apart: a data term is `DataFidelity(operator, y)`.
"""
from __future__ import annotations

import torch
from torch import nn

from invert.priors.regularizers import total_variation

from .physics import Downsample, Identity, Mask, Operator


class Energy(nn.Module):
    """A scalar function of a 1×C×H×W image. Subclasses implement `forward(x)`."""

    def __add__(self, other: "Energy") -> "Energy":
        return Sum([self, other])

    def __radd__(self, other):
        return self if isinstance(other, (int, float)) and other == 0 else Sum([other, self])

    def __mul__(self, weight: float) -> "Energy":
        return Scaled(self, float(weight))

    __rmul__ = __mul__

    def __neg__(self) -> "Energy":
        return Scaled(self, -1.0)

    def __sub__(self, other: "Energy") -> "Energy":
        return self + (-other)


class Sum(Energy):
    def __init__(self, terms: list[Energy]):
        super().__init__()
        flat = [t for term in terms for t in (term.terms if isinstance(term, Sum) else [term])]
        self.terms = nn.ModuleList(flat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(term(x) for term in self.terms)

    def extra_repr(self) -> str:
        return " + ".join(type(t).__name__ for t in self.terms)


class Scaled(Energy):
    def __init__(self, energy: Energy, weight: float):
        super().__init__()
        self.energy, self.weight = energy, weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * self.energy(x)

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}"


class DataFidelity(Energy):
    """Mean squared error ‖A(x) − y‖² / n between the measured y and the operator applied to x."""

    def __init__(self, operator: Operator, observation: torch.Tensor):
        super().__init__()
        self.operator = operator
        self.register_buffer("observation", observation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean((self.operator(x) - self.observation) ** 2)


class TotalVariation(Energy):
    """Mean over pixels of |∇x|^β: isotropic ((dx² + dy²)^(β/2)) or anisotropic (|dx|^β + |dy|^β)."""

    def __init__(self, beta: float = 1.0, isotropic: bool = True, eps: float = 1e-8):
        super().__init__()
        self.beta, self.isotropic, self.eps = beta, isotropic, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return total_variation(x, self.beta, self.isotropic, self.eps)

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}, isotropic={self.isotropic}"


def denoising(noisy: torch.Tensor) -> DataFidelity:
    """‖x − y‖²."""
    return DataFidelity(Identity(), noisy)


def reconstruction(target: torch.Tensor) -> DataFidelity:
    """‖x − x0‖²: fit a known image (the learning-curve experiment)."""
    return DataFidelity(Identity(), target)


def super_resolution(low_res: torch.Tensor, factor: int, kernel: str = "lanczos2") -> DataFidelity:
    """‖D(x) − y‖² with D an anti-aliased downsampler."""
    return DataFidelity(Downsample(factor, kernel, channels=low_res.shape[1]), low_res)


def inpainting(image: torch.Tensor, mask: torch.Tensor) -> DataFidelity:
    """‖m ⊙ (x − y)‖²: only known pixels (mask = 1) count."""
    op = Mask(mask)
    return DataFidelity(op, op(image))
