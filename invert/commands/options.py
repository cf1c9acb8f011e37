"""Option types checked while parsing: a value outside its real range is refused before anything runs,
in one line that names the option and what it accepts (argparse adds the option's name).

Parsing imports no torch, so that --help and a mistyped option answer at once; the checks that need it are
`Deferred`, run by `Parser.check_deferred` right after parsing.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import re
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

from ..defaults import BUILT_IN_PRIORS
from ..errors import SettingError
from ..tasks import Setting, settings_of


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and where to look, no usage block; exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)

    def check_deferred(self, args: argparse.Namespace) -> None:
        """After `parse_args`: finish the `Deferred` options of this parser and of the sub-commands chosen; a
        refusal is the one-line error of the parser that read the option, as if argparse had made it."""
        for action in self._actions:
            value = getattr(args, action.dest, None)
            if value is None:
                continue
            if isinstance(action, argparse._SubParsersAction):
                action.choices[value].check_deferred(args)
            elif isinstance(action.type, Deferred):
                try:
                    setattr(args, action.dest, action.type.check(value))
                except argparse.ArgumentTypeError as error:
                    self.error(str(argparse.ArgumentError(action, str(error))))


class Deferred:
    """An option type whose full check needs torch or timm (the prior registry, the machine's GPUs, ImageNet's
    class names), in two halves: `parse` checks the spelling while argparse parses, so that --help and a typo
    answer at once; `check` the rest from `Parser.check_deferred`, before anything loads or is written, and
    returns the value."""

    def __init__(self, check: Callable[[Any], Any], parse: Callable[[str], Any] = str):
        self.check, self.parse = check, parse

    def __call__(self, text: str) -> Any:
        return self.parse(text)


def whole(least: int = 0, most: int | None = None) -> Callable[[str], int]:
    """A whole number in [least, most]."""
    span = f"from {least} to {most}" if most is not None else f"{least} or more"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number {span}, got {text!r}") from None
        if value < least or (most is not None and value > most):
            raise argparse.ArgumentTypeError(f"expected a whole number {span}, got {value}")
        return value

    return parse


def number(least: float = -math.inf, most: float = math.inf, *, above: bool = False,
           below: bool = False) -> Callable[[str], float]:
    """A finite number in the range: [least, most], with `above`/`below` making either end open."""
    low = f"more than {least:g}" if above else f"at least {least:g}"
    high = f"less than {most:g}" if below else f"at most {most:g}"
    span = " and ".join(s for s, bound in ((low, least), (high, most)) if math.isfinite(bound)) or "any"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number ({span}), got {text!r}") from None
        too_low = value <= least if above else value < least
        too_high = value >= most if below else value > most
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"expected a finite number, {span}, got {text}")
        return value

    return parse


COUNT = whole(1)  # steps, restarts-like budgets, sizes: at least one
SEED = whole(0, 2**63 - 1)
LEARNING_RATE = number(0, 10, above=True)
WEIGHT = number(0)  # an energy term's weight; a negative one would reward the term
SIGMA = number(0, 255, above=True)  # a noise level on the 0–255 scale
LEVEL_FACTOR = number(1)  # a multiple of a lowest loss, which the run that reached that loss must reach again


def of_setting(spec: Setting) -> Callable[[str], Any]:
    """The option type of a task's setting (`invert.tasks.Setting`): its range or its own check, in argparse's
    words."""
    if spec.kind is int:
        return whole(int(spec.least) if spec.least is not None else 0, spec.most)
    if spec.kind is float:
        return number(-math.inf if spec.least is None else spec.least, math.inf if spec.most is None else spec.most,
                      above=spec.above, below=spec.below)
    if spec.check is None:
        return str

    def parse(text: str) -> str:
        try:
            spec.check(text)
        except SettingError as error:
            raise argparse.ArgumentTypeError(error.problem) from None
        return text

    return parse


def flag_of(name: str, spec: Setting) -> str:
    """A typed setting's flag: its own, else --NAME."""
    return spec.flag or "--" + name.replace("_", "-")


def add_settings(group: argparse._ActionsContainer, settings: type) -> None:
    """Every typed setting of a `tasks.Settings` class (a restoration, the pre-image recipe) as an option."""
    for field in dataclasses.fields(settings):
        if "setting" in field.metadata:
            _add_setting(group, field.name, field.metadata["setting"], field.default)


def given_settings(settings: type, args: argparse.Namespace) -> dict[str, Any]:
    """The typed settings of a `tasks.Settings` class that the command line gave (not None, not an unset switch)."""
    return {name: getattr(args, name) for name in settings_of(settings) if getattr(args, name, None) not in (None, False)}


def _add_setting(group: argparse._ActionsContainer, name: str, spec: Setting, default: Any = None) -> None:
    """A typed setting (`invert.tasks.setting`) as an option: a switch for a bool, else a checked value."""
    if spec.kind is bool:
        group.add_argument(flag_of(name, spec), dest=name, action="store_true", help=spec.help)
        return
    shown = f" (default {default})" if default not in (None, False) else ""
    group.add_argument(flag_of(name, spec), dest=name, type=of_setting(spec), default=None, metavar=spec.metavar,
                       choices=spec.choices, help=spec.help + shown)


def names(text: str) -> list[str]:
    """A comma-separated list of names (layers, priors, images) with at least one."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected one or more comma-separated names, got {text!r}")
    return items


def seeds(text: str) -> list[int]:
    """--seeds: a comma list of seeds (whole numbers, 0 or more)."""
    return [SEED(item) for item in names(text)]


def _registered(items: list[str]) -> list[str]:
    """Every name a registered prior; an unknown one is refused with the close names."""
    from invert import priors as prior_registry

    for name in items:
        try:
            prior_registry.entry(name)
        except prior_registry.UnknownPriorError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return items


def _built_in_names(text: str) -> list[str]:
    """A comma list of the package's prior names, checked against `defaults.BUILT_IN_PRIORS` without torch."""
    items = names(text)
    for name in items:
        if name not in BUILT_IN_PRIORS:
            close = difflib.get_close_matches(name, BUILT_IN_PRIORS, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise argparse.ArgumentTypeError(f"unknown prior {name!r}{hint}; known priors: {', '.join(BUILT_IN_PRIORS)}")
    return items


prior_names = Deferred(_registered, _built_in_names)

DEVICE = re.compile(r"auto|cpu|mps|cuda(:[0-9]+)?")
GPU_DRIVERS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd")  # NVIDIA's driver, or ROCm's (torch calls it cuda)


def _device_spelling(text: str) -> str:
    """auto, cpu, cuda, cuda:N or mps, in any case; a GPU the machine plainly lacks is refused before torch loads
    (no NVIDIA or ROCm driver for cuda, not macOS for mps); the rest is checked by torch (`_on_this_machine`)."""
    name = text.strip().lower()
    if not DEVICE.fullmatch(name):
        raise argparse.ArgumentTypeError(f"{name!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    if name.startswith("cuda") and not any(Path(p).exists() for p in GPU_DRIVERS):
        raise argparse.ArgumentTypeError(f"{name!r} is not on this machine (no CUDA GPU driver); use cpu")
    if name == "mps" and sys.platform != "darwin":
        raise argparse.ArgumentTypeError("'mps' is Apple's GPU and this is not macOS; use cpu")
    return name


def _on_this_machine(name: str) -> str:
    """A device this machine and this build of torch have."""
    if name in ("auto", "cpu"):  # always there: no need to load torch to know it
        return name
    from ..engine import resolve_device

    try:
        resolve_device(name)
    except SettingError as error:
        raise argparse.ArgumentTypeError(error.problem) from None
    return name


device = Deferred(_on_this_machine, _device_spelling)


def shared(out: str | None = None, device_default: str = "auto") -> argparse.ArgumentParser:
    """The options every fitting command has, defined once (a parent parser); `out` is the default --out."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("run")
    if out is not None:
        g.add_argument("--out", default=out, help=f"output folder (default {out}); must be new or empty unless --overwrite")
    g.add_argument("--overwrite", action="store_true", help="write over existing outputs")
    g.add_argument("--seed", type=SEED, default=0, help="seed of every random draw (default 0)")
    g.add_argument("--device", type=device, default=device_default, help=f"auto, cpu, cuda[:N] or mps (default {device_default})")
    g.add_argument("--threads", type=whole(1, 256), default=None,
                   help="CPU threads for torch (default: the cores this process may use); results can differ with it")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def add_images(p: argparse.ArgumentParser, several: bool, default: str | None) -> None:
    """Input images as positional arguments (files or skimage:NAME); `--image`/`--images` remain as old spellings."""
    what = "image files or skimage:NAME" if several else "image file or skimage:NAME"
    p.add_argument("images", nargs="*" if several else "?", metavar="IMAGE",
                   help=f"{what}" + (f" (default {default})" if default else ""))
    p.add_argument("--image", "--images", dest="images_option", type=names, default=None, help=argparse.SUPPRESS)


def images_of(args: argparse.Namespace, default: str | None) -> list[str]:
    """The images given, positional or by the old option, else `default`."""
    given = args.images if isinstance(args.images, list) else [args.images] if args.images else []
    given += args.images_option or []
    return given or ([default] if default else [])


def example(*commands: str) -> dict:
    """`epilog` and formatter for an `add_parser` call: --help ends with these example commands."""
    return {"epilog": "examples:\n" + "\n".join(f"  {c}" for c in commands),
            "formatter_class": argparse.RawDescriptionHelpFormatter}
