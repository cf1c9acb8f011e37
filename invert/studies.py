"""Studies: images × layers × priors × seeds (or classes, or restorations) as one resumable job.

A spec (TOML) names the cells. Each cell is a plain function of its settings (`run_cell`), keyed by a hash of
them, so a rerun skips the cells already done and a changed spec runs only the new ones. A cell's files land
in DIR/cells/KEY/ and one JSON line per finished cell in DIR/manifest.jsonl, which is all the report needs.
"""
from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
import dataclasses
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

import torch

from . import files, images, restoration, tasks
from .cell_scores import MaximizeScores, PreImageScores, RestorationScores
from .defaults import EXECUTORS
from .direction import weights_label, weights_vector
from .engine import parse_device, resolve_device
from .threads import available_cores
from . import priors as prior_registry
from . import zoo
from .errors import InvertError, SettingError

# a study's own keys; each task's (StudyTask.keys) and a restoration's settings (invert.tasks) are keys too, and
# `sigma` is denoise's old `noise`
KEYS = {"task", "priors", "seeds", "steps", "device"}
OLD_SPELLINGS = {"sigma": "noise"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
MANIFEST = "manifest.jsonl"
# more cells than this is a spec that multiplied out by mistake (a glob, a range of units times every layer);
# a larger study is split into specs
MAX_CELLS = 100_000


class StudyError(InvertError):
    """A spec that cannot run: the message names the place in the spec."""


@dataclass(frozen=True)
class StudyTask:
    """What a study does for one kind of task, registered by name (`register_study_task`), so that specs, cells
    and the report are generic over tasks: the spec keys it takes besides the study's own, how it reads and
    checks them into the `Spec`, its cells, how one cell runs, and the report's row label and columns."""

    name: str
    keys: frozenset[str]
    read: Callable[[dict, "Spec", Path, str], None]  # (raw spec, spec to fill, the spec's folder, where)
    grid: Callable[["Spec"], list[dict[str, Any]]]  # each cell's own settings, before priors and seeds
    run: Callable[[dict[str, Any], dict[str, Any]], tuple]  # (settings, steps/seed/device) -> picture, record, fit
    row: Callable[[dict[str, Any]], str]  # what a report row stands for besides the prior
    scores: type  # a dataclass with `of(settings, record)`; its fields are the report's columns (cell_scores)
    shows_original: bool = False  # the report's grids start with the cell's input image
    prepare: Callable[["Spec", Path], None] | None = None  # run once before the cells, here (an atlas's examples)
    # pages of its own beside report.html (atlas.html), from the finished cells and a line saying what is missing
    report: Callable[[Path, list, str | None], list[Path]] | None = None


STUDY_TASKS: dict[str, StudyTask] = {}


def register_study_task(task: StudyTask) -> StudyTask:
    """Make `task` a study's `task = "NAME"`: its keys, cells and report columns come from it."""
    STUDY_TASKS[task.name] = task
    return task


@dataclass
class Spec:
    """A study: which task, on what, under which priors and seeds. Built by `load_spec`."""

    task: str
    priors: list[str]
    seeds: list[int] = field(default_factory=lambda: [0])
    model: str = zoo.DEFAULT_MODEL
    images: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    units: list[int] = field(default_factory=list)  # maximize, atlas: class indices or channels of layers[0]
    directions: list[dict[str, float]] = field(default_factory=list)  # maximize: channel → weight in layers[0]
    batch: int = 1  # atlas: units rendered per fit; maximize: images per unit (seeds, or a diverse set)
    diversity: float = 0.0  # maximize: the weight pushing a unit's batch of images apart (lucid's diversity)
    top: int = 6  # atlas: dataset examples kept per unit
    steps: int | None = None
    restore: str = "denoise"
    restoration: dict[str, Any] = field(default_factory=dict)  # restore: the task's settings (invert.tasks)
    recipe: dict[str, Any] = field(default_factory=dict)  # preimage, maximize: the recipe settings given (tasks.Recipe)
    crop: int | None = None
    device: str = "auto"
    transfer: bool = True

    def cells(self) -> list[dict[str, Any]]:
        """Every cell's settings, in a fixed order (images, then layers or units, then priors, then seeds)."""
        base = {"task": self.task, "steps": self.steps, "device": self.device}
        grid = STUDY_TASKS[self.task].grid(self)
        cells = [{**base, **g, "prior": p, "seed": s} for g in grid for p in self.priors for s in self.seeds]
        return list({cell_key(c): c for c in cells}.values())  # a prior or seed named twice is one cell


def cell_key(settings: dict[str, Any]) -> str:
    """12 hex digits of a hash of the settings: the same settings, the same key, on any machine."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


KINDS = {int: "a whole number", str: "a text in quotes"}


def _list(raw: dict, key: str, kind: type, where: str) -> list:
    value = raw.get(key, [])
    value = value if isinstance(value, list) else [value]
    for i, v in enumerate(value):
        if not isinstance(v, kind) or isinstance(v, bool):
            raise StudyError(f"{where}: {key}[{i}] = {v!r} is not {KINDS[kind]}")
    return value


def expand_images(patterns: list[str], base: Path, where: str, read: bool = True) -> list[str]:
    """Paths and globs relative to `base`, folders (their images), skimage:NAME; each must match, and with `read`
    each image must read, so that a bad one fails before any cell runs."""
    found: list[str] = []
    for i, pattern in enumerate(patterns):
        if pattern.startswith(images.SAMPLE_PREFIX):
            found.append(pattern)
            continue
        path = base / pattern
        if path.is_dir():
            matches = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            matches = sorted(glob.glob(str(path))) if glob.has_magic(pattern) else [str(path)] * path.is_file()
        if not matches:
            raise StudyError(f"{where}: images[{i}] = {pattern!r} matches no image file (relative to {base})")
        found += matches
    for image in found if read else []:
        try:
            images.load_image(image)
        except InvertError as error:
            raise StudyError(f"{where}: images: {error}") from None
    return list(dict.fromkeys(found))


def restoration_keys() -> set[str]:
    """Every registered restoration's settings: the keys a restore spec may hold besides the study's own."""
    return {name for task in tasks.available() for name in tasks.settings_of(tasks.get(task))}


def _restoration(raw: dict, where: str) -> tuple[str, dict[str, Any]]:
    """A restore spec's task and its settings, checked as the cells will build them; unnamed, the task's sample
    degradation."""
    name = str(raw.get("restore", "denoise"))
    try:
        task = tasks.get(name)
    except InvertError as error:
        raise StudyError(f"{where}: restore = {name!r}: {error}") from None
    own = tasks.settings_of(task)
    given = {OLD_SPELLINGS.get(k, k): v for k, v in raw.items() if OLD_SPELLINGS.get(k, k) in restoration_keys()}
    for key in given:
        if key not in own:
            others = [t for t in tasks.available() if key in tasks.settings_of(tasks.get(t))]
            raise StudyError(f"{where}: {key} is a setting of {', '.join(others)}, not of restore = {name!r}")
    settings = {**task.sample, **given}
    _checked(task, settings, where, **task.from_clean)
    return name, settings


def _checked(kind: type[tasks.Settings], settings: dict[str, Any], where: str, **extra: Any) -> tasks.Settings:
    """`kind` made from a spec's `settings` (plus `extra`), or a StudyError that names the key and its value."""
    try:
        return kind.of(settings, **extra)
    except SettingError as error:
        said = error.setting not in settings or error.problem.startswith("= ")  # the value is in the message
        raise StudyError(f"{where}: {error}" if said else
                         f"{where}: {error.setting} = {settings[error.setting]!r}: {error.problem}") from None


def _check_crop(crop: Any, where: str) -> None:
    if crop is not None and not (isinstance(crop, int) and not isinstance(crop, bool) and crop >= 1):
        raise StudyError(f"{where}: crop = {crop!r}; give a whole number of pixels, at least 1")


def load_spec(path: str | os.PathLike) -> Spec:
    """Read and check a spec: unknown keys, priors, layers, classes, models and images are refused here, in one
    line that names the place, before any cell runs. Loads the model once to check its layers."""
    path = Path(path)
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as error:
        raise StudyError(f"cannot read the spec {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise StudyError(f"{where}: not valid TOML ({error})") from None
    return spec_of(raw, path.parent, where)


def spec_of(raw: dict[str, Any], base: Path, where: str) -> Spec:
    """A spec from its keys (a TOML file's, or a command's options), checked; relative paths are from `base`,
    and errors name `where`."""
    known = KEYS.union(*(t.keys for t in STUDY_TASKS.values()))
    unknown = sorted(set(raw) - known - restoration_keys() - set(OLD_SPELLINGS))
    if unknown:
        raise StudyError(f"{where}: unknown key {unknown[0]!r}; a spec has {', '.join(sorted(known))}")
    task = raw.get("task")
    if task not in STUDY_TASKS:
        raise StudyError(f"{where}: task = {task!r}; use one of {', '.join(STUDY_TASKS)}")
    own = KEYS | STUDY_TASKS[task].keys | (restoration_keys() | set(OLD_SPELLINGS) if task == "restore" else set())
    for key in sorted(set(raw) - own):  # another task's key would be ignored here: say so instead
        users = [name for name, t in STUDY_TASKS.items() if key in t.keys] or ["restore"]
        named = " and ".join([", ".join(users[:-1]), users[-1]] if len(users) > 1 else users)
        raise StudyError(f"{where}: {key} is a key of {named} studies; leave it out of a {task} study")
    priors = _list(raw, "priors", str, where)
    if not priors:
        raise StudyError(f"{where}: priors is missing; name one or more, e.g. priors = [\"dip\", \"tv\"]")
    for i, name in enumerate(priors):
        try:
            prior_registry.entry(name)
        except prior_registry.UnknownPriorError as error:
            raise StudyError(f"{where}: priors[{i}]: {error}") from None
    if raw.get("seeds") == []:
        raise StudyError(f"{where}: seeds = []; give one or more, e.g. seeds = [0, 1], or leave the key out (seed 0)")
    seeds = _list(raw, "seeds", int, where) or [0]
    for i, seed in enumerate(seeds):
        if not 0 <= seed < 2**63:  # what torch's generators take, as --seed
            raise StudyError(f"{where}: seeds[{i}] = {seed}; give whole numbers from 0 to 2**63 - 1")
    if not isinstance(raw.get("transfer", True), bool):
        raise StudyError(f"{where}: transfer = {raw['transfer']!r}; give true or false")
    steps = raw.get("steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
        raise StudyError(f"{where}: steps = {steps!r}; give a whole number, at least 1")
    device = str(raw.get("device", "auto"))
    try:
        parse_device(device)  # whether a GPU is there is asked where the cells run: Ray workers may have one
    except SettingError as error:
        raise StudyError(f"{where}: device = {error.problem}") from None
    spec = Spec(task, priors, seeds, steps=steps, device=device,
                transfer=raw.get("transfer", True), crop=raw.get("crop"))
    STUDY_TASKS[task].read(raw, spec, base, where)
    check_size(spec, where)
    return spec


def check_size(spec: Spec, where: str) -> None:
    """Refuse a spec of more than MAX_CELLS cells before anything runs, saying what multiplied to that many."""
    grid = len(STUDY_TASKS[spec.task].grid(spec))
    priors, seeds = len(set(spec.priors)), len(set(spec.seeds))
    if grid * priors * seeds > MAX_CELLS:
        raise StudyError(f"{where}: {grid * priors * seeds:,} cells ({grid:,} of images, layers and units × {priors:,} "
                         f"priors × {seeds:,} seeds); a study runs at most {MAX_CELLS:,}: split it into several specs, "
                         "each with its own --out")


def _read_images(raw: dict, spec: Spec, base: Path, where: str) -> None:
    spec.images = expand_images(_list(raw, "images", str, where), base, where)
    if not spec.images:
        raise StudyError(f"{where}: images is missing; give paths, globs or skimage:NAME")


def _read_model_and_layers(raw: dict, spec: Spec, where: str, default_logits: bool) -> None:
    """The spec's model (loaded once here; the cells of this process reuse it) and its layers, each checked."""
    spec.model = str(raw.get("model", zoo.DEFAULT_MODEL))
    try:
        loaded = _models[spec.model] = _models.get(spec.model) or zoo.load(spec.model)
    except zoo.ZooError as error:
        raise StudyError(f"{where}: model = {spec.model!r}: {error}") from None
    logits = [zoo.default_layers(loaded.model, loaded.input_size)[-1]] if default_logits else []
    spec.layers = _list(raw, "layers", str, where) or logits
    if not spec.layers:
        raise StudyError(f"{where}: layers is missing; name them (see `invert layers {spec.model}`)")
    for i, layer in enumerate(spec.layers):
        try:
            zoo.find_layers(loaded.model, [layer], spec.model)
        except zoo.ZooError as error:
            raise StudyError(f"{where}: layers[{i}]: {error}") from None


def _read_recipe(raw: dict, spec: Spec, where: str) -> None:
    """The recipe settings a preimage or maximize spec gives (tv, alpha_norm, no_transforms, statistics)."""
    spec.recipe = _checked(tasks.Recipe, raw, where).settings()


def _read_restore(raw: dict, spec: Spec, base: Path, where: str) -> None:
    _read_images(raw, spec, base, where)
    spec.restore, spec.restoration = _restoration(raw, where)
    _check_crop(spec.crop, where)


def _read_preimage(raw: dict, spec: Spec, base: Path, where: str) -> None:
    _read_images(raw, spec, base, where)
    _read_model_and_layers(raw, spec, where, default_logits=False)
    _read_recipe(raw, spec, where)


def read_whole(raw: dict, spec: Spec, key: str, where: str) -> None:
    """A spec setting that is a whole number, at least 1 (batch, top), into `spec`; its default when not given."""
    value = raw.get(key, getattr(spec, key))
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise StudyError(f"{where}: {key} = {value!r}; give a whole number, at least 1")
    setattr(spec, key, value)


def _read_maximize_study(raw: dict, spec: Spec, base: Path, where: str) -> None:
    """A maximize study's keys: those of the unit (`_read_maximize`), and a batch of images per unit pushed apart
    by `diversity` (as `invert maximize --batch B --diversity W`)."""
    _read_maximize(raw, spec, base, where)
    read_whole(raw, spec, "batch", where)
    diversity = raw.get("diversity", 0.0)
    if isinstance(diversity, bool) or not isinstance(diversity, (int, float)) or not 0 <= diversity < math.inf:
        raise StudyError(f"{where}: diversity = {diversity!r}; give a weight, at least 0 (e.g. 0.5)")
    if diversity and spec.batch < 2:
        raise StudyError(f"{where}: diversity pushes a batch's images apart: give batch = 2 or more (e.g. batch = 4)")
    spec.diversity = float(diversity)


def _read_maximize(raw: dict, spec: Spec, base: Path, where: str) -> None:
    _read_model_and_layers(raw, spec, where, default_logits=True)
    _read_recipe(raw, spec, where)
    kinds = [k for k in ("classes", "channels", "directions") if k in STUDY_TASKS[spec.task].keys]
    if sum(raw.get(k) is not None for k in kinds) != 1:
        raise StudyError(f"{where}: a {spec.task} study needs exactly one of {', '.join(kinds[:-1])} and {kinds[-1]}")
    classes = raw.get("classes")
    if raw.get("directions") is not None:
        spec.directions = _read_directions(raw["directions"], unit_count(_models[spec.model], spec.layers[0]), where)
    elif classes is not None:
        for i, c in enumerate(classes if isinstance(classes, list) else [classes]):
            try:
                spec.units.append(zoo.class_index(str(c)))
            except zoo.ZooError as error:
                raise StudyError(f"{where}: classes[{i}]: {error}") from None
    else:
        spec.units = _list(raw, "channels", int, where)
        count = unit_count(_models[spec.model], spec.layers[0])
        for i, unit in enumerate(spec.units):  # every unit checked before any cell runs
            if not 0 <= unit < count:
                raise StudyError(f"{where}: channels[{i}] = {unit} is out of range for layer {spec.layers[0]!r}, "
                                 f"which has {count} (0–{count - 1})")


def _read_directions(directions: Any, count: int, where: str) -> list[dict[str, float]]:
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
            if not (channel.isdigit() and int(channel) < count):
                raise StudyError(f"{where}: directions[{i}]: channel {channel!r} is not one of the layer's {count} "
                                 f"(0–{count - 1})")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise StudyError(f"{where}: directions[{i}]: {channel} = {weight!r}; give a finite number")
            weights[int(channel)] = float(weight)
        if not any(weights.values()):
            raise StudyError(f"{where}: directions[{i}] has only zero weights; give one that is not 0")
        read.append({str(c): w for c, w in sorted(weights.items())})
    return read


def unit_count(loaded: zoo.LoadedModel, layer: str) -> int:
    """How many channels (or classes, at the logits) `layer` has."""
    with torch.no_grad(), zoo.FeatureExtractor(loaded.model, [layer], loaded.name) as extractor:
        device = next(loaded.model.parameters()).device
        return extractor(loaded.preprocess(torch.full((1, *loaded.input_size), 0.5, device=device)))[layer].shape[1]


# --- running cells --------------------------------------------------------------------------------------------

_models: dict[str, zoo.LoadedModel] = {}  # per process: each model loads once


def remember_model(loaded: zoo.LoadedModel) -> None:
    """Cells of this process that name `loaded.name` use this model (a caller's own, already loaded)."""
    _models[loaded.name] = loaded


def _judges(settings: dict[str, Any]):
    from .preimages import Judges, transfer_model_name

    name = settings["model"]
    if name not in _models:
        _models[name] = zoo.load(name)
    transfer = None
    if settings["transfer"]:
        judge = transfer_model_name(_models[name].name)
        if judge not in _models:
            _models[judge] = zoo.load(judge)
        transfer = _models[judge]
    return Judges(_models[name], transfer)


def run_cell(settings: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Fit one cell, write its image and record.json into `folder`, and return its record. A plain function of
    its settings: any executor can run it."""
    start = time.perf_counter()
    common = dict(steps=settings["steps"], seed=settings["seed"], device=settings["device"])
    picture, record, fit = STUDY_TASKS[settings["task"]].run(settings, common)
    folder.mkdir(parents=True, exist_ok=True)
    images.save_image(images.side_by_side(picture), folder / "image.png")  # a batch (an atlas cell): a strip
    record = {**record, "losses": [h["loss"] for h in fit.history], "threads": torch.get_num_threads(),
              "wall_seconds": round(time.perf_counter() - start, 2), "interrupted": bool(fit.interrupted)}
    from .report import write_json

    write_json({"settings": settings, "record": record}, folder / "record.json")
    return record


def _run_restore(settings: dict[str, Any], common: dict[str, Any]):
    image, _ = images.load_image(settings["image"])
    if settings["crop"]:
        image = images.center_crop(image, settings["crop"])
    task = tasks.get(settings["restore"])
    problem = task.of(settings, **task.from_clean).problem(image, settings["seed"])
    done = restoration.restore(problem, settings["prior"], **common)
    return done.image, done.record, done.fit


def _run_preimage(settings: dict[str, Any], common: dict[str, Any]):
    from . import preimages
    from .faithfulness import score_picture

    judges = _judges(settings)
    target, _ = preimages.prepare_target(settings["image"], judges.model)
    image, record, fit = preimages.invert_layer(judges, target, settings["layer"], settings["prior"], **common,
                                                objective=tasks.Recipe.of(settings).objective())
    scores = score_picture(judges.model, settings["layer"], image, photo=target).as_record()
    return image, {**record, "faithfulness": scores}, fit


def _run_maximize(settings: dict[str, Any], common: dict[str, Any]):
    from . import preimages
    from .faithfulness import maximized, score_picture

    judges = _judges(settings)
    layer, unit = settings["layer"], settings.get("unit")
    extra = dict(**common, objective=tasks.Recipe.of(settings).objective(), batch=settings.get("batch", 1),
                 diversity=settings.get("diversity", 0.0))
    if unit is None:  # a direction: its natural drivers are not ranked here, so its faithfulness is its spectrum
        vector = weights_vector(settings["direction"], unit_count(judges.model, layer))
        image, record, fit = preimages.maximize_direction(judges, layer, vector, settings["prior"], **extra)
        return image, {**record, "faithfulness": score_picture(judges.model, layer, image).as_record()}, fit
    image, record, fit = preimages.maximize(judges, layer, unit, settings["prior"], **extra)
    scores = maximized(judges.model, judges.transfer, layer, unit, image, bool(record.get("class_name")))
    return image, {**record, "faithfulness": scores}, fit


def _maximize_grid(spec: Spec) -> list[dict[str, Any]]:
    """A cell per unit or direction; batch and diversity only where given, so that the cells of older specs keep
    their keys."""
    many = {"batch": spec.batch} if spec.batch > 1 else {}
    apart = {"diversity": spec.diversity} if spec.diversity else {}
    units = [{"unit": u} for u in spec.units] + [{"direction": d} for d in spec.directions]
    return [{"model": spec.model, "transfer": spec.transfer, "layer": spec.layers[0], **unit, **spec.recipe, **many,
             **apart} for unit in units]


def _maximize_row(settings: dict[str, Any]) -> str:
    unit = settings.get("unit")
    return f"{settings['layer']}[{unit if unit is not None else weights_label(settings['direction'])}]"



register_study_task(StudyTask(
    "preimage", frozenset({"model", "images", "layers", "transfer", *tasks.settings_of(tasks.Recipe)}), _read_preimage,
    lambda spec: [{"model": spec.model, "transfer": spec.transfer, "image": i, "layer": layer, **spec.recipe}
                  for i in spec.images for layer in spec.layers],
    _run_preimage, lambda settings: settings["layer"], PreImageScores, shows_original=True))
register_study_task(StudyTask(
    "maximize", frozenset({"model", "layers", "classes", "channels", "directions", "transfer", "batch", "diversity",
                           *tasks.settings_of(tasks.Recipe)}),
    _read_maximize_study, _maximize_grid, _run_maximize, _maximize_row, MaximizeScores))
register_study_task(StudyTask(
    "restore", frozenset({"images", "restore", "crop"}), _read_restore,
    lambda spec: [{"image": i, "restore": spec.restore, **spec.restoration, "crop": spec.crop} for i in spec.images],
    _run_restore, lambda settings: settings["restore"], RestorationScores))


def _init_worker(threads: int) -> None:
    _exit_with_parent()
    files.honour_interrupts()  # a closed terminal cuts the worker's cell as Ctrl-C does, not the worker
    torch.set_num_threads(threads)


def _exit_with_parent() -> None:
    """A worker whose study was killed (its parent gone) stops within a second instead of fitting on alone."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _worker(settings: dict[str, Any], folder: str) -> dict[str, Any]:
    return run_cell(settings, Path(folder))


def _remote_cell(settings: dict[str, Any], threads: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A cell run where the study's folder may not be: its files come back as bytes for the driver to write."""
    import tempfile

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        record = run_cell(settings, Path(tmp))
        return record, {p.name: p.read_bytes() for p in Path(tmp).iterdir()}


def _gpus(settings: dict[str, Any]) -> int:
    """The GPUs a cell asks Ray for: one when its device is CUDA."""
    return int(str(settings["device"]).startswith("cuda"))


def _reachable(address: str) -> None:
    """A cluster's HOST:PORT answers within 3 s, or a one-line error (Ray itself retries for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=3).close()
    except (OSError, ValueError):
        raise InvertError(f"no Ray cluster answers at {address}; start one (ray start --head) or check --address") \
            from None


def _run_on_ray(todo: list[dict[str, Any]], out: Path, threads: int, address: str | None,
                record_done: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    """The cells as Ray tasks (a local cluster when `address` is None, else the one there; "auto" joins a running
    one). Each task asks for `threads` CPUs, and a GPU when its device is CUDA; a worker process keeps the
    models it loaded for the tasks after. The driver writes every cell's files and the manifest."""
    import ray

    if address and address != "auto":
        _reachable(address)
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else available_cores(), include_dashboard=False,
                 log_to_driver=False)
    if any(_gpus(s) for s in todo) and not ray.cluster_resources().get("GPU"):
        raise InvertError("the spec's device is CUDA but the Ray cluster has no GPU; use device = \"cpu\" or "
                          "\"auto\", or join a cluster with GPUs (--address)")
    tasks = {gpus: ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=1)(_remote_cell) for gpus in (0, 1)}
    pending = {tasks[_gpus(s)].remote(s, threads): s for s in todo}
    try:
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            settings = pending.pop(ready)
            record, payload = ray.get(ready)
            folder = out / "cells" / cell_key(settings)
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in payload.items():
                files.write_bytes(folder / name, data)
            record_done(settings, record)
    finally:
        for ref in pending:  # cut short: the tasks not yet returned are dropped (they rerun next time)
            ray.cancel(ref, force=True)


SPEC_FILE = "spec.json"


def _plain(spec: Spec) -> dict[str, Any]:
    """The spec as spec.json holds it."""
    return json.loads(json.dumps(dataclasses.asdict(spec), default=str))


def spec_changes(out: Path, spec: Spec) -> list[str]:
    """The names of the settings in which `spec` differs from the one `out` followed before (spec.json); [] for
    a new study or the same spec. A setting added since that spec.json was written counts as its default."""
    try:
        before = json.loads((out / SPEC_FILE).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(before, dict):
        return []
    current, blank = _plain(spec), _plain(Spec(spec.task, []))
    return sorted(k for k in set(current) | set(before) if current.get(k) != before.get(k, blank.get(k)))


def record_spec(out: Path, spec: Spec) -> None:
    """Keep the spec a run of `out` follows (spec.json): what its report compares the finished cells with."""
    files.write_text(out / SPEC_FILE, json.dumps(_plain(spec), indent=2) + "\n")


def read_manifest(out: Path, damaged: list[str] | None = None, records: bool = False) -> dict[str, dict[str, Any]]:
    """Finished cells by key: each one's manifest entry (with `records`, also its `record` from record.json, loss
    curve included: what a report needs, not a resume). A line cut short by a kill, one that is not a cell's entry (edited, foreign bytes)
    and a cell whose record.json does not read are skipped, their cells run again; each is described in
    `damaged` ("manifest line 3: …") for the caller to say."""
    done: dict[str, dict[str, Any]] = {}
    path = out / MANIFEST
    if not path.is_file():
        return done
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if not (isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("settings"), dict)
                and entry["key"] == cell_key(entry["settings"])):
            if damaged is not None and number < len(lines):  # the last line may be one a kill cut short
                damaged.append(f"{MANIFEST} line {number} is not a cell's entry; skipped (its cell runs again)")
            continue
        if entry.get("status") != "done":
            done.pop(entry["key"], None)
            continue
        try:
            cell = out / "cells" / entry["key"]
            record = json.loads((cell / "record.json").read_text())["record"]
            if not (isinstance(record, dict) and (cell / "image.png").is_file()):
                raise ValueError
        except (OSError, ValueError, TypeError, KeyError):
            if damaged is not None:
                damaged.append(f"cells/{entry['key']} lacks its image or its record.json is missing or damaged; "
                               "its cell runs again")
            continue
        done[entry["key"]] = {**entry, "record": record} if records else entry
    return done


def _append(out: Path, entry: dict[str, Any]) -> None:
    """One manifest line, flushed to disk before the next cell starts."""
    line = json.dumps(files.finite_json(entry), allow_nan=False) + "\n"
    path = out / MANIFEST
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as f:  # a kill mid-line: start on a fresh line, so only the cut entry is lost
            f.seek(-1, os.SEEK_END)
            line = line if f.read(1) == b"\n" else "\n" + line
    with open(path, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def run_study(spec: Spec, out: Path, *, workers: int = 1, threads: int | None = None,
              progress: Callable[[int, int], None] | None = None, executor: str = "local",
              address: str | None = None) -> tuple[int, int, bool]:
    """Run the spec's cells not yet in the manifest, `workers` at a time (each with `threads` torch threads;
    default: the cores shared out), here ("local") or as Ray tasks ("ray", on the cluster at `address`, a
    local one without). Returns (cells run now, cells in all, whether Ctrl-C cut it short);
    `progress(done, total)` is called after each cell."""
    if executor not in EXECUTORS:
        raise InvertError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    check_size(spec, "the study")
    todo_all = spec.cells()
    record_spec(out, spec)  # what a report of this folder compares its cells with (INCOMPLETE until all are done)
    done = read_manifest(out)
    todo = [s for s in todo_all if cell_key(s) not in done]
    total, finished = len(todo_all), len(todo_all) - len(todo)
    threads = threads or max(1, available_cores() // max(1, workers))
    ran = 0
    (out / MANIFEST).touch()  # the folder is a study's from now on: a rerun resumes it, even after a kill

    def cut(settings: dict[str, Any]) -> tuple[int, int, bool]:
        """A cell stopped by Ctrl-C or SIGTERM: marked as cut (it runs again on resume), and the study stops."""
        _append(out, {"key": cell_key(settings), "status": "cut", "settings": settings,
                      "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
        return ran, total, True

    def record_done(settings: dict[str, Any], record: dict[str, Any]) -> None:
        nonlocal ran
        _append(out, {"key": cell_key(settings), "status": "done", "settings": settings,
                      "metrics": {k: v for k, v in record.items() if k != "losses" and not isinstance(v, (dict, list))},
                      "threads": threads, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
        ran += 1
        if progress is not None:
            progress(finished + ran, total)

    if executor != "ray" and todo:
        resolve_device(spec.device)  # here, before any cell: a CUDA spec on a machine without one is refused
    if STUDY_TASKS[spec.task].prepare is not None:
        STUDY_TASKS[spec.task].prepare(spec, out)
    try:
        if executor == "ray":
            _run_on_ray(todo, out, threads, address, record_done)
        elif workers <= 1:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                for settings in todo:
                    record = run_cell(settings, out / "cells" / cell_key(settings))
                    if record["interrupted"]:
                        return cut(settings)
                    record_done(settings, record)
            finally:
                torch.set_num_threads(previous)
        else:
            context = get_context("spawn")  # fresh interpreters: no torch thread pools inherited through fork
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                     initargs=(threads,)) as pool:
                futures = {pool.submit(_worker, s, str(out / "cells" / cell_key(s))): s for s in todo}
                for future in as_completed(futures):
                    record = future.result()
                    if record["interrupted"]:
                        pool.shutdown(wait=True, cancel_futures=True)
                        return cut(futures[future])
                    record_done(futures[future], record)
    except KeyboardInterrupt:
        return ran, total, True
    return ran, total, False


def finished_cells(out: Path) -> list[tuple[dict[str, Any], dict[str, Any], Path]]:
    """(settings, record, image path) of every finished cell, from the manifest and the cells' own files."""
    return [(entry["settings"], entry["record"], out / "cells" / key / "image.png")
            for key, entry in read_manifest(out, records=True).items()]


def unfinished(out: Path, cells: list[tuple[dict[str, Any], ...]]) -> str | None:
    """What a report says when the spec in `out` (spec.json) has cells not among `cells`: "INCOMPLETE: …", or
    None when every cell is done (or the spec cannot be read back, as in folders of older versions)."""
    try:
        planned = {cell_key(c) for c in Spec(**json.loads((out / SPEC_FILE).read_text())).cells()}
    except (OSError, ValueError, TypeError, KeyError):
        return None
    missing = planned - {cell_key(c[0]) for c in cells}
    if not missing:
        return None
    return (f"INCOMPLETE: {len(planned) - len(missing)} of the spec's {len(planned)} cells are done; run the same "
            "command again to finish")


def write_report(out: Path) -> tuple[Path, Path]:
    """report.md and report.html from the manifest alone (and the cells it points to)."""
    from .report import study_report

    cells = finished_cells(out)
    if not cells:
        raise StudyError(f"{out} has no finished cells yet; run the study first")
    missing = unfinished(out, cells)
    written = study_report(out, cells, missing)
    own = STUDY_TASKS[cells[0][0]["task"]].report
    if own is not None:
        own(out, cells, missing)
    return written


from . import atlas_study  # noqa: E402,F401  (registers the atlas study task, which builds on this module)
