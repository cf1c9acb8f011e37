"""Diversity (lucid's `diversity` objective): a batch of images for one unit, pushed apart in a layer's Gram
space, so that the batch shows several things that excite the unit instead of one picture B times.

    invert.visualize(model, "blocks.5:3", prior="fourier", batch=4, diversity=1.0)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .inversion import ModelEnergy
from .zoo import FeatureExtractor, LoadedModel


def gram_similarity(features: torch.Tensor) -> torch.Tensor:
    """The mean cosine similarity between the Gram matrices (channel × channel, over positions) of every pair of
    a batch's feature maps: 1 when all show the same style, lower as they differ."""
    b = features.shape[0]
    flat = features.reshape(b, features.shape[1], -1)
    grams = F.normalize((flat @ flat.transpose(1, 2)).reshape(b, -1), dim=1, eps=1e-10)
    similarity = grams @ grams.T
    return (similarity.sum() - similarity.diagonal().sum()) / (b * (b - 1))


@torch.no_grad()
def batch_similarity(loaded: LoadedModel, layer: str, images: torch.Tensor) -> float:
    """A batch's Gram similarity at `layer` as the model sees the images (no transforms): what a report shows."""
    extractor = FeatureExtractor(loaded.model, [layer], loaded.name)
    try:
        device = next(loaded.model.parameters()).device
        return float(gram_similarity(extractor(loaded.preprocess(images.to(device)))[layer]))
    finally:
        extractor.remove()


class Diverse(ModelEnergy):
    """−(the unit's activation over the batch) + `weight` · the batch's Gram similarity at `layer`, in one forward.

    `unit` is an energy with `layer` and `measure(features)` (`ActivationMaximization`,
    `direction.DirectionMaximization`); its own hooks are removed, this energy reads both layers itself.
    """

    def __init__(self, unit: ModelEnergy, layer: str, weight: float):
        unit.remove_hooks()
        super().__init__(unit.loaded, list(dict.fromkeys([unit.layer, layer])), unit.transform, unit.statistics)
        self.unit, self.layer, self.weight = unit, layer, weight

    def activation(self, x: torch.Tensor, transformed: bool = True) -> torch.Tensor:
        return self.unit.measure(self.features(x, transformed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, penalty = self._forward(x, transformed=True)
        return -self.unit.measure(feats) + self.weight * gram_similarity(feats[self.layer]) + penalty
