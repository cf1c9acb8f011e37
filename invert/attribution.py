"""Which pixels drive the model's decision: captum's Integrated Gradients, drawn as a heat map."""
from __future__ import annotations

import matplotlib
import torch
from captum.attr import IntegratedGradients
from torch import nn

from invert.zoo import LoadedModel

from .inversion import top1


class _Normalized(nn.Module):
    """The model with its preprocessing in front, so attributions are in pixel space."""

    def __init__(self, loaded: LoadedModel):
        super().__init__()
        self.loaded = loaded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.loaded.model(self.loaded.preprocess(x))


def attribution_map(loaded: LoadedModel, original: torch.Tensor, image: torch.Tensor, steps: int = 16) -> torch.Tensor:
    """Integrated Gradients of the original's top-1 class on `image` (black baseline), as a 1×3×H×W heat map."""
    device = next(loaded.model.parameters()).device
    target_class = top1(loaded, original)
    x = image.to(device).clone().requires_grad_(True)
    ig = IntegratedGradients(_Normalized(loaded))
    attr = ig.attribute(x, baselines=torch.zeros_like(x), target=target_class, n_steps=steps, internal_batch_size=steps)
    heat = attr.detach().abs().sum(dim=1)[0].cpu()
    heat = (heat / heat.flatten().quantile(0.99).clamp_min(1e-12)).clamp(0, 1)
    rgb = matplotlib.colormaps["inferno"](heat.numpy())[..., :3]
    return torch.from_numpy(rgb).float().permute(2, 0, 1)[None]
