"""Feature accentuation (Hamblin, Fel et al. 2024): a unit's visualization grown FROM a real photo, so that it shows
what in that photo the unit responds to, rather than what it responds to anywhere.

The prior starts at the photo (`Seeded`) and the fit maximizes the unit's objective less a penalty on the distance
to the photo (`photo_distance`), as Horama's `feature_accentuation.accentuation` does:
loss = −objective + weight · mean((x − x0)²).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from invert import priors as prior_registry

from . import metrics, objectives
from .energies import Energy
from .engine import FitResult
from .objectives import Hooked, Objective
from .preimages import MAXIMIZE, Judges, build_prior, check_target, maximize_objective

# the photo is clamped this far inside (0, 1) before its logit (Horama's 1e-3): pure black or white would be
# infinitely far out, and the sigmoid's gradient there is 1e-3 of its peak, so those pixels move little
PHOTO_EPS = 1e-3
# chosen on 4 design units (channels 8 and 9 of blocks.4 and blocks.5, none of the benchmark's), fourier, 128 steps
# (bench/results/design/accentuation_design*-cpu-2026-12-08.json): weight 1e3 / 3e3 / 1e4 / 3e4 gave median
# activation 9.1 / 8.6 / 7.9 / 7.0 × the photo's at SSIM to it 0.66 / 0.77 / 0.87 / 0.93 (a plain
# visualization: 0.06); 1e4 keeps most of the raise and the photo. The weight is in the unit's own scale
# (Lite0's channel means run to 20-70 once maximized): a unit of much smaller values needs a smaller one. It is
# Fourier's: DIP under it raised 1 of 2 units past 1.5× (bench/results/accentuation_dip-cpu-2026-12-08.json)
WEIGHT = 1e4
# a fit of ~12 s on 2 shared CPU cores (median of 20 units in bench/results/accentuation-cpu-2026-12-08.json,
# where all 20 passed: median 6.9× the photo's activation, SSIM 0.81; Horama runs 1000 NAdam steps on a GPU);
# lr is the prior's own recipe's
STEPS = 128
# the prior's recipe's random transforms (maximize_objective applies them at coarse layers, stride ≥ 16): without
# them the raise is an adversarial pattern, invisible in the picture (design units: median activation 1.8× higher,
# SSIM 0.92, the change is noise); MACO's 3 crops per step as well cost 6× the time and halved the raise on the
# one unit tried (accentuation_design4_crops-partial.log)
TRANSFORMS: dict[str, Any] = {"transforms": True}


class Seeded(prior_registry.Prior):
    """`prior` started at `photo`: x = sigmoid(logit(photo) + logit(prior(θ)) − logit(prior(θ₀))).

    At step 0 it renders the photo; then it moves as the prior's pre-sigmoid output moves, so each prior keeps
    its own preconditioning. For the Fourier prior, whose pre-sigmoid output is linear in its spectrum, this is
    exactly Horama's start (the spectrum set to the photo's) under the same Adam steps.
    """

    def __init__(self, prior: prior_registry.Prior, photo: torch.Tensor):
        super().__init__(prior.channels, prior.size, prior.regularizer())
        self.prior = prior
        self.fit_defaults, self.preset = dict(prior.fit_defaults), prior.preset
        with torch.no_grad():
            start = _logit(prior())
        self.register_buffer("offset", torch.logit(photo.clamp(PHOTO_EPS, 1 - PHOTO_EPS)) - start)

    def render(self, input_noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        return torch.sigmoid(_logit(self.prior(input_noise_std, generator)) + self.offset)


def _logit(x: torch.Tensor) -> torch.Tensor:
    """The prior's output before its final sigmoid (every registered prior ends in one), in float32."""
    return torch.logit(x.float(), eps=1e-6)


class PhotoDistance(Energy):
    """mean((x − photo)²): Horama's penalty on leaving the photo."""

    def __init__(self, photo: torch.Tensor):
        super().__init__()
        self.register_buffer("photo", photo.detach().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.photo).pow(2).mean()


def photo_distance(photo: torch.Tensor) -> objectives.PixelPenalty:
    """−mean((x − photo)²) as an objective term, to be added: `goal + weight * photo_distance(photo)`."""
    return objectives.PixelPenalty(PhotoDistance(photo), "photo_distance")


def unit_activation(judges: Judges, goal: Objective, image: torch.Tensor) -> float:
    """The goal's unit activation on `image` as the model sees it (no transforms)."""
    with Hooked(judges.model, goal) as energy, torch.no_grad():
        return float(energy.activation(image))


def accentuate(judges: Judges, goal: Objective, photo: torch.Tensor, prior: str | nn.Module = "fourier", *,
               weight: float = WEIGHT, steps: int | None = None, seed: int = 0, device: str = "auto",
               progress: bool = False, objective: dict[str, Any] | None = None,
               fit_settings: dict[str, Any] | None = None) -> tuple[torch.Tensor, dict[str, Any], FitResult]:
    """`goal` accentuated in `photo` (1×3×H×W in [0, 1] at the model's input size): the prior starts at the photo
    and maximizes goal − `weight` · mean((x − photo)²) for `steps`.

    `objective` overrides the recipe's settings as in `preimages.maximize_objective` ({"transforms": False},
    {"tv": w}, …), `fit_settings` its engine settings (lr, …). A named prior gets its `maximize` recipe (its lr,
    its transforms) and `STEPS`; a module is fitted as it is, under the transforms' defaults. Returns the image,
    the record (maximize_objective's, plus the goal's `photo_activation` on the photo itself, `ssim_to_photo` and
    the `weight`) and the fit.
    """
    check_target(photo, judges.model, "from_image")
    # a named prior with its `maximize` recipe (memory checked first), a module as it is; started at the photo
    built, name, _, settings = build_prior(prior, None, MAXIMIZE, judges.model, seed=seed, batch=1,
                                           prior_settings=None, device=device)
    seeded = Seeded(built, photo)
    seeded.fit_defaults["steps"] = STEPS
    target = goal + weight * photo_distance(photo)
    image, record, result = maximize_objective(judges, target, seeded, steps=steps, seed=seed, device=device,
                                               progress=progress, fit_settings=fit_settings,
                                               objective={**settings, **TRANSFORMS, **(objective or {})})
    record.update(prior=name, weight=weight, photo_activation=unit_activation(judges, goal, photo),
                  ssim_to_photo=metrics.ssim(image, photo))
    return image, record, result
