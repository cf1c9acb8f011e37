"""What an operation is: a registered task (pre-image, maximize, atlas, restore …) with one typed `run()` that the
facade, the command line and studies all call, and what a study needs of it: its spec keys, its cells, how one
cell runs (`run_cell`, a plain function of the cell's settings) and its report's rows and columns.

A new operation is one file: a subclass with `@register` (a test file can add one; the CLI's `study` command,
specs and reports follow from the registry).
"""
from __future__ import annotations

import glob
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .. import images, tasks, zoo
from ..errors import InvertError, SettingError
from ..suggest import unknown

if TYPE_CHECKING:
    from ..preimages import Judges
    from ..results import Result
    from ..studies import Spec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
KINDS = {int: "a whole number", str: "a text in quotes"}


class StudyError(InvertError):
    """A spec that cannot run: the message names the place in the spec."""


class Operation:
    """A task a user asks for. Subclasses set the class variables, `run` (typed, for the facade and the command
    line) and the study hooks below, which read a spec's keys into its `Spec` and run one cell by calling `run`."""

    name: ClassVar[str]  # a study's task = "NAME"
    keys: ClassVar[frozenset[str]] = frozenset()  # the spec keys it takes besides a study's own
    scores: ClassVar[type]  # a dataclass with `of(settings, record)`: the report's columns (cell_scores)
    shows_original: ClassVar[bool] = False  # the report's grids start with the cell's input image

    def spec_keys(self) -> frozenset[str]:
        """Every key a spec of this operation may hold besides a study's own."""
        return self.keys

    def read(self, raw: dict[str, Any], spec: Spec, base: Path, where: str) -> None:
        """Check the spec's own keys of this operation and fill `spec` with them (errors name `where`)."""
        raise NotImplementedError

    def grid(self, spec: Spec) -> list[dict[str, Any]]:
        """Each cell's own settings, before priors and seeds (their keys are the cells' keys: keep them stable)."""
        raise NotImplementedError

    def run_cell(self, settings: dict[str, Any]) -> Result:
        """One study cell: its settings (with prior, seed, steps, device) to a result, by way of `run`."""
        raise NotImplementedError

    def row(self, settings: dict[str, Any]) -> str:
        """What a report row stands for besides the prior."""
        raise NotImplementedError

    def prepare(self, spec: Spec, out: Path) -> None:
        """Run once before the cells, in the study's process (an atlas's dataset examples)."""

    def report(self, out: Path, cells: list, missing: str | None) -> list[Path]:
        """Pages of its own beside report.html (atlas.html), from the finished cells; `missing` says what is not."""
        return []


_REGISTRY: dict[str, Operation] = {}


def register(operation: type[Operation]) -> type[Operation]:
    """Class decorator: make `operation` a study's `task = NAME` (one instance serves every call)."""
    _REGISTRY[operation.name] = operation()
    return operation


def unregister(name: str) -> None:
    """Forget an operation (a test's own)."""
    _REGISTRY.pop(name, None)


def available() -> list[str]:
    """The registered operations' names, in registration order."""
    return list(_REGISTRY)


def get(name: str) -> Operation:
    """The operation called `name`; an unknown name lists the known ones."""
    if name not in _REGISTRY:
        raise unknown("task", name, _REGISTRY)
    return _REGISTRY[name]


# --- the models a process's cells share ---------------------------------------------------------------------

_models: dict[str, zoo.LoadedModel] = {}  # per process: each model loads once


def load_model(name: str) -> zoo.LoadedModel:
    """The model called `name`, loaded once per process (the cells and an atlas's examples pass share it)."""
    if name not in _models:
        _models[name] = zoo.load(name)
    return _models[name]


def remember_model(loaded: zoo.LoadedModel) -> None:
    """Cells of this process that name `loaded.name` use this model (a caller's own, already loaded)."""
    _models[loaded.name] = loaded


def judges_for(settings: dict[str, Any]) -> Judges:
    """The cell's model and, when its `transfer` setting asks, the independent judge."""
    from ..preimages import Judges, transfer_model_name

    model = load_model(settings["model"])
    return Judges(model, load_model(transfer_model_name(model.name)) if settings["transfer"] else None)


def common(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings every cell has, as `run`'s keyword arguments."""
    return {"steps": settings["steps"], "seed": settings["seed"], "device": settings["device"]}


# --- reading a spec's keys ----------------------------------------------------------------------------------

def listed(raw: dict, key: str, kind: type, where: str) -> list:
    """A spec key that holds one value or a list of them, each of `kind`."""
    value = raw.get(key, [])
    value = value if isinstance(value, list) else [value]
    for i, v in enumerate(value):
        if not isinstance(v, kind) or isinstance(v, bool):
            raise StudyError(f"{where}: {key}[{i}] = {v!r} is not {KINDS[kind]}")
    return value


def expand_images(patterns: list[str] | str, base: Path, where: str, read: bool = True) -> list[str]:
    """Paths and globs relative to `base`, folders (their images), skimage:NAME; each must match, and with `read`
    each image must read, so that a bad one fails before any cell runs. A text is one pattern, not its letters."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
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


def read_whole(raw: dict, spec: Spec, key: str, where: str) -> None:
    """A spec setting that is a whole number, at least 1 (batch, top), into `spec`; its default when not given."""
    value = raw.get(key, getattr(spec, key))
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise StudyError(f"{where}: {key} = {value!r}; give a whole number, at least 1")
    setattr(spec, key, value)


def checked(kind: type[tasks.Settings], settings: dict[str, Any], where: str, **extra: Any) -> tasks.Settings:
    """`kind` made from a spec's `settings` (plus `extra`), or a StudyError that names the key and its value."""
    try:
        return kind.of(settings, **extra)
    except SettingError as error:
        said = error.setting not in settings or error.problem.startswith("= ")  # the value is in the message
        raise StudyError(f"{where}: {error}" if said else
                         f"{where}: {error.setting} = {settings[error.setting]!r}: {error.problem}") from None


def read_images(raw: dict, spec: Spec, base: Path, where: str) -> None:
    spec.images = expand_images(listed(raw, "images", str, where), base, where)
    if not spec.images:
        raise StudyError(f"{where}: images is missing; give paths, globs or skimage:NAME")


def read_model_and_layers(raw: dict, spec: Spec, where: str, default_logits: bool) -> None:
    """The spec's model (loaded once here; the cells of this process reuse it) and its layers, each checked."""
    spec.model = str(raw.get("model", zoo.DEFAULT_MODEL))
    try:
        loaded = load_model(spec.model)
    except zoo.ZooError as error:
        raise StudyError(f"{where}: model = {spec.model!r}: {error}") from None
    logits = [zoo.default_layers(loaded.model, loaded.input_size)[-1]] if default_logits else []
    spec.layers = listed(raw, "layers", str, where) or logits
    if not spec.layers:
        raise StudyError(f"{where}: layers is missing; name them (`invert layers {spec.model}` lists them)")
    for i, layer in enumerate(spec.layers):
        try:
            zoo.find_layers(loaded.model, [layer], spec.model)
        except zoo.ZooError as error:  # a spec is read by `invert study`: its fix said as a command
            raise StudyError(f"{where}: layers[{i}]: {error.cli or error}") from None


def read_recipe(raw: dict, spec: Spec, where: str) -> None:
    """The recipe settings a preimage or maximize spec gives (tv, alpha_norm, no_transforms, statistics)."""
    spec.recipe = checked(tasks.Recipe, raw, where).settings()
