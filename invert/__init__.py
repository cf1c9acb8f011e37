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
from typing import Any

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
    "PreImage": "api",
    "Unit": "api",
    "Visualization": "api",
    "preimage": "api",
    "restore": "api",
    "score": "api",
    "visualize": "api",
}
_SUBPACKAGES = ("priors", "tasks", "zoo")  # `invert.zoo.load(...)` after a plain `import invert`

__all__ = [*sorted(_EXPORTS), *_SUBPACKAGES, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _EXPORTS:
        raise AttributeError(f"module 'invert' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
