"""The library in a notebook's words: a model, a unit or a photo, a prior — a picture back.

    import invert
    model = invert.zoo.load("efficientnet_lite0")
    v = invert.visualize(model, "classifier:flamingo", prior="fourier")      # v.image, v.activation; v.save(dir)
    vs = invert.visualize(model, ["blocks.5:3", "blocks.5:7@4,4"], prior="maco")
    p = invert.preimage(model, "skimage:coffee", layer="blocks.4", prior="dip")
    r = invert.restore("photo.png", invert.tasks.Deblur(blur=2.0))
    s = invert.score(model, v.image, wanted=v.unit.channel)                 # evaluation, apart from fitting
    a = invert.layer_atlas(model, "blocks.4", range(8), ["fourier", "maco"], images=["photos/"])  # a.html

A unit is written as lucid and lucent write it: LAYER:CHANNEL, a class name or index at the logits, and
@Y,X for one position. Fits run no judge unless `score=True`; `invert.score` scores any image later.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from . import atlas, images, objectives, operations, tasks, zoo
from .direction import Direction
from .objectives import Objective
from .operations import PreImage, Restored, Unit, Visualization
from .preimages import Judges, check_target, prepare_target, transfer_model_name
from .scores import Scores, verdict

Model = zoo.LoadedModel | str | nn.Module
Image = torch.Tensor | str | os.PathLike


def _model(model: Model) -> zoo.LoadedModel:
    return model if isinstance(model, zoo.LoadedModel) else zoo.load(model)


def score(model: Model, image: torch.Tensor, wanted: int | None = None, judge: Model | None | str = "auto") -> Scores:
    """What `model` and an independent judge (EfficientNet-Lite2, or Lite0 for Lite2; `judge=None` skips it)
    call `image`; with `wanted`, each one's probability of it, top-5 and grey-copy probability."""
    loaded = _model(model)
    if judge == "auto":
        judge = transfer_model_name(loaded.name)
    return Scores(verdict(loaded, image, wanted), None if judge is None else verdict(_model(judge), image, wanted))


_score = score  # `visualize` and `preimage` take a `score` flag that hides the function


def visualize(model: Model, units: str | Direction | Objective | Sequence[str | Direction | Objective],
              prior: Any = "fourier", *,
              preset: str | None = None, steps: int | None = None, seed: int = 0, device: str = "auto",
              score: bool = False, progress: bool = False, batch: int = 1, diversity: float = 0.0,
              recipe: tasks.Recipe | None = None, from_image: Image | None = None
              ) -> Visualization | list[Visualization]:
    """The image `prior` (a name, or a generator module) can make that most excites each unit (activation
    maximization): "LAYER:CHANNEL[@Y,X]", "LOGITS:CLASS", an `invert.Direction`, or any objective written with
    `invert.objectives` (`unit("blocks.5:3") - 50 * diversity()`, also as that text); a list gives a list.
    `score=True` adds `invert.score` (the unit's class, for a logit) and the faithfulness scores to each. `batch`
    images per unit, pushed apart by `diversity` (a weight) in the Gram space of the unit's layer, as lucid's
    diversity objective does. `recipe` adds to the prior's preset (`invert.tasks.Recipe(tv=..., no_transforms=True)`).
    `from_image` (a file, skimage:NAME or a tensor at the model's input size) grows each unit's picture from that
    photo instead: feature accentuation, what in the photo the unit responds to (`invert.accentuation`)."""
    loaded = _model(model)
    photo = None if from_image is None else _target(from_image, loaded, "from_image")
    photo_name = None if from_image is None or isinstance(from_image, torch.Tensor) else str(from_image)
    several = isinstance(units, (list, tuple))
    parsed = [(objectives.parse(u) if "(" in u else Unit.parse(u, loaded)) if isinstance(u, str) else u
              for u in (units if several else [units])]
    for unit in parsed:  # every unit checked before any fit
        operations.check_unit(loaded, unit)
    done = []
    for unit in parsed:
        shown = operations.get("maximize").run(Judges(loaded), unit, prior, recipe=recipe, preset=preset, steps=steps,
                                               seed=seed, device=device, progress=progress, batch=batch,
                                               diversity=diversity, faithfulness=score, from_image=photo,
                                               from_image_name=photo_name)
        if score:
            is_class = isinstance(unit, Unit) and shown.class_name is not None
            shown.scores = _score(loaded, shown.image[:1], unit.channel if is_class else None)
        done.append(shown)
    return done if several else done[0]


def preimage(model: Model, image: Image, layer: str, prior: Any = "dip", *, preset: str | None = None,
             steps: int | None = None, seed: int = 0, device: str = "auto", score: bool = False,
             progress: bool = False, recipe: tasks.Recipe | None = None) -> PreImage:
    """An image whose features at `layer` match those of `image` (a file, `skimage:NAME`, or a 1×3×H×W tensor in
    [0, 1] at the model's input size), under `prior` (a name, or a generator module). `score=True` adds
    `invert.score` against the photo's class and the faithfulness scores; `recipe` adds to the prior's preset
    (`invert.tasks.Recipe(tv=30.0)`)."""
    loaded = _model(model)
    target = _target(image, loaded)
    zoo.find_layers(loaded.model, [layer], loaded.name)
    done = operations.get("preimage").run(Judges(loaded), target, layer, prior, recipe=recipe, preset=preset,
                                          steps=steps, seed=seed, device=device, progress=progress,
                                          faithfulness=score)
    if score:
        done.scores = _score(loaded, done.image, done.top1_original)
    return done


def _target(image: Image, loaded: zoo.LoadedModel, name: str = "image") -> torch.Tensor:
    """The photo as the model sees it: a file or skimage:NAME prepared by its preprocessing, or a tensor checked
    (`name`: the argument it came as, for the error)."""
    if isinstance(image, torch.Tensor):
        return check_target(image, loaded, name)
    return prepare_target(str(image), loaded)[0]


def restore(image: Image, task: tasks.RestorationTask | str, prior: Any = None, *, preset: str | None = None,
            steps: int | None = None, seed: int = 0, device: str = "auto", crop: int | None = None,
            **settings: Any) -> Restored:
    """Restore `image` (a file, `skimage:NAME` or a 1×C×H×W tensor in [0, 1]) as `task` says — a task object
    (`invert.tasks.Deblur(blur=2.0)`) or a name with its settings (`"denoise", noise="25"`) — with `prior`
    (default: the task's). Returns the restored image with its scores as fields, the problem and the fit."""
    task = tasks.create(task, **settings) if isinstance(task, str) else task
    picture = image if isinstance(image, torch.Tensor) else images.load_image(image)[0]
    return operations.get("restore").run(picture, task, prior, preset=preset, steps=steps, seed=seed, device=device,
                                         crop=crop)


@dataclass(frozen=True)
class Atlas:
    """A layer atlas on disk: `units` (one row per unit: pictures by prior, dataset examples, numbers), and the
    page and JSON in `folder`."""

    folder: Path
    units: list[atlas.Unit]

    @property
    def html(self) -> Path:
        return self.folder / "atlas.html"

    @property
    def json(self) -> Path:
        return self.folder / "atlas.json"

    def __repr__(self) -> str:
        return f"Atlas({self.folder}, {len(self.units)} units)"


def layer_atlas(model: Model, layer: str, units: Sequence[int], priors: Sequence[str] = ("fourier",), *,
                images: str | os.PathLike | Sequence[str | os.PathLike] = (), top: int = 6, batch: int = 8,
                steps: int | None = None, seed: int = 0, device: str = "auto", out: str | os.PathLike = "runs/atlas",
                accentuate: bool = False) -> Atlas:
    """Every unit of `units` rendered under each prior, `batch` per fit, beside the `top` photos of `images`
    (a folder, glob or skimage:NAME, or a list of them) that drive it most, written to `out` (a study folder: run
    it again to resume, or with more units or priors to add them). The index of the photos is cached in `out`.
    `accentuate` adds each unit's top photo accentuated under each prior (a column of its own)."""
    from . import studies

    loaded = _model(model)
    operations.remember_model(loaded)  # the cells of this process use this very model, not a fresh load by name
    raw = {"task": "atlas", "model": loaded.name, "layers": [layer], "channels": [int(u) for u in units],
           "batch": batch, "top": top,
           "images": [str(images)] if isinstance(images, (str, os.PathLike)) else [str(i) for i in images],
           "priors": [priors] if isinstance(priors, str) else list(priors), "seeds": [seed], "device": device,
           "accentuate": accentuate}
    if steps is not None:
        raw["steps"] = steps
    spec = studies.spec_of(raw, Path.cwd(), "layer_atlas")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    studies.run_study(spec, folder)
    studies.write_report(folder)
    return Atlas(folder, atlas.units_of(json.loads((folder / "atlas.json").read_text())))
