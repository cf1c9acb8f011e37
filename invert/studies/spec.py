"""A study's spec: which operation, on what, under which priors and seeds — read from TOML or built from a
command's options, and checked in one line that names the place before any cell runs."""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import operations, zoo
from .. import priors as prior_registry
from ..engine import parse_device
from ..errors import SettingError
from ..operations import StudyError
from ..operations.base import listed

# a study's own keys; each operation's (`Operation.spec_keys`) are keys too
KEYS = {"task", "priors", "seeds", "steps", "device"}
# more cells than this is a spec that multiplied out by mistake (a glob, a range of units times every layer);
# a larger study is split into specs
MAX_CELLS = 100_000


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
    objectives: list[str] = field(default_factory=list)  # maximize: objectives written as text (objectives.parse)
    batch: int = 1  # atlas: units rendered per fit; maximize: images per unit (seeds, or a diverse set)
    diversity: float = 0.0  # maximize: the weight pushing a unit's batch of images apart (lucid's diversity)
    from_image: str | None = None  # maximize: the photo each unit's picture is grown from (accentuation)
    top: int = 6  # atlas: dataset examples kept per unit
    accentuate: bool = False  # atlas: also each unit's top photo accentuated (a column of its own)
    tops: dict[str, str] = field(default_factory=dict)  # atlas with accentuate: each unit's top photo (from prepare)
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
        grid = operations.get(self.task).grid(self)
        cells = [{**base, **g, "prior": p, "seed": s} for g in grid for p in self.priors for s in self.seeds]
        return list({cell_key(c): c for c in cells}.values())  # a prior or seed named twice is one cell


def cell_key(settings: dict[str, Any]) -> str:
    """12 hex digits of a hash of the settings: the same settings, the same key, on any machine."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


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
    kinds = {name: operations.get(name) for name in operations.available()}
    shown = KEYS.union(*(op.keys for op in kinds.values()))
    unknown = sorted(set(raw) - KEYS.union(*(op.spec_keys() for op in kinds.values())))
    if unknown:
        raise StudyError(f"{where}: unknown key {unknown[0]!r}; a spec has {', '.join(sorted(shown))}")
    task = raw.get("task")
    if task not in kinds:
        raise StudyError(f"{where}: task = {task!r}; use one of {', '.join(kinds)}")
    own = KEYS | kinds[task].spec_keys()
    for key in sorted(set(raw) - own):  # another task's key would be ignored here: say so instead
        users = [name for name, op in kinds.items() if key in op.spec_keys()]
        named = " and ".join([", ".join(users[:-1]), users[-1]] if len(users) > 1 else users)
        raise StudyError(f"{where}: {key} is a key of {named} studies; leave it out of a {task} study")
    priors = listed(raw, "priors", str, where)
    if not priors:
        raise StudyError(f"{where}: priors is missing; name one or more, e.g. priors = [\"dip\", \"tv\"]")
    for i, name in enumerate(priors):
        try:
            prior_registry.entry(name)
        except prior_registry.UnknownPriorError as error:
            raise StudyError(f"{where}: priors[{i}]: {error}") from None
    if raw.get("seeds") == []:
        raise StudyError(f"{where}: seeds = []; give one or more, e.g. seeds = [0, 1], or leave the key out (seed 0)")
    seeds = listed(raw, "seeds", int, where) or [0]
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
    kinds[task].read(raw, spec, base, where)
    check_size(spec, where)
    return spec


def check_size(spec: Spec, where: str) -> None:
    """Refuse a spec of more than MAX_CELLS cells before anything runs, saying what multiplied to that many."""
    grid = len(operations.get(spec.task).grid(spec))
    priors, seeds = len(set(spec.priors)), len(set(spec.seeds))
    if grid * priors * seeds > MAX_CELLS:
        raise StudyError(f"{where}: {grid * priors * seeds:,} cells ({grid:,} of images, layers and units × {priors:,} "
                         f"priors × {seeds:,} seeds); a study runs at most {MAX_CELLS:,}: split it into several specs, "
                         "each with its own --out")
