"""Pretrained classifiers for inversion: loading (offline-friendly), preprocessing and layer access."""


class ZooError(Exception):
    """A model cannot be loaded or inspected; the message is one line that says what to do."""


# Submodules import ZooError from here, so it is defined first.
from zoo.efficientnet_lite import load_lite  # noqa: E402
from zoo.labels import class_index, class_name  # noqa: E402
from zoo.layers import FeatureExtractor, LayerInfo, NormStatistics, default_layers, find_layers, layers  # noqa: E402
from zoo.loader import DEFAULT_MODEL, LoadedModel, load  # noqa: E402

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
