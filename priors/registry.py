"""One registry for image priors, shaped like timm's model registry.

A prior registers once with its presets (plain data); `create` builds it by name. Adding a prior is one
file with one decorated factory, nothing else edited.
"""
from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .base import Prior
from .errors import PriorError, PriorSettingError


class UnknownPriorError(PriorError):
    """Raised for an unknown prior or preset name; the message lists the known ones."""


@dataclass(frozen=True)
class PriorEntry:
    name: str
    factory: Callable[..., Prior]
    presets: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    default_preset: str = "default"

    @property
    def summary(self) -> str:
        return (self.factory.__doc__ or "").strip().splitlines()[0]


_REGISTRY: dict[str, PriorEntry] = {}


def register(name: str | None = None, *, presets: dict | None = None, default_preset: str = "default"):
    """Decorator: register `factory(channels, size, **kwargs) -> Prior` under `name`.

    `presets` maps a preset name to {"prior": factory kwargs, "fit": engine settings (steps, lr, ...)}.
    """

    def decorate(factory: Callable[..., Prior]) -> Callable[..., Prior]:
        key = name or factory.__name__
        table = presets or {default_preset: {"prior": {}, "fit": {}}}
        if default_preset not in table:
            raise PriorSettingError("default_preset", f"{default_preset!r} is not among prior {key!r}'s presets: "
                                                      f"{', '.join(sorted(table))}")
        _REGISTRY[key] = PriorEntry(key, factory, table, default_preset)
        return factory

    return decorate


def available(pattern: str = "*") -> list[str]:
    """Registered prior names matching a shell-style pattern, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def entry(name: str) -> PriorEntry:
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownPriorError(f"unknown prior {name!r}{hint}; known priors: {', '.join(available())}")
    return _REGISTRY[name]


def preset(name: str, preset_name: str | None = None) -> dict[str, dict[str, Any]]:
    """The preset table row {"prior": ..., "fit": ...} of a prior; None gives its default preset."""
    e = entry(name)
    key = preset_name or e.default_preset
    if key not in e.presets:
        raise UnknownPriorError(
            f"prior {name!r} has no preset {key!r}; its presets: {', '.join(sorted(e.presets))}"
        )
    return e.presets[key]


def preset_for(name: str, task: str, asked: str | None = None) -> str:
    """The asked preset, else the prior's preset named after `task` (e.g. "sr", "preimage"), else its default."""
    e = entry(name)
    return asked or (task if task in e.presets else e.default_preset)


def create(
    name: str,
    *,
    channels: int = 3,
    size: tuple[int, int] = (256, 256),
    preset: str | None = None,
    seed: int = 0,
    **overrides: Any,
) -> Prior:
    """Build prior `name` for images of `channels` × `size` (H, W).

    The preset's prior settings are applied first, then `overrides`. Parameters and the fixed input
    are drawn from `seed` alone, so the same call gives the same prior. The returned module carries
    `fit_defaults` (the preset's engine settings) and `preset` (its name).
    """
    e = entry(name)
    row = globals()["preset"](name, preset)
    if channels not in (1, 3):
        raise PriorSettingError("channels", f"must be 1 or 3, got {channels}")
    if min(size) < 1:
        raise PriorSettingError("size", f"must be positive, got {size}")
    kwargs = {**row.get("prior", {}), **overrides}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        prior = e.factory(channels=channels, size=tuple(size), **kwargs)
    if not isinstance(prior, Prior):  # what `invert.fit` calls: forward(noise, generator), regularizer()
        raise PriorError(f"prior {name!r}'s factory returned a {type(prior).__name__}, not a priors.Prior")
    prior.fit_defaults = dict(row.get("fit", {}))
    prior.preset = preset or e.default_preset
    return prior
