"""A prior given as a module rather than a registered name: `invert.priors.create(...)`'s, or any generator whose
`forward()` renders a 1×3×H×W image in [0, 1]. It is fitted as it is: no preset, so no recipe of its own."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from invert.priors import Prior

from .errors import SettingError


class ModulePrior(Prior):
    """A plain module fitted as a prior: `forward()` renders the image (no input noise), no regularizer, the
    module's own `fit_defaults` when it has them."""

    def __init__(self, module: nn.Module, size: tuple[int, int]):
        super().__init__(3, size)
        self.module = module
        self.fit_defaults = dict(getattr(module, "fit_defaults", {}))

    def render(self, input_noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        return self.module()


def as_prior(module: nn.Module, size: tuple[int, int], *, batch: int, preset: str | None,
             prior_settings: dict[str, Any] | None) -> Prior:
    """`module` ready for `engine.fit`, checked to render one image of `size` (H, W). A batch is refused rather
    than deep-copied: B copies of one module would start from the same picture."""
    name = type(module).__name__
    for setting, given in (("batch", batch > 1), ("preset", preset), ("prior_settings", prior_settings)):
        if given:
            raise SettingError(setting, f"needs a prior given by its registered name; a {name} module is fitted as "
                                        "it is, one image (build one module per image, or pass the name)")
    prior = module if isinstance(module, Prior) else ModulePrior(module, size)
    with torch.no_grad():
        shape = tuple(prior().shape)
    if shape != (1, 3, *size):
        raise SettingError("prior", f"must render a 1×3×{size[0]}×{size[1]} image (the model's input size); the "
                                    f"{name} renders {'×'.join(map(str, shape))}")
    return prior
