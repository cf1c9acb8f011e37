"""Decorrelated colour (Olah et al., Distill 2017): parameterize images in a space whose channels are
uncorrelated over natural images, so a gradient step changes luminance and colour evenly.

The matrix is the square root of ImageNet's colour correlation (lucid's `color_correlation_svd_sqrt`),
scaled so its largest column has norm 1. The Fourier and MACO priors share it.
"""
from __future__ import annotations

import torch
from torch import nn

from .errors import PriorSettingError

_SQRT_CORRELATION = torch.tensor([[0.26, 0.09, 0.02],
                                  [0.27, 0.00, -0.05],
                                  [0.27, -0.09, 0.03]])
RECORRELATE = _SQRT_CORRELATION / _SQRT_CORRELATION.norm(dim=0).max()


def recorrelate(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W decorrelated channels → RGB (before the sigmoid); one channel passes unchanged."""
    if x.shape[1] != 3:
        return x
    return torch.einsum("nchw,dc->ndhw", x, RECORRELATE.to(x))


def decorrelate(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `recorrelate`: RGB → decorrelated channels (one channel passes unchanged)."""
    if x.shape[1] != 3:
        return x
    return torch.einsum("nchw,dc->ndhw", x, torch.linalg.inv(RECORRELATE).to(x))


class DecorrelatedSigmoid(nn.Module):
    """A generator's last step when its channels are decorrelated colours: recorrelate, then a sigmoid."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(recorrelate(x))


def output_layer(kind: str) -> nn.Module:
    """The generators' output nonlinearity: "sigmoid" per RGB channel (the papers') or "decorrelated" colour."""
    if kind not in ("sigmoid", "decorrelated"):
        raise PriorSettingError("output", f"must be 'sigmoid' or 'decorrelated', got {kind!r}")
    return nn.Sigmoid() if kind == "sigmoid" else DecorrelatedSigmoid()
