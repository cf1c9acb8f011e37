"""What a pre-image or a visualization adds to its prior's preset recipe, as typed settings: the flags of
`invert preimage`, `maximize` and `compare`, the keys of their study specs, and `recipe=` in `invert.preimage`
and `invert.visualize`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import Settings, setting


@dataclass(frozen=True)
class Recipe(Settings):
    tv: float | None = setting(help="add W · TV (β = 2) to the energy, whatever the prior (Mahendran & Vedaldi)",
                               kind=float, least=0, metavar="W")
    alpha_norm: float | None = setting(help="add W · α-norm (α = 6) to the energy", kind=float, least=0, metavar="W")
    no_transforms: bool = setting(False, help="no random jitter/rotation/scale at coarse layers", kind=bool)
    statistics: float | None = setting(help="weight of the BatchNorm statistics prior (DeepInversion; 0 turns it off)",
                                       kind=float, least=0, metavar="W")

    def objective(self) -> dict[str, Any]:
        """The overrides of the preset's recipe (`invert_layer`'s and `maximize`'s `objective`); empty: the preset's."""
        named = {"tv": self.tv, "alpha": self.alpha_norm, "statistics": self.statistics,
                 "transforms": False if self.no_transforms else None}
        return {k: v for k, v in named.items() if v is not None}
