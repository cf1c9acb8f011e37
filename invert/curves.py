"""The DIP paper's Fig. 2: how fast a prior fits a natural image, the image plus noise, its pixels shuffled,
and white noise, each from the same initialization.

Final losses say little: a net with enough weights fits noise too, in the end. The paper's point is speed, so
`fitting_speed` counts the steps each target needs to reach one loss level (a multiple of the natural
image's lowest loss) and divides by the natural image's count.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from . import memory
from . import priors as prior_registry
from .defaults import LEVEL_FACTOR
from .energies import reconstruction
from .engine import FitConfig, FitResult, fit, resolve_device
from .errors import SettingError


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
    back-off), with `preset`, else the prior's `curves` preset where it has one, else its default. Returns the
    fits by target, the preset used and whether Ctrl-C cut the run short."""
    preset = prior_registry.preset_for(prior, "curves", preset)

    def build() -> torch.nn.Module:  # the same initialization for every target
        return prior_registry.create(prior, channels=image.shape[1], size=tuple(image.shape[-2:]), preset=preset,
                                     seed=seed)

    h, w = image.shape[-2:]
    memory.ensure_fit_fits(build, resolve_device(device), f"fitting {prior} to a {w}×{h} image",
                           "choose a smaller crop")
    fits: dict[str, FitResult] = {}
    for name, target in make_targets(image, sigma, seed).items():
        model = build()
        config = FitConfig.build(model.fit_defaults, steps=steps, lr=lr, reg_noise_std=0.0, ema=0.0, guard=False,
                                 seed=seed, device=device, progress=progress)
        if on_start is not None:
            on_start(name)
        fits[name] = fit(model, reconstruction(target), config)
        if fits[name].interrupted:
            return fits, preset, True
    return fits, preset, False


def steps_to_reach(losses: Sequence[float], level: float) -> int | None:
    """The first step (counted from 1) whose loss is at most `level`; None when none is."""
    return next((step for step, loss in enumerate(losses, 1) if loss <= level), None)


def fitting_speed(losses: dict[str, Sequence[float]], factor: float = LEVEL_FACTOR) -> dict[str, Any]:
    """Per target, the steps to reach `factor` × the natural image's lowest loss and that count over the natural
    image's ("ratio"); a target that never reaches it gets the budget over the natural count, a lower bound
    ("reached": false)."""
    if factor < 1:
        raise SettingError("factor", f"= {factor}; give at least 1 (the natural image must reach the level)")
    level = factor * min(losses["natural"])
    natural = steps_to_reach(losses["natural"], level)
    targets = {}
    for name, curve in losses.items():
        steps = steps_to_reach(curve, level)
        targets[name] = {"steps": steps, "reached": steps is not None,
                         "ratio": round((steps or len(curve)) / natural, 2)}
    return {"level": level, "level_factor": factor, "targets": targets}


def speed_line(speed: dict[str, Any]) -> str:
    """One line: each target's steps to the level and how many times the natural image's count that is."""
    parts = []
    for name, t in speed["targets"].items():
        if name == "natural":
            parts.append(f"natural {t['steps']}")
        elif t["reached"]:
            parts.append(f"{name} {t['steps']} ({t['ratio']:g}×)")
        else:
            parts.append(f"{name} not within the budget (>{t['ratio']:g}×)")
    return (f"steps to reach loss {speed['level']:.3g} ({speed['level_factor']:g}× the natural image's lowest): "
            + ", ".join(parts))
