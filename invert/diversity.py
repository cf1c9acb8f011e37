"""Diversity (lucid's `diversity` objective): a batch of images for one unit, pushed apart in a layer's Gram
space, so that the batch shows several things that excite the unit instead of one picture B times. The
similarity is measured here; `objectives.diversity(layer)` is the term a fit subtracts.

    invert.visualize(model, "blocks.5:3", prior="fourier", batch=4, diversity=1.0)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

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
