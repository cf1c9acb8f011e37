"""Maximize: the image a prior can make that most excites a unit — a channel, one position of it, a class logit
or a direction in a layer's channel space — alone or as a batch pushed apart (diversity)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import torch

from .. import objectives, tasks, zoo
from ..cell_scores import MaximizeScores
from ..direction import Direction, weights_label, weights_vector
from ..errors import InvertError, SettingError
from ..objectives import Objective
from ..faithfulness import FaithfulnessScores
from ..results import Result, in_memory, optional
from .base import (Operation, StudyError, common, expand_images, judges_for, listed, load_model,
                   read_model_and_layers, read_recipe, read_whole, register)

if TYPE_CHECKING:
    from ..preimages import Judges
    from ..scores import Scores
    from ..studies import Spec


@dataclass(frozen=True)
class Unit:
    """A channel of a layer (its mean over positions), one position of it, or a class logit."""

    layer: str
    channel: int
    position: tuple[int, int] | None = None

    @classmethod
    def parse(cls, text: str, model: zoo.LoadedModel) -> Unit:
        """"blocks.5:7", "blocks.5:7@4,4", "classifier:flamingo" or "classifier:130", its layer checked."""
        term = objectives.unit(text)
        zoo.find_layers(model.model, [term.layer], model.name)
        return cls(term.layer, term.channels[0], term.position)

    def objective(self) -> Objective:
        return objectives.channel(self.layer, self.channel, self.position)

    def __str__(self) -> str:
        return f"{self.layer}:{self.channel}" + (f"@{self.position[0]},{self.position[1]}" if self.position else "")


Target = Union[Unit, Direction, Objective]  # an objective: any expression of `invert.objectives` terms


@dataclass(repr=False, eq=False, kw_only=True)
class Visualization(Result):
    """The image(s) that most excite one unit: its activation, and what the model and the judge call them."""

    kind = "maximize"
    headline = ("label", "prior", "activation", "top1_name", "similarity", "seconds")

    layer: str
    prior: str
    preset: str
    activation: float  # on the image(s) as fitted, no transforms; a batch's mean
    label: str = ""  # the unit as people read it: "blocks.5:3", "classifier:flamingo", "blocks.5:1·3 − 0.5·7"
    channel: int | None = optional()  # None for a direction
    position: list[int] | None = None
    class_name: str | None = None  # at the logits: the class maximized
    activations: list[float] | None = optional()  # several units, one per image (an atlas batch)
    top1: int | list[int] | None = None  # one image: a class; a batch: one per image
    top1_name: str | list[str] | None = None
    top1_transfer: int | list[int] | None = optional()
    top1_transfer_name: str | list[str] | None = optional()
    diversity: float | None = optional()  # the weight pushing a batch apart
    similarity: float | None = optional()  # … and the batch's Gram similarity (1: all alike)
    params: int | None = None
    seconds: float = 0.0
    steps_run: int = 0
    faithfulness: FaithfulnessScores | None = optional(FaithfulnessScores.from_record)  # spectrum, path, seeds
    from_image: str | None = optional()  # accentuation: the photo it was grown from
    photo_activation: float | None = optional()  # … the unit's activation on that photo
    ssim_to_photo: float | None = optional()  # … and how close the accentuated image stays to it
    unit: Target | None = in_memory()
    scores: Scores | None = in_memory()  # `invert.score` of the first image (the unit's class, at the logits)


def unit_count(loaded: zoo.LoadedModel, layer: str) -> int:
    """How many channels (or classes, at the logits) `layer` has."""
    return objectives.layer_shapes(loaded, [layer])[layer][1]


@register
class MaximizeOperation(Operation):
    name = "maximize"
    keys = frozenset({"model", "layers", "classes", "channels", "directions", "objectives", "transfer", "batch",
                      "diversity", "from_image", *tasks.settings_of(tasks.Recipe)})
    scores = MaximizeScores

    def run(self, judges: Judges, unit: Target, prior: Any, *, recipe: tasks.Recipe | None = None,
            preset: str | None = None, steps: int | None = None, seed: int = 0, device: str = "auto",
            progress: bool = False, batch: int = 1, diversity: float = 0.0,
            faithfulness: bool = True, label: str | None = None, from_image: torch.Tensor | None = None,
            from_image_name: str | None = None) -> Visualization:
        """The image `prior` (a name or a generator module) makes that most excites `unit`; `batch` images pushed
        apart by `diversity` in the unit layer's Gram space; or, `from_image` given (1×3×H×W at the model's
        input size), the photo accentuated: grown from it towards the unit (`invert.accentuation`).
        `faithfulness` adds the picture's spectrum and how near it lies to the unit's natural drivers (for a
        direction or an objective: the spectrum)."""
        from .. import preimages
        from ..faithfulness import maximized, score_picture

        if diversity and batch < 2:
            raise SettingError("diversity", "needs a batch of at least 2 images to push apart; give batch=4, say")
        settings = dict(preset=preset, steps=steps, seed=seed, device=device, progress=progress, batch=batch,
                        diversity=diversity, objective=(recipe or tasks.Recipe()).objective())
        if from_image is not None:
            image, record, fit, faithful = self._accentuate(judges, unit, prior, from_image, settings, faithfulness)
            record["from_image"] = from_image_name
        elif isinstance(unit, Objective):  # its natural drivers are not ranked: its faithfulness is its spectrum
            goal = unit - diversity * objectives.diversity() if diversity else unit
            del settings["diversity"]
            image, record, fit = preimages.maximize_objective(judges, goal, prior, **settings)
            layer = first_layer(unit)
            record = {"layer": layer, **record}
            faithful = score_picture(judges.model, layer, image).as_record() if faithfulness else None
        elif isinstance(unit, Direction):
            image, record, fit = preimages.maximize_direction(judges, unit.layer, unit.vector, prior,
                                                              position=unit.position, **settings)
            faithful = score_picture(judges.model, unit.layer, image).as_record() if faithfulness else None
        else:
            image, record, fit = preimages.maximize(judges, unit.layer, unit.channel, prior, position=unit.position,
                                                    **settings)
            faithful = (maximized(judges.model, judges.transfer, unit.layer, unit.channel, image,
                                  bool(record.get("class_name"))) if faithfulness else None)
        return Visualization.from_json({**record, "label": label or str(unit), "faithfulness": faithful},
                                       image=image, fit=fit, unit=unit)

    def _accentuate(self, judges: Judges, unit: Target, prior: Any, photo: torch.Tensor, settings: dict[str, Any],
                    faithfulness: bool) -> tuple[torch.Tensor, dict[str, Any], Any, dict[str, Any] | None]:
        """`run`'s fit from a photo: one image, its record (with the photo's activation and the SSIM to it), the
        fit and the picture's faithfulness (its spectrum)."""
        from ..accentuation import accentuate
        from ..faithfulness import score_picture

        for setting, given in (("batch", settings["batch"] > 1), ("diversity", settings["diversity"]),
                               ("preset", settings["preset"])):
            if given:
                raise SettingError(setting, "is not taken with from_image: an accentuation is one image grown from "
                                            "the photo under the accentuation recipe")
        goal = unit if isinstance(unit, Objective) else unit.objective()
        image, record, fit = accentuate(judges, goal, photo, prior, steps=settings["steps"], seed=settings["seed"],
                                        device=settings["device"], progress=settings["progress"],
                                        objective=settings["objective"])
        layer = first_layer(goal)
        if isinstance(unit, Unit):  # bound by the fit, the goal knows whether it is a class logit
            record.update(channel=unit.channel, position=list(unit.position) if unit.position else None,
                          class_name=judges.model.class_name(unit.channel) if goal.is_class else None)
        faithful = score_picture(judges.model, layer, image).as_record() if faithfulness else None
        return image, {"layer": layer, **record}, fit, faithful

    def read(self, raw: dict[str, Any], spec: Spec, base: Path, where: str) -> None:
        """The unit's keys (`read_units`), and a batch of images per unit pushed apart by `diversity`."""
        read_units(raw, spec, where)
        read_whole(raw, spec, "batch", where)
        diversity = raw.get("diversity", 0.0)
        if isinstance(diversity, bool) or not isinstance(diversity, (int, float)) or not 0 <= diversity < math.inf:
            raise StudyError(f"{where}: diversity = {diversity!r}; give a weight, at least 0 (e.g. 0.5)")
        if diversity and spec.batch < 2:
            raise StudyError(f"{where}: diversity pushes a batch's images apart: give batch = 2 or more (e.g. batch = 4)")
        spec.diversity = float(diversity)
        photo = raw.get("from_image")
        if photo is not None:
            found = expand_images(photo, base, where) if isinstance(photo, str) else []
            if len(found) != 1:
                raise StudyError(f"{where}: from_image = {photo!r}; give one image file (or skimage:NAME) to grow "
                                 "each unit's picture from")
            if spec.batch > 1 or spec.diversity:
                raise StudyError(f"{where}: from_image grows one image from the photo; leave batch and diversity out")
            spec.from_image = found[0]

    def grid(self, spec: Spec) -> list[dict[str, Any]]:
        """A cell per unit or direction; batch and diversity only where given, so that the cells of older specs
        keep their keys."""
        many = {"batch": spec.batch} if spec.batch > 1 else {}
        apart = {"diversity": spec.diversity} if spec.diversity else {}
        grown = {"from_image": spec.from_image} if spec.from_image else {}
        units = [{"layer": spec.layers[0], "unit": u} for u in spec.units]
        units += [{"layer": spec.layers[0], "direction": d} for d in spec.directions]
        units += [{"objective": text} for text in spec.objectives]  # an objective names its own layers
        return [{"model": spec.model, "transfer": spec.transfer, **unit, **spec.recipe, **many, **apart, **grown}
                for unit in units]

    def run_cell(self, settings: dict[str, Any]) -> Visualization:
        judges = judges_for(settings)
        layer = settings.get("layer")
        if "objective" in settings:
            unit, label = objectives.parse(settings["objective"]), settings["objective"]
        elif settings.get("unit") is None:
            unit: Target = Direction(layer, weights_vector(settings["direction"], unit_count(judges.model, layer)))
            label = f"{layer}:{weights_label(settings['direction'])}"
        else:
            unit, label = Unit(layer, settings["unit"]), None
        from ..preimages import prepare_target

        photo = settings.get("from_image")
        return self.run(judges, unit, settings["prior"], recipe=tasks.Recipe.of(settings), label=label,
                        batch=settings.get("batch", 1), diversity=settings.get("diversity", 0.0), from_image_name=photo,
                        from_image=None if photo is None else prepare_target(photo, judges.model)[0],
                        **common(settings))

    def row(self, settings: dict[str, Any]) -> str:
        if "objective" in settings:
            return settings["objective"]
        unit = settings.get("unit")
        return f"{settings['layer']}[{unit if unit is not None else weights_label(settings['direction'])}]"


def read_units(raw: dict, spec: Spec, where: str) -> None:
    """The model, the layer and exactly one of classes, channels or directions (those the task takes), each
    checked against the layer before any cell runs."""
    from .base import get

    read_model_and_layers(raw, spec, where, default_logits=True)
    read_recipe(raw, spec, where)
    kinds = [k for k in ("classes", "channels", "directions", "objectives") if k in get(spec.task).keys]
    if sum(raw.get(k) is not None for k in kinds) != 1:
        raise StudyError(f"{where}: a {spec.task} study needs exactly one of {', '.join(kinds[:-1])} and {kinds[-1]}")
    classes = raw.get("classes")
    if raw.get("objectives") is not None:
        spec.objectives = read_objectives(listed(raw, "objectives", str, where), load_model(spec.model), where)
    elif raw.get("directions") is not None:
        spec.directions = read_directions(raw["directions"], unit_count(load_model(spec.model), spec.layers[0]), where)
    elif classes is not None:
        for i, c in enumerate(classes if isinstance(classes, list) else [classes]):
            try:
                spec.units.append(zoo.class_index(str(c)))
            except zoo.ZooError as error:
                raise StudyError(f"{where}: classes[{i}]: {error}") from None
    else:
        spec.units = listed(raw, "channels", int, where)
        count = unit_count(load_model(spec.model), spec.layers[0])
        for i, unit in enumerate(spec.units):  # every unit checked before any cell runs
            if not 0 <= unit < count:
                raise StudyError(f"{where}: channels[{i}] = {unit} is out of range for layer {spec.layers[0]!r}, "
                                 f"which has {count} (0–{count - 1})")


def read_objectives(texts: list[str], loaded: zoo.LoadedModel, where: str) -> list[str]:
    """`objectives = ["unit('blocks.5:3') - 50 * diversity()", …]`: each parsed and checked on the model."""
    if not texts:
        raise StudyError(f"{where}: objectives = []; give one or more, e.g. objectives = [\"unit('blocks.5:3')\"]")
    for i, text in enumerate(texts):
        try:
            check_unit(loaded, objectives.parse(text))
        except InvertError as error:  # a term's setting, an unknown layer or class
            said = getattr(error, "problem", None) or getattr(error, "cli", None) or str(error)
            raise StudyError(f"{where}: objectives[{i}]: {said}") from None
    return texts


def read_directions(directions: Any, count: int, where: str) -> list[dict[str, float]]:
    """`directions = [{3 = 1.0, 7 = -0.5}, …]`: each a table of channel → weight in layers[0] (its `count`
    channels); kept with channel numbers as text, in order, so that a cell's key does not depend on the spelling."""
    if not isinstance(directions, list) or not directions:
        raise StudyError(f"{where}: directions = {directions!r}; give a list of tables of channel = weight, "
                         "e.g. directions = [{3 = 1.0, 7 = -0.5}]")
    read = []
    for i, table in enumerate(directions):
        if not isinstance(table, dict) or not table:
            raise StudyError(f"{where}: directions[{i}] = {table!r}; give a table of channel = weight, e.g. {{3 = 1.0}}")
        weights = {}
        for channel, weight in table.items():
            if not (channel.isascii() and channel.isdigit() and int(channel) < count):
                raise StudyError(f"{where}: directions[{i}]: channel {channel!r} is not one of the layer's {count} "
                                 f"(0–{count - 1})")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise StudyError(f"{where}: directions[{i}]: {channel} = {weight!r}; give a finite number")
            weights[int(channel)] = float(weight)
        if not any(weights.values()):
            raise StudyError(f"{where}: directions[{i}] has only zero weights; give one that is not 0")
        read.append({str(c): w for c, w in sorted(weights.items())})
    return read


def first_layer(goal: Objective) -> str:
    """The layer an objective is shown as (its first term's that reads one): its record's and report's layer."""
    for term in goal.terms():
        layer = getattr(term, "layer", None) or next(iter(term.layers), None)
        if layer:
            return layer
    raise SettingError("objective", f"{goal} reads no layer of the model; add a unit term such as unit('blocks.5:3')")


def check_unit(loaded: zoo.LoadedModel, unit: Target) -> None:
    """Refuse a unit the model does not have (a layer, a channel or position out of range, a direction of the
    wrong length) before any fit, in one line that names it: the objective bound to the model, and let go."""
    objectives.Hooked(loaded, unit if isinstance(unit, Objective) else unit.objective()).remove_hooks()
