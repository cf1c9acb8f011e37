"""Explicit regularizers R(x) that a prior adds to the energy; plain modules, so that priors need nothing
from the fitting package (which composes them with its energies)."""
from __future__ import annotations

import torch
from torch import nn


def total_variation(x: torch.Tensor, beta: float = 1.0, isotropic: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Mean over pixels of |∇x|^β: isotropic ((dx² + dy²)^(β/2)) or anisotropic (|dx|^β + |dy|^β)."""
    dx = (x[..., :-1, 1:] - x[..., :-1, :-1]) ** 2
    dy = (x[..., 1:, :-1] - x[..., :-1, :-1]) ** 2
    if isotropic:
        return torch.mean((dx + dy + eps) ** (beta / 2))
    return torch.mean((dx + eps) ** (beta / 2) + (dy + eps) ** (beta / 2))


class WeightedTotalVariation(nn.Module):
    """weight · TV_β(x) (Rudin, Osher & Fatemi 1992; Mahendran & Vedaldi 2015)."""

    def __init__(self, weight: float, beta: float = 1.0, isotropic: bool = True):
        super().__init__()
        self.weight, self.beta, self.isotropic = float(weight), beta, isotropic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * total_variation(x, self.beta, self.isotropic)

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}, beta={self.beta:g}, isotropic={self.isotropic}"
