"""The algebra of objectives: a scalar to maximize from one forward's features, added and scaled like numbers."""
from __future__ import annotations

from numbers import Real
from typing import TYPE_CHECKING, Iterator, Sequence

import torch
from torch import nn

if TYPE_CHECKING:
    from .hooked import Hooked

Features = dict[str, torch.Tensor]
STATISTICS = "<BatchNorm statistics>"  # the entry of `Features` that holds DeepInversion's distance, when read


class Objective(nn.Module):
    """A scalar to maximize: `forward(features, image)`. `features` maps each layer of `layers` to its output in
    float32 (several images, or transformed copies, along the batch); `image` is the batch being fitted, in
    [0, 1] and BEFORE the random transforms: pixel terms regularize what the prior makes, as the presets
    always have (TV of MACO's noisy crops would measure the noise).

    A term checks itself against the model in `bind` (its layers' probe shapes are `energy.shapes`).
    """

    layers: tuple[str, ...] = ()
    reads_statistics = False  # whether the forward must record the BatchNorm statistics (`STATISTICS`)

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def weighted_terms(self, weight: float = 1.0) -> Iterator[tuple[float, Objective]]:
        """The terms this objective adds up, each with the weight it counts with."""
        yield weight, self

    def terms(self) -> list[Objective]:
        return [term for _, term in self.weighted_terms()]

    def settle(self, unit_layer: str | None) -> None:
        """Take a default from the objective it is part of (the layer of its first unit term); most need none."""

    def bind(self, energy: Hooked) -> None:
        """Check this term against `energy`'s model and keep what depends on it; raises SettingError."""

    def __add__(self, other: Objective) -> Objective:
        return Sum([self, other]) if isinstance(other, Objective) else NotImplemented

    def __radd__(self, other: object) -> Objective:  # sum() starts from 0
        return self if isinstance(other, Real) and other == 0 else NotImplemented

    def __sub__(self, other: Objective) -> Objective:
        return self + (-other) if isinstance(other, Objective) else NotImplemented

    def __neg__(self) -> Objective:
        return Scaled(self, -1.0)

    def __mul__(self, weight: float) -> Objective:
        return Scaled(self, float(weight)) if isinstance(weight, Real) else NotImplemented

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return type(self).__name__


class Sum(Objective):
    """Terms added up (nested sums flattened, so a sum reads and repeats as it was written)."""

    def __init__(self, parts: Sequence[Objective]):
        super().__init__()
        self.parts = nn.ModuleList([p for part in parts for p in (part.parts if isinstance(part, Sum) else [part])])

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(layer for part in self.parts for layer in part.layers))

    def weighted_terms(self, weight: float = 1.0) -> Iterator[tuple[float, Objective]]:
        for part in self.parts:
            yield from part.weighted_terms(weight)

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        return sum(part(features, image) for part in self.parts)

    def __repr__(self) -> str:
        shown = [repr(part) for part in self.parts]
        return shown[0] + "".join(f" - {s[1:]}" if s.startswith("-") else f" + {s}" for s in shown[1:])


class Scaled(Objective):
    """A term times a number (scaling a scaled term multiplies the weights)."""

    def __init__(self, term: Objective, weight: float):
        super().__init__()
        self.term, self.weight = term, weight

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    def weighted_terms(self, weight: float = 1.0) -> Iterator[tuple[float, Objective]]:
        yield from self.term.weighted_terms(weight * self.weight)

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        return self.weight * self.term(features, image)

    def __mul__(self, weight: float) -> Objective:
        return Scaled(self.term, self.weight * float(weight)) if isinstance(weight, Real) else NotImplemented

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return self * -1.0

    def __repr__(self) -> str:
        inner = f"({self.term!r})" if isinstance(self.term, Sum) else repr(self.term)
        return f"-{inner}" if self.weight == -1 else f"{self.weight:g}·{inner}"
