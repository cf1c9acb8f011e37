"""The DIP paper's Fig. 2: how fast a prior fits a natural image, the image plus noise, its pixels shuffled,
and white noise, each from the same initialization."""
from __future__ import annotations

from typing import Callable

import torch

from . import memory
from . import priors as prior_registry
from .energies import reconstruction
from .engine import FitConfig, FitResult, fit, resolve_device


def make_targets(image: torch.Tensor, sigma: float, seed: int) -> dict[str, torch.Tensor]:
    """The four targets of the experiment, all drawn from `seed`."""
    g = torch.Generator().manual_seed(seed)
    flat = image.flatten(2)
    perm = torch.randperm(flat.shape[-1], generator=g)
    return {
        "natural": image,
        "noisy": (image + sigma / 255 * torch.randn(image.shape, generator=g)).clamp(0, 1),
        "shuffled": flat[..., perm].reshape(image.shape),
        "noise": torch.rand(image.shape, generator=g),
    }


def fit_targets(image: torch.Tensor, prior: str = "dip", *, preset: str | None = None, steps: int = 1000,
                lr: float | None = None, sigma: float = 25, seed: int = 0, device: str = "auto",
                progress: bool = False, on_start: Callable[[str], None] | None = None
                ) -> tuple[dict[str, FitResult], str, bool]:
    """A plain fit of `prior` to each target, as in the paper's figure (no input perturbation, no averaging, no
    back-off). Returns the fits by target, the preset used and whether Ctrl-C cut the run short."""

    def build() -> torch.nn.Module:  # the same initialization for every target
        return prior_registry.create(prior, channels=image.shape[1], size=tuple(image.shape[-2:]), preset=preset,
                                     seed=seed)

    h, w = image.shape[-2:]
    memory.ensure_fit_fits(build, resolve_device(device), f"fitting {prior} to a {w}×{h} image",
                           "choose a smaller crop")
    fits: dict[str, FitResult] = {}
    used = preset or prior_registry.entry(prior).default_preset
    for name, target in make_targets(image, sigma, seed).items():
        model = build()
        config = FitConfig.build(model.fit_defaults, steps=steps, lr=lr, reg_noise_std=0.0, ema=0.0, guard=False,
                                 seed=seed, device=device, progress=progress)
        if on_start is not None:
            on_start(name)
        fits[name] = fit(model, reconstruction(target), config)
        if fits[name].interrupted:
            return fits, used, True
    return fits, used, False
