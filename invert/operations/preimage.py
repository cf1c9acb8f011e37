"""Pre-image: an image whose features at a layer match a photo's, under a prior — what the layer keeps of it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .. import images, tasks
from ..cell_scores import PreImageScores
from ..defaults import RESTARTS
from ..faithfulness import FaithfulnessScores
from ..results import Result, in_memory, optional
from .base import Operation, common, judges_for, read_images, read_model_and_layers, read_recipe, register

if TYPE_CHECKING:
    from ..preimages import Judges
    from ..scores import Scores
    from ..studies import Spec


@dataclass(repr=False, eq=False, kw_only=True)
class PreImage(Result):
    """An image whose features at `layer` match the target's; `failure` says why it is not one yet."""

    kind = "preimage"
    headline = ("layer", "prior", "feature_loss", "failure", "top1_name", "seconds")

    layer: str
    prior: str
    preset: str
    feature_loss: float  # normalized, as the report shows it
    flat_feature_loss: float  # a flat grey image's: below half of it the fit has not stalled
    failure: str | None = None  # "stalled", "class changed"; None when it is a pre-image
    stalled: bool = False
    interrupted: bool = False
    seed: int = 0
    restarts: int = 0
    continued: int = 0
    top1: int | None = None
    top1_name: str | None = None
    top1_original: int | None = None
    top1_original_name: str | None = None
    ssim_to_original: float | None = None
    top1_transfer: int | None = optional()
    top1_transfer_name: str | None = optional()
    top1_transfer_original: int | None = optional()
    transfer_agrees: bool | None = optional()
    params: int | None = None
    seconds: float = 0.0
    steps_run: int = 0
    faithfulness: FaithfulnessScores | None = optional(FaithfulnessScores.from_record)  # path to the photo, spectrum
    target: torch.Tensor | None = in_memory()  # the photo as the model sees it
    scores: Scores | None = in_memory()  # `invert.score` of the image against the photo's class

    @property
    def kept(self) -> bool:
        """Whether the model gives the pre-image the photo's class."""
        return self.top1 == self.top1_original

    def _repr_png_(self) -> bytes | None:  # the photo as the model sees it beside its pre-image
        if self.target is None or self.image is None:
            return super()._repr_png_()
        return images.png_bytes(torch.cat([self.target.cpu(), self.image.cpu()]))


@register
class PreImageOperation(Operation):
    name = "preimage"
    keys = frozenset({"model", "images", "layers", "transfer", *tasks.settings_of(tasks.Recipe)})
    scores = PreImageScores
    shows_original = True

    def run(self, judges: Judges, target: torch.Tensor, layer: str, prior: Any, *, recipe: tasks.Recipe | None = None,
            preset: str | None = None, steps: int | None = None, seed: int = 0, device: str = "auto",
            progress: bool = False, restarts: int = RESTARTS, faithfulness: bool = True) -> PreImage:
        """Pre-image of `target` (1×3×H×W in [0, 1] at the model's input size) at `layer` under `prior` (a name
        or a generator module); `faithfulness` adds its path similarity to the photo and its spectrum."""
        from ..faithfulness import score_picture
        from ..preimages import invert_layer

        image, record, fit = invert_layer(judges, target, layer, prior, preset=preset, steps=steps, seed=seed,
                                          device=device, progress=progress,
                                          objective=(recipe or tasks.Recipe()).objective(), restarts=restarts)
        faithful = score_picture(judges.model, layer, image, photo=target).as_record() if faithfulness else None
        return PreImage.from_json({**record, "faithfulness": faithful}, image=image, fit=fit, target=target)

    def read(self, raw: dict[str, Any], spec: Spec, base: Path, where: str) -> None:
        read_images(raw, spec, base, where)
        read_model_and_layers(raw, spec, where, default_logits=False)
        read_recipe(raw, spec, where)

    def grid(self, spec: Spec) -> list[dict[str, Any]]:
        return [{"model": spec.model, "transfer": spec.transfer, "image": i, "layer": layer, **spec.recipe}
                for i in spec.images for layer in spec.layers]

    def run_cell(self, settings: dict[str, Any]) -> PreImage:
        from ..preimages import prepare_target

        judges = judges_for(settings)
        target, _ = prepare_target(settings["image"], judges.model)
        return self.run(judges, target, settings["layer"], settings["prior"], recipe=tasks.Recipe.of(settings),
                        **common(settings))

    def row(self, settings: dict[str, Any]) -> str:
        return settings["layer"]
