"""A layer atlas: every unit of a layer rendered under several priors, B units per fit, beside the real images
that drive it most (`examples`), with the numbers that say how far each picture got.

    units = invert.atlas.render(judges, "blocks.5", [0, 1, 2, 3], "fourier")   # one fit, four units

An atlas's fits are study cells (a batch of units under one prior and seed), so an atlas resumes after a
kill and runs on Ray like any study; `entries` joins the cells and the examples index into one row per unit,
which `page.write` turns into atlas.json and a self-contained atlas.html.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import torch

from .engine import FitResult
from .examples import ExampleIndex
from .inversion import ActivationMaximization
from .preimages import Judges, maximize_energy


# the classifier in channels_last and bfloat16 (where the CPU or GPU has bf16 units) while an atlas renders:
# a fit of 8 images 2.4x faster, of 24 (MACO's crops) 4.9x, on 2 cores; bench/atlas.py compares its pictures
# with fp32 one-at-a-time fits of the same units
FAST_CLASSIFIER = True


def render(judges: Judges, layer: str, units: Sequence[int], prior: str, *, steps: int | None = None, seed: int = 0,
           device: str = "auto", objective: dict[str, Any] | None = None
           ) -> tuple[torch.Tensor, dict[str, Any], FitResult]:
    """`units` of `layer` rendered as one fit of a batch (image i for unit i, seed `seed` + i): one forward of the
    classifier per step, each unit's own objective on its own image, under the prior's `maximize` recipe.
    Returns the B images, the record (`activations`: each unit's on its image; each image's top-1 by the model
    and the independent judge) and the fit."""
    units = list(units)
    model = judges.model
    if FAST_CLASSIFIER:
        model.model.to(memory_format=torch.channels_last)  # the same numbers, 1.5x faster on a CPU batch of 8
    image, record, fit, energy = maximize_energy(judges, lambda: ActivationMaximization(model, layer, units), prior,
                                                 steps=steps, seed=seed, device=device, batch=len(units),
                                                 objective={"classifier_bf16": FAST_CLASSIFIER, **(objective or {})})
    if len(units) == 1:  # one image: maximize_energy's numbers are already that unit's
        record = {**record, "activations": [record["activation"]],
                  **{k: [record[k]] for k in ("top1", "top1_transfer") if k in record}}
    is_class = not energy.spatial and energy.units == model.num_classes  # the logits: units are classes
    return image, {**record, "layer": layer, "units": units, "classes": is_class}, fit


@dataclass
class Picture:
    """One unit's visualization under one prior."""

    prior: str
    image: str  # path of the PNG, relative to the atlas folder
    activation: float
    multiple: float | None  # the activation over the best real image's (None without examples, or when it is ≤ 0)
    seconds: float  # the fit's time shared out over its batch
    judge: str | None = None  # for a class unit: the independent model's top-1 class name
    recognized: bool | None = None  # … and whether it is the unit's class


@dataclass
class Example:
    """One of the real images that drive a unit most."""

    image: str  # the photo's path or skimage:NAME
    activation: float
    multiple: float | None  # over the best real image's activation (1 for the best; None when that is ≤ 0)


@dataclass
class Unit:
    """One row of the atlas."""

    unit: int
    name: str | None  # the class name, at the logits
    pictures: list[Picture] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    best_real: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)


def entries(cells: Sequence[tuple[dict, dict, list[str]]], index: ExampleIndex | None,
            class_name: Callable[[int], str | None]) -> list[Unit]:
    """One row per unit from the atlas's finished cells ((settings, record, each unit's picture: a path relative
    to the atlas folder)) and the examples index; `class_name(i)` names a class unit (None elsewhere)."""
    rows: dict[int, Unit] = {}
    for settings, record, pictures in cells:
        for i, unit in enumerate(record["units"]):
            row = rows.setdefault(unit, Unit(unit, class_name(unit)))
            best = index.best(unit) if index is not None else None
            activation = record["activations"][i]
            judged = record.get("top1_transfer")
            row.pictures.append(Picture(
                settings["prior"], pictures[i], activation,
                activation / best if best and best > 0 else None, round(record["seconds"] / len(record["units"]), 2),
                class_name(judged[i]) if judged is not None and row.name else None,
                judged[i] == unit if judged is not None and row.name else None))
    for unit, row in rows.items():
        row.pictures.sort(key=lambda p: p.prior)
        if index is not None:
            row.best_real = index.best(unit)
            row.quantiles = index.quantiles(unit)
            row.examples = [Example(index.images[i], float(index.activations[i, unit]),
                                    float(index.activations[i, unit]) / row.best_real if row.best_real > 0 else None)
                            for i in index.ranking(unit)]
    return [rows[u] for u in sorted(rows)]


def as_json(units: Sequence[Unit], **about: Any) -> dict[str, Any]:
    """What atlas.json holds: `about` (model, layer, priors, …) and every unit's numbers."""
    return {**about, "units": [asdict(u) for u in units]}
