"""Image priors by name: `priors.create("dip", size=(H, W))`, `priors.available()`, `@priors.register`.

Importing this package imports every module in it, which registers the priors they define: a new prior is
one file here with its `@register` factory, nothing else edited (the command line reads the names from the
files, see `invert.defaults.registered_prior_names`).
"""
import importlib
import pkgutil

from .base import Batch, GeneratorPrior, Prior
from .errors import PriorError, PriorSettingError
from .registry import PriorEntry, UnknownPriorError, available, create, entry, preset, preset_for, register

for _module in pkgutil.iter_modules(__path__):  # registration side effect
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "Batch",
    "Prior",
    "GeneratorPrior",
    "PriorEntry",
    "PriorError",
    "PriorSettingError",
    "UnknownPriorError",
    "available",
    "create",
    "entry",
    "preset",
    "preset_for",
    "register",
]
