"""What a pretrained classifier says of an image (`classify`, `top1`), and the α-norm that keeps a picture made
for it in range. The energies that look through a classifier are objectives (`invert.objectives`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from invert.zoo import LoadedModel

from .energies import Energy


class AlphaNorm(Energy):
    """Mean |2(x − ½)|^α (Mahendran & Vedaldi's α-norm, on the [0, 1] range): keeps pixel values bounded."""

    def __init__(self, alpha: float = 6.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean((2 * (x - 0.5)).abs() ** self.alpha)


@torch.no_grad()
def classify(loaded: LoadedModel, x: torch.Tensor) -> torch.Tensor:
    """Logits of `loaded` for images in [0, 1], resized to its input size when they differ."""
    size = tuple(loaded.input_size[1:])
    device = next(loaded.model.parameters()).device
    x = x.to(device)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return loaded.model(loaded.preprocess(x))


def top1(loaded: LoadedModel, x: torch.Tensor) -> int:
    return int(classify(loaded, x).argmax(dim=1)[0])
