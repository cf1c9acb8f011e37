"""What a restoration task is: a degradation to undo, its settings as typed fields, and the problem it builds.

A task is a frozen dataclass registered by name (`@tasks.register`). Its fields are its settings, described
by `setting(...)`: the command line makes them the flags of `invert restore NAME`, a study spec takes them as
keys, and both check them from the same description. Modules of this package import no torch when they
load, so that the command line is built from the registry before torch is imported.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from ..errors import SettingError

if TYPE_CHECKING:
    import torch

    from ..restoration import Problem


@dataclass(frozen=True)
class Setting:
    """How a task's setting is given and checked: its kind and range, or a `check` that parses a text."""

    help: str
    kind: type = str
    least: float | None = None
    most: float | None = None
    above: bool = False  # the range is open at `least`
    below: bool = False  # … and at `most`
    check: Callable[[str], Any] | None = None  # raises SettingError on a bad text
    choices: tuple[str, ...] | None = None
    flag: str | None = None  # the CLI's name, when it is not --NAME
    metavar: str | None = None

    def need(self) -> str:
        """What the setting accepts, in words ("a whole number, at least 2")."""
        if self.kind is int:
            return "a whole number" + (f", at least {self.least:g}" if self.least is not None else "")
        if self.kind is float:
            low = (f"more than {self.least:g}" if self.above else f"at least {self.least:g}") if self.least is not None else ""
            high = (f"less than {self.most:g}" if self.below else f"at most {self.most:g}") if self.most is not None else ""
            return "a number" + "".join(f", {s}" for s in (low, high) if s)
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return "true or false" if self.kind is bool else "a text"

    def validate(self, name: str, value: Any) -> Any:
        """`value` as the task uses it, or a SettingError that names the setting and what it accepts."""
        if value is None:
            return None
        wrong = SettingError(name, f"= {value!r}; give {self.need()}")
        if self.kind is bool:
            if not isinstance(value, bool):
                raise wrong
            return value
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise wrong
            if self.kind is int and int(value) != value:
                raise wrong
            low_ok = self.least is None or (value > self.least if self.above else value >= self.least)
            high_ok = self.most is None or (value < self.most if self.below else value <= self.most)
            if not (math.isfinite(value) and low_ok and high_ok):
                raise wrong
            return self.kind(value)
        if self.choices and value not in self.choices:
            raise wrong
        if self.check is not None:
            self.check(str(value))
        return str(value)


def setting(default: Any = None, **how: Any) -> Any:
    """A task's field with its `Setting` (help, kind, range, flag …) as metadata."""
    return dataclasses.field(default=default, metadata={"setting": Setting(**how)})


@dataclass(frozen=True)
class Source:
    """Where the image came from, for settings that refer to the whole original (a mask file)."""

    size: tuple[int, int]  # H, W before any crop
    crop: int | None = None


@dataclass(frozen=True)
class Settings:
    """Typed settings described by `setting(...)`, checked when the object is made (`check` adds the rules that
    tie settings together). The command line makes flags of them and a study spec takes them as keys."""

    def __post_init__(self) -> None:
        for name, spec in settings_of(type(self)).items():
            object.__setattr__(self, name, spec.validate(name, getattr(self, name)))
        self.check()

    def check(self) -> None:
        """Settings that exclude or need each other: a SettingError naming one of them."""

    @classmethod
    def of(cls, mapping: dict[str, Any], **extra: Any) -> Settings:
        """Made from the entries of `mapping` that are this class's settings (a spec, a cell's settings), plus
        `extra`."""
        return cls(**{name: mapping[name] for name in settings_of(cls) if name in mapping}, **extra)

    def settings(self) -> dict[str, Any]:
        """The settings that differ from their defaults, by field name: what a study cell records."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}


@dataclass(frozen=True)
class RestorationTask(Settings):
    """A degradation to undo. Subclasses set the class variables and `problem`, and may add `check`."""

    name: ClassVar[str]  # invert restore NAME; a study's restore = "NAME"; the prior presets' task name
    summary: ClassVar[str]  # one line for --help
    default_prior: ClassVar[str] = "dip"
    # the degradation synthesized on the sample photo, and in a study when the spec names none
    sample: ClassVar[dict[str, Any]] = {}
    # the setting that, when given, makes the degradation from a clean input (denoise: noise; sr: from_hr)
    synthesized_by: ClassVar[str | None] = None
    # what a study and the sample photo add so that the input is the clean reference (sr: downscale it first);
    # kept out of a study cell's settings, which are those the spec gave or `sample`
    from_clean: ClassVar[dict[str, Any]] = {}
    # the preset each prior fits this task with, where the prior has none named after the task
    presets: ClassVar[dict[str, str]] = {}
    # library settings that raise errors under another name (denoise's `sigma` is the `noise` setting)
    aliases: ClassVar[dict[str, str]] = {}

    @property
    def synthesizes(self) -> bool:
        """Whether the degradation is made here from a clean image, which is then the reference scores need."""
        return self.synthesized_by is not None and getattr(self, self.synthesized_by) not in (None, False)

    def sample_crop(self, crop: int) -> int:
        """The crop of the sample photo that these settings can use."""
        return crop

    def problem(self, image: torch.Tensor, seed: int = 0, source: Source | None = None) -> Problem:
        """The problem (observation, energy, reference) for `image`, degraded here when the settings say so."""
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every task's `problem` returns a problem that carries the task's default prior and presets: what
        `restore` fits it with when not told (restoration reads them there instead of importing the tasks)."""
        super().__init_subclass__(**kwargs)
        made = cls.__dict__.get("problem")
        if made is None:
            return

        @functools.wraps(made)
        def problem(self: RestorationTask, image: torch.Tensor, seed: int = 0, source: Source | None = None) -> Problem:
            return dataclasses.replace(made(self, image, seed, source), default_prior=self.default_prior,
                                       presets=dict(self.presets))

        cls.problem = problem


def settings_of(task: type[Settings]) -> dict[str, Setting]:
    """A task class's settings, by field name, in declaration order."""
    return {f.name: f.metadata["setting"] for f in dataclasses.fields(task) if "setting" in f.metadata}
