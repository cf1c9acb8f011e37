"""Pretrained classifiers for inversion: loading (offline-friendly), preprocessing and layer access."""

from .efficientnet_lite import load_lite
from .errors import ZooError
from .labels import class_index, class_name
from .layers import FeatureExtractor, LayerInfo, NormStatistics, default_layers, find_layers, layers
from .loader import DEFAULT_MODEL, LoadedModel, load

__all__ = [
    "DEFAULT_MODEL",
    "FeatureExtractor",
    "NormStatistics",
    "LayerInfo",
    "LoadedModel",
    "ZooError",
    "class_index",
    "class_name",
    "default_layers",
    "find_layers",
    "layers",
    "load",
    "load_lite",
]
