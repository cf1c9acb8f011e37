"""Restore: undo a degradation (noise, low resolution, missing pixels, blur) by fitting a prior to the
measurement, with no training data; a restoration task (`invert.tasks`) says which degradation."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .. import images, tasks
from ..cell_scores import RestorationScores
from ..errors import InvertError
from ..results import Result, in_memory, optional
from .base import Operation, StudyError, checked, common, read_images, register

if TYPE_CHECKING:
    from ..restoration import Problem, Restoration
    from ..studies import Spec

OLD_SPELLINGS = {"sigma": "noise"}  # a spec's `sigma` is denoise's `noise`


@dataclass(repr=False, eq=False, kw_only=True)
class Restored(Result):
    """The restored image, its scores against the clean reference (when there is one) and how the fit went."""

    kind = "restore"
    headline = ("task", "prior", "psnr", "psnr_input", "ssim", "seconds")

    task: str
    prior: str
    preset: str
    size: list[int] | None = None
    channels: int | None = None
    seed: int = 0
    device: str | None = None
    steps_run: int = 0
    seconds: float = 0.0
    stopped_by: str | None = None
    interrupted: bool = False
    psnr: float | None = optional()  # against the clean reference
    ssim: float | None = optional()
    psnr_input: float | None = optional()  # the degraded input's (the baseline's)
    ssim_input: float | None = optional()
    psnr_y: float | None = optional()  # colour super-resolution: on luminance, border shaved
    psnr_y_input: float | None = optional()
    psnr_raw: float | None = optional()  # inpainting: the prior's output before the known pixels go back
    noise_sigma: float | None = optional()  # denoising: the level auto-stop stopped at (0–255)
    params: int | None = None
    problem: Problem | None = in_memory()
    raw: torch.Tensor | None = in_memory()  # the prior's own output (inpainting puts the known pixels back)

    @property
    def record(self) -> dict[str, Any]:
        """The record as result.json holds it."""
        return self.to_json()

    @classmethod
    def of(cls, done: Restoration) -> Restored:
        """From what `restoration.restore` returns."""
        return cls.from_json(done.record, image=done.image, fit=done.fit, problem=done.problem, raw=done.raw)


@register
class RestoreOperation(Operation):
    name = "restore"
    keys = frozenset({"images", "restore", "crop"})
    scores = RestorationScores

    def run(self, image: torch.Tensor, task: tasks.RestorationTask, prior: Any = None, *, preset: str | None = None,
            steps: int | None = None, lr: float | None = None, seed: int = 0, device: str = "auto",
            crop: int | None = None, auto_stop: bool = True, progress: bool = False) -> Restored:
        """Restore `image` (1×C×H×W in [0, 1]) as `task` says with `prior` (default: the task's), centre-cropped
        to `crop` first when given."""
        if not isinstance(image, torch.Tensor):
            raise InvertError(f"image must be a 1×C×H×W tensor in [0, 1], not {type(image).__name__}")
        size = tuple(image.shape[-2:])
        if crop:
            image = images.center_crop(image, crop)
        return self.solve(task.problem(image, seed, tasks.Source(size, crop)), prior, preset=preset, steps=steps,
                          lr=lr, seed=seed, device=device, auto_stop=auto_stop, progress=progress)

    def solve(self, problem: Problem, prior: Any = None, **settings: Any) -> Restored:
        """The fit of `run` for a problem already built (the command line's, with a reference or a mask file)."""
        from ..restoration import restore

        return Restored.of(restore(problem, prior, **settings))

    def spec_keys(self) -> frozenset[str]:
        return self.keys | restoration_keys()

    def read(self, raw: dict[str, Any], spec: Spec, base: Path, where: str) -> None:
        read_images(raw, spec, base, where)
        spec.restore, spec.restoration = restoration_of(raw, where)
        crop = spec.crop
        if crop is not None and not (isinstance(crop, int) and not isinstance(crop, bool) and crop >= 1):
            raise StudyError(f"{where}: crop = {crop!r}; give a whole number of pixels, at least 1")

    def grid(self, spec: Spec) -> list[dict[str, Any]]:
        return [{"image": i, "restore": spec.restore, **spec.restoration, "crop": spec.crop} for i in spec.images]

    def run_cell(self, settings: dict[str, Any]) -> Restored:
        task = tasks.get(settings["restore"])
        return self.run(images.load_image(settings["image"])[0], task.of(settings, **task.from_clean),
                        settings["prior"], crop=settings["crop"], **common(settings))

    def row(self, settings: dict[str, Any]) -> str:
        return settings["restore"]


def restoration_keys() -> set[str]:
    """Every registered restoration's settings and their old spellings (`sigma`): the keys a restore spec may
    hold besides the study's own."""
    return {name for task in tasks.available() for name in tasks.settings_of(tasks.get(task))} | set(OLD_SPELLINGS)


def restoration_of(raw: dict, where: str) -> tuple[str, dict[str, Any]]:
    """A restore spec's task and its settings, checked as the cells will build them; unnamed, the task's sample
    degradation."""
    name = str(raw.get("restore", "denoise"))
    try:
        task = tasks.get(name)
    except InvertError as error:
        raise StudyError(f"{where}: restore = {name!r}: {error}") from None
    own = tasks.settings_of(task)
    given = {OLD_SPELLINGS.get(k, k): v for k, v in raw.items() if k in restoration_keys()}
    for key in given:
        if key not in own:
            others = [t for t in tasks.available() if key in tasks.settings_of(tasks.get(t))]
            raise StudyError(f"{where}: {key} is a setting of {', '.join(others)}, not of restore = {name!r}")
    settings = {**task.sample, **given}
    checked(task, settings, where, **task.from_clean)
    return name, settings
