"""The library in a notebook's words: a model, a unit or a photo, a prior — a picture back.

    import invert
    model = invert.zoo.load("efficientnet_lite0")
    v = invert.visualize(model, "classifier:flamingo", prior="fourier")      # v.image, v.fit, v.activation
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

from . import atlas, images, restoration, tasks, zoo
from .engine import FitResult
from .errors import InvertError, SettingError
from .direction import Direction
from .diversity import Diverse, batch_similarity
from .faithfulness import Faithfulness, score_picture
from .inversion import ActivationMaximization
from .preimages import Judges, invert_layer, maximize_energy, prepare_target, transfer_model_name
from .scores import Scores, verdict

Model = zoo.LoadedModel | str | nn.Module
Image = torch.Tensor | str | os.PathLike


@dataclass(frozen=True)
class Unit:
    """A channel of a layer (its mean over positions), one position of it, or a class logit."""

    layer: str
    channel: int
    position: tuple[int, int] | None = None

    @classmethod
    def parse(cls, text: str, model: zoo.LoadedModel) -> Unit:
        """"blocks.5:7", "blocks.5:7@4,4", "classifier:flamingo" or "classifier:130"."""
        layer, sep, rest = str(text).rpartition(":")
        if not sep or not layer or not rest:
            raise InvertError(f"unit {text!r}: write LAYER:CHANNEL (e.g. blocks.5:7), LAYER:CHANNEL@Y,X for one "
                              "position, or LOGITS:CLASS (e.g. classifier:flamingo)")
        zoo.find_layers(model.model, [layer], model.name)
        what, _, where = rest.partition("@")
        position = None
        if where:
            try:
                y, x = (int(v) for v in where.split(","))
            except ValueError:
                raise InvertError(f"unit {text!r}: the position is written @Y,X (e.g. @4,4)") from None
            position = (y, x)
        channel = int(what) if what.strip().isdigit() else zoo.class_index(what)
        return cls(layer, channel, position)

    def energy(self, loaded: zoo.LoadedModel) -> ActivationMaximization:
        return ActivationMaximization(loaded, self.layer, self.channel, self.position)

    def __str__(self) -> str:
        return f"{self.layer}:{self.channel}" + (f"@{self.position[0]},{self.position[1]}" if self.position else "")


@dataclass
class Visualization:
    """What `visualize` returns for one unit."""

    unit: Unit | Direction
    image: torch.Tensor  # 1×3×H×W in [0, 1]; B×3×H×W for a batch
    prior: str
    preset: str
    activation: float  # the unit's activation on the image (no transforms), averaged over a batch
    fit: FitResult
    scores: Scores | None = None  # of the first image of a batch
    similarity: float | None = None  # a diverse batch's Gram similarity at the diversity layer (1: all alike)
    faithfulness: Faithfulness | None = None  # with score=True: path similarity and natural spectrum (first image)

    def _repr_png_(self) -> bytes:  # a notebook shows the picture (a batch side by side)
        return images.png_bytes(self.image)


@dataclass
class PreImage:
    """What `preimage` returns: an image whose features at `layer` match the target's."""

    layer: str
    image: torch.Tensor
    target: torch.Tensor  # the photo as the model sees it
    prior: str
    preset: str
    feature_loss: float  # normalized, as in the record
    flat_feature_loss: float  # a flat grey image's: below half of it the fit has not stalled
    stalled: bool
    failure: str | None  # why it is not a pre-image yet ("stalled", "class changed"), None when it is one
    fit: FitResult
    scores: Scores | None = None
    faithfulness: Faithfulness | None = None  # with score=True: path similarity to the photo, natural spectrum

    def _repr_png_(self) -> bytes:  # a notebook shows the photo as the model sees it beside its pre-image
        return images.png_bytes(torch.cat([self.target.cpu(), self.image.cpu()]))


def _model(model: Model) -> zoo.LoadedModel:
    return model if isinstance(model, zoo.LoadedModel) else zoo.load(model)


def score(model: Model, image: torch.Tensor, wanted: int | None = None, judge: Model | None | str = "auto") -> Scores:
    """What `model` and an independent judge (EfficientNet-Lite2, or Lite0 for Lite2; `judge=None` skips it)
    call `image`; with `wanted`, each one's probability of it, top-5 and grey-copy probability."""
    loaded = _model(model)
    if judge == "auto":
        judge = transfer_model_name(loaded.name)
    return Scores(verdict(loaded, image, wanted), None if judge is None else verdict(_model(judge), image, wanted))


def visualize(model: Model, units: str | Direction | Sequence[str | Direction], prior: str = "fourier", *,
              preset: str | None = None, steps: int | None = None, seed: int = 0, device: str = "auto",
              score: bool = False, progress: bool = False, batch: int = 1, diversity: float = 0.0,
              diversity_layer: str | None = None, recipe: tasks.Recipe | None = None
              ) -> Visualization | list[Visualization]:
    """The image `prior` can make that most excites each unit (activation maximization): "LAYER:CHANNEL[@Y,X]",
    "LOGITS:CLASS" or an `invert.Direction`; a list of units gives a list. `score=True` adds `invert.score`
    (the unit's class, for a logit) and the faithfulness scores to each. `batch` images per unit, pushed apart by `diversity` (a weight)
    in the Gram space of `diversity_layer` (default: the unit's layer), as lucid's diversity objective does.
    `recipe` adds to the prior's preset (`invert.tasks.Recipe(tv=..., no_transforms=True)`)."""
    if diversity and batch < 2:
        raise SettingError("diversity", "needs a batch of at least 2 images to push apart; give batch=4, say")
    loaded = _model(model)

    def make_energy(unit: Unit | Direction):
        energy = unit.energy(loaded)
        return Diverse(energy, diversity_layer or unit.layer, diversity) if diversity else energy

    several = isinstance(units, (list, tuple))
    parsed = [Unit.parse(u, loaded) if isinstance(u, str) else u for u in (units if several else [units])]
    checked = [unit.energy(loaded) for unit in parsed]  # every unit checked before any fit
    for energy in checked:
        energy.remove_hooks()
    done = []
    for unit, probe in zip(parsed, checked):
        image, record, fit, _ = maximize_energy(Judges(loaded), lambda: make_energy(unit), prior, preset=preset,
                                                steps=steps, seed=seed, device=device, progress=progress, batch=batch,
                                                objective=(recipe or tasks.Recipe()).objective())
        is_class = isinstance(probe, ActivationMaximization) and not probe.spatial and probe.units == loaded.num_classes
        scores = _score(loaded, image[:1], unit.channel if is_class else None) if score else None
        similarity = batch_similarity(loaded, diversity_layer or unit.layer, image) if diversity else None
        faithful = score_picture(loaded, unit.layer, image[:1], unit=getattr(unit, "channel", None)) if score else None
        done.append(Visualization(unit, image, prior, record["preset"], record["activation"], fit, scores, similarity,
                                  faithful))
    return done if several else done[0]


def preimage(model: Model, image: Image, layer: str, prior: str = "dip", *, preset: str | None = None,
             steps: int | None = None, seed: int = 0, device: str = "auto", score: bool = False,
             progress: bool = False, recipe: tasks.Recipe | None = None) -> PreImage:
    """An image whose features at `layer` match those of `image` (a file, `skimage:NAME`, or a 1×3×H×W tensor in
    [0, 1] at the model's input size), under `prior`. `score=True` adds `invert.score` against the photo's class
    and the faithfulness scores;
    `recipe` adds to the prior's preset (`invert.tasks.Recipe(tv=30.0)`)."""
    loaded = _model(model)
    target = image if isinstance(image, torch.Tensor) else prepare_target(str(image), loaded)[0]
    picture, record, fit = invert_layer(Judges(loaded), target, layer, prior, preset=preset, steps=steps, seed=seed,
                                        device=device, progress=progress,
                                        objective=(recipe or tasks.Recipe()).objective())
    return PreImage(layer, picture, target, prior, record["preset"], record["feature_loss"],
                    record["flat_feature_loss"], record["stalled"], record["failure"], fit,
                    _score(loaded, picture, record["top1_original"]) if score else None,
                    score_picture(loaded, layer, picture, photo=target) if score else None)


def restore(image: Image, task: tasks.RestorationTask | str, prior: str | None = None, *, preset: str | None = None,
            steps: int | None = None, seed: int = 0, device: str = "auto", crop: int | None = None,
            **settings: Any) -> restoration.Restoration:
    """Restore `image` (a file, `skimage:NAME` or a 1×C×H×W tensor in [0, 1]) as `task` says — a task object
    (`invert.tasks.Deblur(blur=2.0)`) or a name with its settings (`"denoise", noise="25"`) — with `prior`
    (default: the task's). Returns the restored image, the problem, the fit and the scores."""
    task = tasks.create(task, **settings) if isinstance(task, str) else task
    picture = image if isinstance(image, torch.Tensor) else images.load_image(image)[0]
    size = tuple(picture.shape[-2:])
    if crop:
        picture = images.center_crop(picture, crop)
    problem = task.problem(picture, seed, tasks.Source(size, crop))
    return restoration.restore(problem, prior, preset=preset, steps=steps, seed=seed, device=device)


def _score(loaded: zoo.LoadedModel, image: torch.Tensor, wanted: int | None) -> Scores:
    return score(loaded, image, wanted)


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


def layer_atlas(model: Model, layer: str, units: Sequence[int], priors: Sequence[str] = ("fourier",), *,
                images: Sequence[str] = (), top: int = 6, batch: int = 8, steps: int | None = None, seed: int = 0,
                device: str = "auto", out: str | os.PathLike = "runs/atlas") -> Atlas:
    """Every unit of `units` rendered under each prior, `batch` per fit, beside the `top` photos of `images`
    (folders, globs, skimage:NAME) that drive it most, written to `out` (a study folder: run it again to resume,
    or with more units or priors to add them). The index of the photos is cached in `out`."""
    from . import studies

    loaded = _model(model)
    studies.remember_model(loaded)  # the cells of this process use this very model, not a fresh load by name
    raw = {"task": "atlas", "model": loaded.name, "layers": [layer], "channels": [int(u) for u in units],
           "batch": batch, "top": top, "images": list(images), "priors": list(priors), "seeds": [seed],
           "device": device}
    if steps is not None:
        raw["steps"] = steps
    spec = studies.spec_of(raw, Path.cwd(), "layer_atlas")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    studies.run_study(spec, folder)
    studies.write_report(folder)
    return Atlas(folder, atlas.units_of(json.loads((folder / "atlas.json").read_text())))
