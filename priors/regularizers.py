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


# the two chroma directions of an orthonormal opponent colour basis (the third, (R + G + B)/√3, is luminance)
CHROMA = torch.tensor([[2**-0.5, -(2**-0.5), 0.0], [6**-0.5, 6**-0.5, -2 * 6**-0.5]])


def chroma(x: torch.Tensor) -> torch.Tensor:
    """N×2×H×W: the chroma channels of an N×3×H×W RGB image."""
    return torch.einsum("ij,bjhw->bihw", CHROMA.to(x), x)


class WeightedTotalVariation(nn.Module):
    """weight · TV_β(x) (Rudin, Osher & Fatemi 1992; Mahendran & Vedaldi 2015), plus chroma_weight · TV_β of
    the colour channels alone: a camera's noise is strongly coloured, while a photo's colour varies slowly."""

    def __init__(self, weight: float, beta: float = 1.0, isotropic: bool = True, chroma_weight: float = 0.0):
        super().__init__()
        self.weight, self.beta, self.isotropic = float(weight), beta, isotropic
        self.chroma_weight = float(chroma_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value = self.weight * total_variation(x, self.beta, self.isotropic)
        if self.chroma_weight and x.shape[1] == 3:
            value = value + self.chroma_weight * total_variation(chroma(x), self.beta, self.isotropic)
        return value

    def extra_repr(self) -> str:
        return (f"weight={self.weight:g}, beta={self.beta:g}, isotropic={self.isotropic}"
                + (f", chroma_weight={self.chroma_weight:g}" if self.chroma_weight else ""))
