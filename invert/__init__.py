"""invert: fit image priors (DIP, Deep Decoder, TV, pixels) to energies — restoration and model inversion.

In a notebook: `invert.visualize(model, "classifier:flamingo")`, `invert.preimage(model, "photo.jpg",
layer="blocks.4")`, `invert.restore("photo.png", invert.tasks.Deblur(blur=2.0))`, `invert.score(model, image)`
(see `invert.api`). The engine is `fit(prior, energy, config)`; energies live in `energies`, measurement operators in
`physics`, metrics in `metrics`. Priors are in the sibling package `priors`.

The names below load on first use, so that `invert`'s command line starts (and can be interrupted) before
torch is imported.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from . import threads as _threads  # imports no torch

_threads.prepare()  # before torch loads, where `import invert` comes first: OpenMP's short spin, the load window

__version__ = "0.1.0"

_EXPORTS = {
    "DataFidelity": "energies",
    "Energy": "energies",
    "TotalVariation": "energies",
    "denoising": "energies",
    "inpainting": "energies",
    "reconstruction": "energies",
    "super_resolution": "energies",
    "FitConfig": "engine",
    "FitResult": "engine",
    "fit": "engine",
    "Direction": "direction",
    "Atlas": "api",
    "PreImage": "api",
    "Restored": "api",
    "Unit": "api",
    "Visualization": "api",
    "layer_atlas": "api",
    "preimage": "api",
    "restore": "api",
    "score": "api",
    "visualize": "api",
    "SCHEMA": "provenance",
    "set_threads": "threads",
    "InvertError": "errors",
    "SettingError": "errors",
}
# `invert.zoo.load(...)` after a plain `import invert` (any other module of the package loads on first use too)
_SUBPACKAGES = ("operations", "priors", "studies", "tasks", "zoo")

__all__ = [*sorted(_EXPORTS), *_SUBPACKAGES, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if not name.startswith("_") and importlib.util.find_spec(f".{name}", __name__) is not None:
        return importlib.import_module(f".{name}", __name__)  # `invert.zoo`, `invert.studies` … after `import invert`
    raise AttributeError(f"module 'invert' has no attribute {name!r}")
