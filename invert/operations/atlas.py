"""Atlas: every unit of a layer rendered under several priors beside the photos that drive it. A study task: a
cell is a batch of units under one prior and seed, so that an atlas resumes after a kill and runs on Ray like
any study. Before the cells, the dataset examples' index is built (or read
from the folder's cache); after them, atlas.json and atlas.html are written beside the study's report.

    task = "atlas"
    model = "efficientnet_lite0"
    layers = ["blocks.4"]
    channels = [0, 1, 2, 3, 4, 5, 6, 7]     # or classes = [...] at the logits
    batch = 8                               # units per fit
    images = ["photos/"]                    # dataset examples (optional); broken files are skipped
    top = 6
    priors = ["fourier", "maco"]
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import atlas, atlas_page, examples, files, images, tasks
from ..cell_scores import AtlasScores
from ..provenance import run_info, write_json
from ..results import Result, optional
from ..zoo import LoadedModel
from .base import (Operation, StudyError, common, expand_images, get, judges_for, listed, load_model, read_whole,
                   register)
from .maximize import read_units

if TYPE_CHECKING:
    from ..preimages import Judges
    from ..studies import Spec

EXAMPLES = "examples"  # the folder, inside the atlas's, of the examples index and its crops
CURRENT = "current.json"  # which index the last run used, for the report


@dataclass(repr=False, eq=False, kw_only=True)
class AtlasBatch(Result):
    """Units of one layer rendered in one cell, image i for unit i: each one's activation on its own image."""

    kind = "atlas"
    headline = ("layer", "units", "prior", "activation", "seconds")

    layer: str
    units: list[int]
    prior: str
    preset: str
    activation: float  # the mean of `activations`
    activations: list[float]
    classes: bool = False  # the units are classes (the logits)
    top1: list[int] | None = None
    top1_name: list[str] | None = None
    top1_transfer: list[int] | None = optional()
    top1_transfer_name: list[str] | None = optional()
    params: int | None = None
    seconds: float = 0.0
    steps_run: int = 0


@register
class AtlasOperation(Operation):
    name = "atlas"
    keys = frozenset({"model", "layers", "classes", "channels", "transfer", "batch", "top", "images", "accentuate",
                      *tasks.settings_of(tasks.Recipe)})
    scores = AtlasScores
    ACCENTUATED = "from its top photo"  # the column of a unit's top photo accentuated, beside each prior's

    def run(self, judges: Judges, layer: str, units: list[int], prior: Any, *, recipe: tasks.Recipe | None = None,
            steps: int | None = None, seed: int = 0, device: str = "auto") -> AtlasBatch:
        """`units` of `layer` rendered as fits of a batch under `prior` (`atlas.render`)."""
        image, record, fit = atlas.render(judges, layer, units, prior, steps=steps, seed=seed, device=device,
                                          objective=(recipe or tasks.Recipe()).objective())
        return AtlasBatch.from_json(record, image=image, fit=fit)

    def read(self, raw: dict[str, Any], spec: Spec, base: Path, where: str) -> None:
        read_units(raw, spec, where)
        if len(spec.layers) != 1:
            raise StudyError(f"{where}: an atlas shows one layer; give layers = [\"NAME\"]")
        for key in ("batch", "top"):
            read_whole(raw, spec, key, where)
        # the photos are read in the examples pass, where a broken one is skipped with a line, not refused here
        spec.images = expand_images(listed(raw, "images", str, where), base, where, read=False)
        spec.accentuate = raw.get("accentuate", False)
        if not isinstance(spec.accentuate, bool):
            raise StudyError(f"{where}: accentuate = {spec.accentuate!r}; give true or false")
        if spec.accentuate and not spec.images:
            raise StudyError(f"{where}: accentuate grows each unit's top photo: give the photos (images = [...])")

    def grid(self, spec: Spec) -> list[dict[str, Any]]:
        """Batches of units; with `accentuate`, also one cell per unit grown from its top photo (known once the
        examples are indexed: `prepare` keeps them in the spec)."""
        common_settings = {"model": spec.model, "transfer": spec.transfer, "layer": spec.layers[0]}
        chunks = [spec.units[i: i + spec.batch] for i in range(0, len(spec.units), spec.batch)]
        grown = [{**common_settings, "units": [u], "from_image": spec.tops[str(u)], **spec.recipe}
                 for u in spec.units if str(u) in spec.tops] if spec.accentuate else []
        return [{**common_settings, "units": chunk, **spec.recipe} for chunk in chunks] + grown

    def run_cell(self, settings: dict[str, Any]) -> AtlasBatch:
        if "from_image" in settings:
            return self._accentuated(settings)
        return self.run(judges_for(settings), settings["layer"], settings["units"], settings["prior"],
                        recipe=tasks.Recipe.of(settings), **common(settings))

    def _accentuated(self, settings: dict[str, Any]) -> AtlasBatch:
        """The cell's one unit grown from its top photo, as a batch of one (the maximize operation's run)."""
        from ..preimages import prepare_target
        from .maximize import Unit

        judges, [unit], photo = judges_for(settings), settings["units"], settings["from_image"]
        shown = get("maximize").run(judges, Unit(settings["layer"], unit), settings["prior"], faithfulness=False,
                                    recipe=tasks.Recipe.of(settings), from_image=prepare_target(photo, judges.model)[0],
                                    from_image_name=photo, **common(settings))
        return AtlasBatch.from_json({**atlas.as_batch_of_one(shown.to_json()), "units": [unit],
                                     "classes": shown.class_name is not None}, image=shown.image, fit=shown.fit)

    def row(self, settings: dict[str, Any]) -> str:
        units = settings["units"]
        shown = f"{settings['layer']}[{units[0]}]" if len(units) == 1 else f"{settings['layer']}[{units[0]}–{units[-1]}]"
        return f"{shown} {self.ACCENTUATED}" if "from_image" in settings else shown

    def prepare(self, spec: Spec, out: Path) -> None:
        index = prepare_examples(spec, out)
        if spec.accentuate and index is not None:
            spec.tops = {str(u): index.images[ranked[0]] for u in spec.units if (ranked := index.ranking(u))}

    def report(self, out: Path, cells: list, missing: str | None) -> list[Path]:
        return write_atlas(out, cells, missing)


def prepare_examples(spec: Spec, out: Path, *, progress: Callable[[int, int], None] | None = None,
                     skipped: Callable[[str, str], None] | None = None) -> examples.ExampleIndex | None:
    """The dataset examples' index for the spec's layer and images: read from `out`'s cache when one answers,
    else built in one pass and cached; its crops written as files beside it. None without images."""
    if not spec.images:
        return None
    loaded = load_model(spec.model)
    folder = out / EXAMPLES
    path = examples.cache_path(folder, loaded, spec.layers[0], spec.images)
    index = examples.load(path, loaded, spec.layers[0], spec.top)
    if index is None:
        index = examples.build(loaded, spec.layers[0], spec.images, spec.top, progress=progress, skipped=skipped)
        examples.save(index, path)
    crops = folder / f"crops_{path.stem}"
    crops.mkdir(parents=True, exist_ok=True)
    for unit, pieces in index.crops.items():
        for k, data in enumerate(pieces):
            if not (crops / f"{unit}_{k}.jpg").is_file():
                files.write_bytes(crops / f"{unit}_{k}.jpg", data)
    write_json({"index": path.name, "top": spec.top, "crops": crops.name}, folder / CURRENT)
    return index


def _examples_of(out: Path, layer: str, loaded: LoadedModel) -> tuple[examples.ExampleIndex | None, Path | None]:
    """The index the last run of this atlas used, with its crops' folder (None, None without one)."""
    try:
        current = json.loads((out / EXAMPLES / CURRENT).read_text())
    except (OSError, ValueError):
        return None, None
    index = examples.load(out / EXAMPLES / current["index"], loaded, layer, current["top"])
    return index, out / EXAMPLES / current["crops"]


def write_atlas(out: Path, cells: list, missing: str | None = None) -> list[Path]:
    """atlas.json and atlas.html from the finished cells ((settings, record, strip path)) and the examples;
    `missing` says which fits are not done yet (an interrupted atlas)."""
    settings0 = cells[0][0]
    layer, model = settings0["layer"], settings0["model"]
    loaded = load_model(model)
    index, crops_folder = _examples_of(out, layer, loaded)
    units_folder = out / "units"
    placed = []
    for settings, record, strip in cells:
        picture, _ = images.load_image(strip)
        width = picture.shape[-1] // len(record["units"])
        if "from_image" in settings:  # its own column: the prior's picture grown from the unit's top photo
            settings = {**settings, "prior": f"{settings['prior']} {AtlasOperation.ACCENTUATED}"}
        folder = units_folder / f"{settings['prior'].replace(' ', '_')}_seed{settings['seed']}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, unit in enumerate(record["units"]):
            images.save_image(picture[..., i * width: (i + 1) * width], folder / f"{unit}.png")
        placed.append((settings, record, [f"{folder.relative_to(out)}/{unit}.png" for unit in record["units"]]))
    rows = atlas.entries(placed, index, lambda u: loaded.class_name(u) if cells[0][1].get("classes") else None)
    atlas.add_faithfulness(rows, loaded, layer, index, out)
    crops = {}
    if index is not None and crops_folder is not None:
        crops = {u.unit: [f"{crops_folder.relative_to(out)}/{u.unit}_{k}.jpg" for k in range(len(u.examples))]
                 for u in rows}
    about = {"model": model, "layer": layer, "priors": sorted({p.prior for row in rows for p in row.pictures}),
             "units shown": len(rows), "dataset images": len(index.images) if index is not None else 0,
             "receptive field px": index.receptive_field if index is not None else None,
             "steps": settings0["steps"] or "the presets'"}
    json_path = out / "atlas.json"
    write_json({**atlas.as_json(rows, **about), "skipped_images": index.skipped if index is not None else [],
                "incomplete": missing, **run_info()}, json_path)
    return [json_path, atlas_page.write(out, rows, crops, about, missing)]
