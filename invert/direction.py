"""A direction in a layer's channel space as a unit to visualize (lucid's `direction` objective): features
that are combinations of channels — a concept vector, an NMF or PCA factor, the difference of two classes'
mean activations — rather than one channel.

    invert.visualize(model, invert.Direction("blocks.5", vector), prior="fourier")
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from .objectives import Projection, direction


@dataclass(frozen=True, eq=False)
class Direction:
    """A unit for `invert.visualize`: `vector` (one number per channel of `layer`), at `position` or everywhere."""

    layer: str
    vector: torch.Tensor
    position: tuple[int, int] | None = None

    def objective(self) -> Projection:
        return direction(self.layer, self.vector, self.position)

    def __str__(self) -> str:
        """"blocks.5:1·3 − 0.5·7": the direction's largest weights (up to four; "…" when there are more)."""
        where = f"@{self.position[0]},{self.position[1]}" if self.position else ""
        vector = torch.as_tensor(self.vector, dtype=torch.float32).flatten()
        largest = [int(c) for c in vector.abs().argsort(descending=True)[:4] if vector[c] != 0]
        more = " …" if int((vector != 0).sum()) > len(largest) else ""
        terms = weights_label({c: float(vector[c]) for c in sorted(largest)}) if largest else "0"
        return f"{self.layer}:{terms}{more}{where}"


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
