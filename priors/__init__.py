"""Image priors by name: `priors.create("dip", size=(H, W))`, `priors.available()`, `@priors.register`.

Importing this package registers the built-in priors (one module each).
"""
from .base import Batch, GeneratorPrior, Prior
from .errors import PriorError, PriorSettingError
from .registry import PriorEntry, UnknownPriorError, available, create, entry, preset, preset_for, register
from . import deep_decoder, dip, fourier, maco, pixel, tv  # noqa: E402,F401  (registration side effect)

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
