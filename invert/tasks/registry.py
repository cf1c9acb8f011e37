"""One registry for restoration tasks, as priors have theirs: `register` a class, `get` it by name."""
from __future__ import annotations

from ..suggest import unknown
from .base import RestorationTask

_REGISTRY: dict[str, type[RestorationTask]] = {}


def register(task: type[RestorationTask]) -> type[RestorationTask]:
    """Class decorator: make `task` available as `task.name` (the CLI, study specs and `get` see it)."""
    _REGISTRY[task.name] = task
    return task


def available() -> list[str]:
    """The registered task names, in registration order."""
    return list(_REGISTRY)


def get(name: str) -> type[RestorationTask]:
    """The task class called `name`; an unknown name lists the known ones."""
    if name not in _REGISTRY:
        raise unknown("restoration", name, _REGISTRY)
    return _REGISTRY[name]


def create(name: str, **settings) -> RestorationTask:
    """The task `name` with `settings` (its fields), checked."""
    return get(name)(**settings)
