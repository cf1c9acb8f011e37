"""Pretrained classifiers for inversion: loading (offline-friendly), preprocessing and layer access."""

from zoo.efficientnet_lite import load_lite
from zoo.errors import ZooError
from zoo.labels import class_index, class_name
from zoo.layers import FeatureExtractor, LayerInfo, NormStatistics, default_layers, find_layers, layers
from zoo.loader import DEFAULT_MODEL, LoadedModel, load

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
