"""Pre-images: fit a prior so a classifier's features at a layer match those of a target image.

One function per question a user asks: `invert_layer` (what does this layer keep of this image?),
`maximize` (what excites this unit?) and `maximize_objective` (what maximizes any `objectives.Objective`?).
Each is `engine.fit` of one `objectives.Hooked` energy: the task's objective plus the terms of the prior's
recipe (transforms, TV, α-norm, BatchNorm statistics), which comes from the prior's `preimage` preset.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable, Iterable, Sequence

import torch
from PIL import Image
from torch import nn

from invert import priors as prior_registry
from invert.zoo import LoadedModel, NormStatistics

from . import images, memory, metrics, objectives
from .defaults import RESTARTS, STALL_RATIO
from .diversity import batch_similarity
from .errors import SettingError
from .engine import Callback, FitConfig, FitResult, bf16_pays, fit, resolve_device
from .inversion import classify, top1
from .module_priors import as_prior
from .objectives import Diversity, FeatureMatch, Hooked, Objective, UnitTerm
from .transforms import from_recipe

PRESET = "preimage"
MAXIMIZE = "maximize"
COARSE_STRIDE = 16
# a stalled pre-image (defaults.STALL_RATIO) is tried again from seeds (prior and transforms) RESTART_SEED_STEP
# apart, so that restarts never repeat what a neighbouring seed of a study computes
RESTART_SEED_STEP = 10_000
# an attempt that got below this fraction of a flat image's loss was moving, too slowly for its budget: it
# runs on from where it ended (a new seed for the transforms only) instead of starting afresh (the
# overview's 200 steps are a third of what DIP needs at the logits)
CONTINUE_RATIO = 0.9


@dataclass
class Judges:
    """The inverted model and an independent one that checks whether a pre-image looks natural."""

    model: LoadedModel
    transfer: LoadedModel | None = None


def transfer_model_name(model_name: str) -> str:
    """The independent judge of naturalness: EfficientNet-Lite2, or Lite0 when Lite2 is the one inverted."""
    return "tf_efficientnet_lite0" if "lite2" in model_name else "tf_efficientnet_lite2"


def prepare_target(spec: str, loaded: LoadedModel) -> tuple[torch.Tensor, list[str]]:
    """Read an image (file or `skimage:NAME`) and resize/crop it as the model's preprocessing says.

    Returns 1×3×H×W in [0, 1] at the model's input size, and notes on what was converted.
    """
    x, notes = images.load_image(spec)
    if x.shape[1] == 1:
        x, notes = x.expand(-1, 3, -1, -1), notes + ["grayscale image repeated to 3 channels"]
    target = loaded.prepare_image(Image.fromarray(images.to_uint8(x)))
    if tuple(x.shape[-2:]) != tuple(target.shape[-2:]):
        notes.append(f"image {x.shape[-1]}×{x.shape[-2]} resized and centre-cropped to "
                     f"{target.shape[-1]}×{target.shape[-2]} as {loaded.name}'s preprocessing says")
    return target, notes


def check_target(image: torch.Tensor, loaded: LoadedModel, name: str) -> torch.Tensor:
    """`image` when it is one 3-channel picture in [0, 1] at the model's input size; else a SettingError naming
    `name`, the argument it came as."""
    size = tuple(loaded.input_size)
    if not isinstance(image, torch.Tensor) or tuple(image.shape) != (1, *size):
        shape = "×".join(map(str, image.shape)) if isinstance(image, torch.Tensor) else type(image).__name__
        raise SettingError(name, f"must be a 1×{'×'.join(map(str, size))} image in [0, 1] (the model's input size; "
                                 f"a file or skimage:NAME is prepared to one); got {shape}")
    if not bool(torch.isfinite(image).all()) or image.min() < 0 or image.max() > 1:
        raise SettingError(name, "must hold values in [0, 1]")
    return image


def recipe(prior: str, preset: str | None = None, task: str = PRESET) -> tuple[str, dict[str, Any]]:
    """The preset to use and its objective settings (transforms, TV, α-norm weights).

    Pre-images use a prior's `preimage` preset; activation maximization (`task` "maximize") its `maximize`
    preset where it has one (a recipe that suits the one but not the other), else the `preimage` one.
    """
    has_own = task == MAXIMIZE and MAXIMIZE in prior_registry.entry(prior).presets
    name = prior_registry.preset_for(prior, MAXIMIZE if has_own else PRESET, preset)
    return name, dict(prior_registry.preset(prior, name).get("objective", {}))


def _recipe_terms(settings: dict[str, Any], model: LoadedModel) -> list[Objective]:
    """The objective terms a recipe adds to the task's: BatchNorm statistics (only where the model has BatchNorm:
    a ViT has none to match), TV and the α-norm of the pixels."""
    terms = []
    if settings.get("statistics") and NormStatistics.norm_layers(model.model):
        terms.append(settings["statistics"] * objectives.bn_statistics())
    if settings.get("tv"):
        terms.append(settings["tv"] * objectives.tv(settings.get("tv_beta", 2.0)))
    if settings.get("alpha"):
        terms.append(settings["alpha"] * objectives.alpha_norm(settings.get("alpha_exponent", 6.0)))
    return terms


def is_coarse(layers: Sequence[str], model: LoadedModel) -> bool:
    """Whether the layers see the image at 1/16 of its size or less (or not spatially at all).

    Random shifts of up to 8 pixels help only there: at fine layers they blur what is to be matched.
    """
    shapes = objectives.layer_shapes(model, layers).values()
    return all(len(s) < 4 or s[-1] * COARSE_STRIDE <= model.input_size[-1] for s in shapes)


def build_prior(prior: str | nn.Module, preset: str | None, task: str, model: LoadedModel, *, seed: int,
                batch: int, prior_settings: dict[str, Any] | None, device: str
                ) -> tuple[nn.Module, str, str | None, dict[str, Any]]:
    """The prior to fit, its name (a module's: its class) and preset for the record, and its recipe's objective
    settings. A name is built from its preset (B members, seeds seed…seed + B − 1); a module
    (`module_priors.as_prior`) is fitted as it is, under the caller's `objective` settings alone."""
    size = tuple(model.input_size[1:])
    if isinstance(prior, str):
        preset_name, settings = recipe(prior, preset, task)

        def build() -> nn.Module:
            members = [prior_registry.create(prior, channels=3, size=size, preset=preset_name, seed=seed + i,
                                             **(prior_settings or {})) for i in range(batch)]
            return members[0] if batch == 1 else prior_registry.Batch(members)

        memory.ensure_fit_fits(build, resolve_device(device), f"fitting {prior} at {size[1]}×{size[0]}",
                               "choose a model with a smaller input or a smaller prior")
        return build(), prior, preset_name, settings
    fitted = as_prior(prior, size, batch=batch, preset=preset, prior_settings=prior_settings)
    return fitted, type(prior).__name__, getattr(prior, "preset", None), {}


def _fit(prior: str | nn.Module, preset: str | None, task: str, model: LoadedModel, goal: Objective, *,
         steps: int | None, seed: int, device: str, progress: bool, objective: dict[str, Any] | None = None,
         callbacks: tuple[Callback, ...] = (), fit_settings: dict[str, Any] | None = None,
         prior_settings: dict[str, Any] | None = None, batch: int = 1
         ) -> tuple[torch.Tensor, dict[str, Any], Hooked, FitResult, Callable[[int], tuple[torch.Tensor, FitResult]]]:
    """Fit `prior` to maximize `goal` plus the recipe's terms, as one `Hooked` energy. Returns the image, the
    record, the energy (its hooks on; the caller removes them), the fit, and a function that runs it on."""
    fitted_prior, prior_name, preset_name, settings = build_prior(prior, preset, task, model, seed=seed, batch=batch,
                                                             prior_settings=prior_settings, device=device)
    settings.update(objective or {})
    model.model.to(resolve_device(device))  # once: a no-op for every later fit on the same device
    coarse = is_coarse(goal.layers, model)
    if coarse and isinstance(goal, FeatureMatch):
        # deep layers: feature matching there fits slower and gets the preset's larger budget (measured for
        # inversion, not for activation maximization), and holds on to the target's top class
        steps = steps or settings.get("coarse_steps")
        goal = goal.keeping_top(settings.get("keep_top", 0.0))
    bf16 = bool(settings.get("classifier_bf16")) and bf16_pays(resolve_device(device))
    # deep layers are shown through random shifts/rotations/scales
    energy = Hooked(model, sum(_recipe_terms(settings, model), goal), from_recipe(settings) if coarse else None, bf16)
    try:
        config = FitConfig.build({**fitted_prior.fit_defaults, **(fit_settings or {})}, steps=steps, seed=seed,
                                 device=device, progress=progress)
        result = fit(fitted_prior, energy, config, callbacks=callbacks)  # the energy stays with the model
        record = {"prior": prior_name, "preset": preset_name, "params": fitted_prior.num_parameters(),
                  "seconds": round(result.seconds, 2), "steps_run": result.steps_run}

        last = result

        def resume(transform_seed: int) -> tuple[torch.Tensor, FitResult]:
            """The same fit run on from where it ended, for as many steps again (new draws of the transforms)."""
            nonlocal last
            last = fit(fitted_prior, energy, replace(config, seed=transform_seed), callbacks=callbacks,
                       optimizer_state=last.optimizer_state)
            return last.output.clamp(0, 1), last

        return result.output.clamp(0, 1), record, energy, result, resume
    except BaseException:  # an error or Ctrl-C inside the fit leaves no hook on the shared classifier
        energy.remove_hooks()
        raise


STALLED, CLASS_CHANGED = "stalled", "class changed"


def failure(loss: float, flat: float, top: int, top_original: int) -> str | None:
    """Why a fitted image is not yet a pre-image: its feature loss is not below `STALL_RATIO` times a flat grey
    image's ("stalled"), or the model's class of it is not the photo's ("class changed": at the logits the
    normalized loss passes 0.2-0.4 while the picture is a colour field of another class). None when it is one."""
    if not loss < STALL_RATIO * flat:
        return STALLED
    return CLASS_CHANGED if top != top_original else None


@dataclass
class _Attempt:
    """One fit of `invert_layer`'s cell: its feature loss, why it failed (None: it did not), the model's class of
    its image, its prior's seed, the image, its record so far and the fit."""

    loss: float
    failure: str | None
    top1: int
    seed: int
    image: torch.Tensor
    fitted: dict[str, Any]
    result: FitResult


def invert_layer(judges: Judges, target: torch.Tensor, layer: str, prior_name: str, *, preset: str | None = None,
                 steps: int | None = None, seed: int = 0, device: str = "auto", progress: bool = False,
                 objective: dict[str, Any] | None = None, callbacks: tuple[Callback, ...] = (),
                 fit_settings: dict[str, Any] | None = None, prior_settings: dict[str, Any] | None = None,
                 restarts: int = RESTARTS) -> tuple[torch.Tensor, dict[str, Any], FitResult]:
    """Pre-image of `target` at `layer` under `prior_name`; returns the image, its record and the fit.

    `objective` overrides the preset's recipe: {"tv": weight, "alpha": weight, "transforms": bool};
    `fit_settings` overrides its engine settings (FitConfig fields such as lr or ema), `prior_settings` its
    prior's (the factory's keyword arguments, such as a DIP net's channels).

    A fit that fails (`failure`: it stalled, or the model no longer gives the photo's class) is tried again,
    up to `restarts` times: run on for as many steps again when it had moved (below `CONTINUE_RATIO` times
    the flat loss), else from another seed. The record keeps the best attempt and names its `failure` when
    none got there, so a failed cell is never shown as a pre-image without a word. A prior given as a module is
    fitted once: it has no seed to start again from, and running it on would start from where it ended.
    """
    model = judges.model
    top_original = top1(model, target)
    restarts = restarts if isinstance(prior_name, str) else 0

    def start(prior_seed: int):
        return _fit(prior_name, preset, PRESET, model, objectives.feature_match(layer, target), steps=steps,
                    seed=prior_seed, device=device, progress=progress, objective=objective, callbacks=callbacks,
                    fit_settings=fit_settings, prior_settings=prior_settings)

    image, fitted, energy, result, resume = start(seed)
    try:
        flat = energy.errors(torch.full_like(target, 0.5))[layer]
        prior_seed, attempts, continued, cut = seed, [], 0, result.interrupted
        loss = flat  # the last attempt's feature loss; none yet
        for attempt in range(restarts + 1):
            try:
                if attempt and loss < CONTINUE_RATIO * flat:
                    image, result = resume(seed + RESTART_SEED_STEP * attempt)
                    continued += 1
                elif attempt:
                    energy.remove_hooks()
                    prior_seed = seed + RESTART_SEED_STEP * attempt
                    image, fitted, energy, result, resume = start(prior_seed)
            except KeyboardInterrupt:  # before a restart's first step: the attempts so far are the result
                cut = True
                break
            loss = energy.errors(image)[layer]
            top = top1(model, image)
            attempts.append(_Attempt(loss, failure(loss, flat, top, top_original), top, prior_seed, image, fitted,
                                     result))
            cut = cut or result.interrupted
            if attempts[-1].failure is None or cut:
                break
    finally:  # whatever happens, no hook stays on the shared classifier
        energy.remove_hooks()
    best = min(attempts, key=lambda a: (a.failure is not None, a.loss))
    result = best.result
    if cut and not result.interrupted:  # the best attempt finished, a later one was cut: the cell was interrupted
        result = replace(result, interrupted=True, stopped_by="interrupt")
    # cut short by Ctrl-C, a fit has not had the steps to stall or settle: it is said to be interrupted instead
    why = None if cut else best.failure
    record = {
        "layer": layer,
        **best.fitted,
        "seconds": round(sum(a.result.seconds for a in attempts), 2),  # the cell's cost, restarts included
        "steps_run": sum(a.result.steps_run for a in attempts),
        "feature_loss": best.loss,
        "flat_feature_loss": flat,
        "failure": why,
        "stalled": why == STALLED,
        "interrupted": cut,
        "restarts": len(attempts) - 1,
        "continued": continued,  # restarts that ran the fit on instead of starting from another seed
        "seed": best.seed,
        "top1": best.top1,
        "top1_name": model.class_name(best.top1),
        "top1_original": top_original,
        "top1_original_name": model.class_name(top_original),
        "ssim_to_original": metrics.ssim(best.image, target),
        **_transfer(judges, best.image, target),
    }
    return best.image, record, result


def _transfer(judges: Judges, image: torch.Tensor, target: torch.Tensor) -> dict[str, Any]:
    if judges.transfer is None:
        return {}
    original = top1(judges.transfer, target)
    predicted = top1(judges.transfer, image)
    return {"top1_transfer": predicted, "top1_transfer_name": judges.transfer.class_name(predicted),
            "top1_transfer_original": original, "transfer_agrees": predicted == original}


def maximize(judges: Judges, layer: str, channel: int, prior_name: str | nn.Module, *,
             position: tuple[int, int] | None = None, diversity: float = 0.0, **settings: Any
             ) -> tuple[torch.Tensor, dict[str, Any], FitResult]:
    """The image the prior can make that most excites `channel` of `layer` (a class logit at the logits); with
    `batch` B in `settings`, B images, pushed apart in the layer's Gram space by `diversity` (a weight).

    `settings`: those of `maximize_objective` (preset, steps, seed, device, progress, batch, and the `objective`,
    `fit_settings` and `prior_settings` overrides of the preset's rows, as in `invert_layer`).
    """
    unit = objectives.channel(layer, channel, position)
    image, record, result = maximize_objective(judges, _pushed_apart(unit, diversity), prior_name, **settings)
    class_name = judges.model.class_name(channel) if unit.is_class else None
    return image, {"layer": layer, "channel": channel, "position": list(position) if position else None,
                   **record, "class_name": class_name}, result


def maximize_direction(judges: Judges, layer: str, vector: torch.Tensor, prior_name: str | nn.Module, *,
                       position: tuple[int, int] | None = None, diversity: float = 0.0, **settings: Any
                       ) -> tuple[torch.Tensor, dict[str, Any], FitResult]:
    """As `maximize`, for a direction in `layer`'s channel space (one weight per channel: lucid's `direction`),
    averaged over positions or at `position`."""
    unit = objectives.direction(layer, vector, position)
    image, record, result = maximize_objective(judges, _pushed_apart(unit, diversity), prior_name, **settings)
    return image, {"layer": layer, **record, "class_name": None}, result


def _pushed_apart(unit: UnitTerm, weight: float) -> Objective:
    """The unit, less `weight` times its batch's Gram similarity at its layer (none at weight 0)."""
    return unit - weight * objectives.diversity(unit.layer) if weight else unit


def maximize_objective(judges: Judges, goal: Objective, prior: str | nn.Module, /, *, preset: str | None = None,
                       steps: int | None = None, seed: int = 0, device: str = "auto", progress: bool = False,
                       objective: dict[str, Any] | None = None, fit_settings: dict[str, Any] | None = None,
                       prior_settings: dict[str, Any] | None = None, batch: int = 1
                       ) -> tuple[torch.Tensor, dict[str, Any], FitResult]:
    """The image `prior` (a registered name, or a generator module: see `build_prior`) can make that maximizes `goal`
    (any `objectives.Objective`), under the prior's `maximize` recipe, which `objective` overrides as in
    `invert_layer`; `batch` > 1 fits that many images at once (seeds seed, seed + 1, …), for objectives over a
    batch (`objectives.diversity`).

    Returns the image(s), the record and the fit. The record has the `activation` of the goal's unit terms (the
    whole goal's value when it has none), averaged over the batch, and `activations` (one per unit) when there
    are several units; each image's top-1 by the model and the judge (a number for one image, a list for
    several); and, for a diversity term, its weight (`diversity`) and the batch's Gram `similarity`.
    """
    model = judges.model
    image, record, energy, result, _ = _fit(
        prior, preset, MAXIMIZE, model, goal, steps=steps, seed=seed, device=device, progress=progress,
        objective=objective, fit_settings=fit_settings, prior_settings=prior_settings, batch=batch)
    try:
        with torch.no_grad():  # measured in float32, whatever the fit ran in
            record["activation"] = float(energy.activation(image))
            activations = energy.activations(image).tolist() if energy.units else []
            if len(activations) > 1:  # several units, one per image: each one's own activation
                record["activations"] = activations
    finally:
        energy.remove_hooks()
    for key, judge in (("top1", model), ("top1_transfer", judges.transfer)):
        if judge is not None:
            tops = classify(judge, image).argmax(dim=1).tolist()
            names = [judge.class_name(t) for t in tops]
            record.update({key: tops[0] if batch == 1 else tops, f"{key}_name": names[0] if batch == 1 else names})
    pushes = [(-weight, term) for weight, term in goal.weighted_terms() if isinstance(term, Diversity)]
    if pushes:
        record.update(diversity=pushes[0][0], similarity=batch_similarity(model, pushes[0][1].layer, image))
    return image, record, result


@dataclass
class Cell:
    """One fit of a grid: its key (e.g. (layer, prior)), the image, its record and the fit behind it."""

    key: Hashable
    image: torch.Tensor
    record: dict[str, Any]
    fit: FitResult


def fit_cells(keys: Iterable[Hashable], fit_key: Callable[[Hashable], tuple[torch.Tensor, dict[str, Any], FitResult]],
              *, on_start: Callable[[Hashable], None] | None = None,
              on_done: Callable[[Cell], None] | None = None) -> tuple[list[Cell], bool]:
    """Fit the cells in turn (`fit_key(key)` returns image, record, fit) until one is interrupted (its best so far
    kept) or Ctrl-C arrives between fits. Returns the cells done and whether the run was cut short; cut short
    before any cell was done, the interrupt goes on (there is nothing to keep). `on_start` and `on_done` let
    a caller report progress or save each cell as it comes."""
    cells: list[Cell] = []
    try:
        for key in keys:
            if on_start is not None:
                on_start(key)
            cell = Cell(key, *fit_key(key))
            cells.append(cell)
            if on_done is not None:
                on_done(cell)
            if cell.fit.interrupted:
                return cells, True
    except KeyboardInterrupt:
        if not cells:
            raise
        return cells, True
    return cells, False
