"""A layer atlas: every unit of a layer rendered under several priors, B units per fit, beside the real images
that drive it most (`examples`), with the numbers that say how far each picture got.

    units = invert.atlas.render(judges, "blocks.5", [0, 1, 2, 3], "fourier")   # one fit, four units

An atlas's fits are study cells (a batch of units under one prior and seed), so an atlas resumes after a
kill and runs on Ray like any study; `entries` joins the cells and the examples index into one row per unit,
which `atlas_page.write` turns into a self-contained atlas.html (`as_json` into atlas.json).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from .engine import FitResult
from .examples import ExampleIndex
from .objectives import channel
from .preimages import Judges, maximize_objective
from .zoo import LoadedModel


# the classifier in channels_last and bfloat16 (where the CPU or GPU has bf16 units) while an atlas renders:
# a fit of 8 images 2.4x faster, of 24 (MACO's crops) 4.9x, on 2 cores; bench/atlas.py compares its pictures
# with fp32 one-at-a-time fits of the same units
FAST_CLASSIFIER = True


# the most units one fit renders, for priors whose batch members are separate networks run one after another:
# on 2 CPU threads DIP rendered 12.5 units/min one per fit, 16.1 four per fit, 8.9 sixteen per fit (the
# classifier's batch is three crops per image; bench/results/atlas-cpu-2026-12-03.json). The Deep Decoder is a
# generator network too and is capped the same way (not measured). Others have no cap: a batch is one tensor.
MOST_PER_FIT = {"dip": 4, "deep_decoder": 4}


def render(judges: Judges, layer: str, units: Sequence[int], prior: str, *, steps: int | None = None, seed: int = 0,
           device: str = "auto", objective: dict[str, Any] | None = None
           ) -> tuple[torch.Tensor, dict[str, Any], FitResult]:
    """`units` of `layer` rendered as fits of a batch (image i for unit i, seed `seed` + i): one forward of the
    classifier per step, each unit's own objective on its own image, under the prior's `maximize` recipe; at most
    `MOST_PER_FIT[prior]` units per fit. Returns the images, the record (`activations`: each unit's on its image;
    each image's top-1 by the model and the independent judge; `seconds` of all fits) and the first fit."""
    units = list(units)
    most = MOST_PER_FIT.get(prior, len(units))
    parts = [_render_fit(judges, layer, units[i: i + most], prior, steps=steps, seed=seed + i, device=device,
                         objective=objective) for i in range(0, len(units), most)]
    if len(parts) == 1:
        return parts[0]
    records = [record for _, record, _ in parts]
    joined = {**records[0], "units": units, "seconds": round(sum(r["seconds"] for r in records), 2),
              "activation": sum(r["activation"] * len(r["units"]) for r in records) / len(units),
              **{k: [v for r in records for v in r[k]] for k in ("activations", "top1", "top1_name", "top1_transfer",
                                                                 "top1_transfer_name") if k in records[0]}}
    return torch.cat([image for image, _, _ in parts]), joined, parts[0][2]


def _render_fit(judges: Judges, layer: str, units: list[int], prior: str, **settings: Any
                ) -> tuple[torch.Tensor, dict[str, Any], FitResult]:
    """`units` rendered as one fit."""
    model = judges.model
    objective = {"classifier_bf16": FAST_CLASSIFIER, **(settings.pop("objective") or {})}
    unit = channel(layer, units)  # image i for units[i]
    with _channels_last(model.model, FAST_CLASSIFIER):
        image, record, fit = maximize_objective(judges, unit, prior, batch=len(units), objective=objective, **settings)
    if len(units) == 1:  # one image: maximize_objective's numbers are already that unit's
        record = as_batch_of_one(record)
    return image, {**record, "layer": layer, "units": units, "classes": unit.is_class}, fit


def as_batch_of_one(record: dict[str, Any]) -> dict[str, Any]:
    """A one-image fit's record as an atlas cell holds a batch's: its activation and verdicts as lists of one."""
    return {**record, "activations": [record["activation"]],
            **{k: [record[k]] for k in ("top1", "top1_name", "top1_transfer", "top1_transfer_name") if k in record}}


@contextmanager
def _channels_last(model: torch.nn.Module, wanted: bool) -> Iterator[None]:
    """The shared classifier in channels_last for the block (1.5x faster on a CPU batch of 8; the same numbers up
    to rounding), and back as it was after, so that other fits in the process see the model they were given."""
    weights = [p for p in model.parameters() if p.dim() == 4]
    was = bool(weights) and weights[0].is_contiguous(memory_format=torch.channels_last)
    if not wanted or was or not weights:
        yield
        return
    model.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


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
    path_similarity: float | None = None  # faithfulness.path_similarity against the unit's top and bottom photos
    spectrum_db: float | None = None  # faithfulness.spectrum: distance from natural photos' spectrum
    spectral_slope: float | None = None  # … and the slope of its own (natural photos: about −2 to −3.5)


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


def add_faithfulness(rows: Sequence[Unit], loaded: LoadedModel, layer: str, index: ExampleIndex | None,
                     folder: Path, k: int = 3) -> None:
    """Each picture's path similarity (against the unit's top `k` and bottom `k` photos of the index, or of the
    packaged photos without one) and its distance from natural photos' spectrum."""
    from . import faithfulness
    from .images import load_image
    from .preimages import prepare_target

    def photos(indices: list[int]) -> torch.Tensor:
        return torch.cat([prepare_target(index.images[i], loaded)[0] for i in indices])

    for row in rows:
        drivers = others = None
        if index is not None and len(index.images) >= 2:
            ranked = index.order(row.unit)
            n = min(k, len(ranked) // 2)
            drivers, others = photos(ranked[:n]), photos(ranked[-n:])
        if not row.pictures:
            continue
        made = torch.cat([load_image(folder / picture.image)[0] for picture in row.pictures])
        for picture, scores in zip(row.pictures, faithfulness.score_pictures(loaded, layer, made, unit=row.unit,
                                                                             drivers=drivers, others=others)):
            picture.path_similarity = scores.path.summary if scores.path is not None else None
            picture.spectrum_db, picture.spectral_slope = scores.spectrum.distance_db, scores.spectrum.slope


def as_json(units: Sequence[Unit], **about: Any) -> dict[str, Any]:
    """What atlas.json holds: `about` (model, layer, priors, …) and every unit's numbers."""
    return {**about, "units": [asdict(u) for u in units]}


def units_of(data: dict[str, Any]) -> list[Unit]:
    """The rows of an atlas.json, as the objects `entries` made."""
    return [Unit(u["unit"], u["name"], [Picture(**p) for p in u["pictures"]], [Example(**e) for e in u["examples"]],
                 u["best_real"], u["quantiles"]) for u in data["units"]]
