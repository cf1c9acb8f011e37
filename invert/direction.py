"""A direction in a layer's channel space as a unit to visualize (lucid's `direction` objective): features
that are combinations of channels — a concept vector, an NMF or PCA factor, the difference of two classes'
mean activations — rather than one channel.

    invert.visualize(model, invert.Direction("blocks.5", vector), prior="fourier")
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from .errors import SettingError
from .inversion import ModelEnergy
from .transforms import Transform
from .zoo import LoadedModel


class DirectionMaximization(ModelEnergy):
    """−(the layer's activations projected on a unit vector in channel space), averaged over positions or taken
    at one: lucid's `direction` objective, the dot product (not the cosine), so that a picture that excites the
    combination more counts more."""

    def __init__(self, loaded: LoadedModel, layer: str, vector: torch.Tensor, position: tuple[int, int] | None = None,
                 transform: Transform | None = None, statistics: float = 0.0):
        super().__init__(loaded, [layer], transform, statistics)
        self.layer, self.position = layer, position
        with torch.no_grad():
            probe = self.features(torch.full((1, *loaded.input_size), 0.5), transformed=False)[layer]
        vector = torch.as_tensor(vector, dtype=torch.float32).flatten()
        if vector.numel() != probe.shape[1] or not torch.isfinite(vector).all() or not vector.norm() > 0:
            raise SettingError("vector", f"must hold {probe.shape[1]} finite numbers, not all 0, for layer {layer!r} "
                                         f"(it has {vector.numel()})")
        if position is not None and probe.dim() != 4:
            raise SettingError("position", f"cannot be given: layer {layer!r} has no spatial positions")
        self.register_buffer("direction", vector / vector.norm())

    def activation(self, x: torch.Tensor, transformed: bool = True) -> torch.Tensor:
        return self.measure(self.features(x, transformed))

    def measure(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        f = feats[self.layer]
        projected = torch.einsum("bc...,c->b...", f, self.direction.to(f.dtype))
        if self.position is not None:
            return projected[:, self.position[0], self.position[1]].mean()
        return projected.mean()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, penalty = self._forward(x, transformed=True)
        return -self.measure(feats) + penalty


@dataclass(frozen=True, eq=False)
class Direction:
    """A unit for `invert.visualize`: `vector` (one number per channel of `layer`), at `position` or everywhere."""

    layer: str
    vector: torch.Tensor
    position: tuple[int, int] | None = None

    def energy(self, loaded: LoadedModel) -> DirectionMaximization:
        return DirectionMaximization(loaded, self.layer, self.vector, self.position)

    def __str__(self) -> str:
        where = f"@{self.position[0]},{self.position[1]}" if self.position else ""
        return f"{self.layer}:direction{where}"


def weights_label(weights: Mapping[str | int, float]) -> str:
    """A direction given as channel → weight, as people read it: `1·3 − 0.5·7`."""
    terms = [(" − " if w < 0 else " + ") + f"{abs(w):g}·{c}" for c, w in weights.items()]
    first = terms[0][3:] if terms[0].startswith(" + ") else "−" + terms[0][3:]
    return first + "".join(terms[1:])


def weights_vector(weights: Mapping[str | int, float], channels: int) -> torch.Tensor:
    """A direction given as channel → weight, as the vector over a layer's `channels` (0 elsewhere)."""
    vector = torch.zeros(channels)
    for channel, weight in weights.items():
        vector[int(channel)] = weight
    return vector
