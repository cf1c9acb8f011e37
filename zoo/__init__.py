"""Pretrained classifiers for inversion: loading (offline-friendly), preprocessing and layer access.

Class names and the error type import at once; the rest (which needs torch and timm) loads on first use, so
that the command line can check a class name before torch is imported.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import ZooError  # noqa: F401  (re-exported)
from .labels import class_index, class_name  # noqa: F401  (re-exported)

_NEEDS_TORCH = {
    "load_lite": "efficientnet_lite",
    "FeatureExtractor": "layers",
    "LayerInfo": "layers",
    "NormStatistics": "layers",
    "default_layers": "layers",
    "find_layers": "layers",
    "layers": "layers",
    "stages": "layers",
    "DEFAULT_MODEL": "loader",
    "LoadedModel": "loader",
    "load": "loader",
}

__all__ = sorted([*_NEEDS_TORCH, "ZooError", "class_index", "class_name"])


def __getattr__(name: str) -> Any:
    if name not in _NEEDS_TORCH:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # import every module first, then bind the names: importing `zoo.layers` sets the package's `layers` to
    # the submodule, which the function of that name must replace
    modules = {m: importlib.import_module(f".{m}", __name__) for m in set(_NEEDS_TORCH.values())}
    globals().update({n: getattr(modules[m], n) for n, m in _NEEDS_TORCH.items()})
    return globals()[name]
