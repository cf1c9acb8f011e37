"""`Hooked`: an objective bound to a classifier, as the energy the engine fits (one forward per step)."""
from __future__ import annotations

from typing import Sequence

import torch

from invert.zoo import FeatureExtractor, LoadedModel, NormStatistics

from ..energies import Energy
from ..transforms import Transform
from .algebra import STATISTICS, Features, Objective
from .terms import FeatureMatch, UnitTerm


@torch.no_grad()
def layer_shapes(loaded: LoadedModel, layers: Sequence[str]) -> dict[str, torch.Size]:
    """The output shape of each layer (batch of 1) for an image at the model's input size."""
    with torch.no_grad(), FeatureExtractor(loaded.model, list(layers), loaded.name) as extractor:
        grey = torch.full((1, *loaded.input_size), 0.5, device=next(loaded.model.parameters()).device)
        return {name: f.shape for name, f in extractor(loaded.preprocess(grey)).items()}


class Hooked(Energy):
    """−`objective` through a classifier, for `engine.fit`: one set of hooks on the union of the objective's
    layers (and the BatchNorm statistics only when a term reads them); per step one draw of `transform`, one
    forward (in bfloat16 autocast with `bf16`, features in float32), every term read from it.

    The classifier stays where it is (not a submodule): moving the energy moves the terms' tensors only. Call
    `remove_hooks()` (or use `with`) when done: later fits share the model. Reports (`activation`,
    `activations`, `errors`, `features`) are measured in float32, whatever the fit runs in.
    """

    def __init__(self, loaded: LoadedModel, objective: Objective, transform: Transform | None = None,
                 bf16: bool = False):
        super().__init__()
        self.loaded, self.objective, self.transform, self.bf16 = loaded, objective, transform, bf16
        terms = objective.terms()
        self.units = [t for t in terms if isinstance(t, UnitTerm)]
        # each unit term's weight and sign in the objective: `unit(a) - 0.5 * unit(b)` reports a − 0.5 b
        self.unit_weights = [w for w, t in objective.weighted_terms() if isinstance(t, UnitTerm)]
        for term in terms:
            term.settle(self.units[0].layer if self.units else None)
        statistics = any(term.reads_statistics for term in terms)
        layers = list(objective.layers)
        self.shapes = layer_shapes(loaded, layers) if layers else {}
        self.extractor = FeatureExtractor(loaded.model, layers, loaded.name) if layers or statistics else None
        self._norms: NormStatistics | None = None
        try:
            self._norms = NormStatistics(loaded.model) if statistics else None
            for term in terms:
                term.bind(self)
        except BaseException:
            self.remove_hooks()
            raise

    def _device(self) -> torch.device:
        return next(self.loaded.model.parameters()).device

    def _measure(self, x: torch.Tensor, transformed: bool, bf16: bool = False) -> Features:
        """The features of one forward of x (on the model's device), with the statistics' distance when read."""
        if self.extractor is None:
            return {}
        if transformed and self.transform is not None:
            x = self.transform(x)
        x = self.loaded.preprocess(x)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            if self._norms is None:
                return {name: f.float() for name, f in self.extractor(x).items()}
            with self._norms.recording():
                features = {name: f.float() for name, f in self.extractor(x).items()}
            return {**features, STATISTICS: self._norms.distance().float()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self._device())
        return -self.objective(self._measure(x, transformed=True, bf16=self.bf16), x)

    def features(self, x: torch.Tensor, transformed: bool = True) -> Features:
        measured = self._measure(x.to(self._device()), transformed)
        measured.pop(STATISTICS, None)
        return measured

    def activation(self, x: torch.Tensor, transformed: bool = False) -> torch.Tensor:
        """The unit terms' activation (their weighted sum, as the objective counts them; the whole objective's
        value when it has none)."""
        x = x.to(self._device())
        features = self._measure(x, transformed)
        if not self.units:
            return self.objective(features, x)
        return sum(w * t(features, x) for w, t in zip(self.unit_weights, self.units))

    def activations(self, x: torch.Tensor, transformed: bool = False) -> torch.Tensor:
        """One activation per unit, each on its own image (a vector)."""
        features = self._measure(x.to(self._device()), transformed)
        return torch.cat([t.activations(features) for t in self.units])

    @torch.no_grad()
    def errors(self, x: torch.Tensor) -> dict[str, float]:
        """The normalized feature error at each matched layer, without transforms (what a report shows)."""
        features = self._measure(x.to(self._device()), transformed=False)
        return {name: float(e) for term in self.objective.terms() if isinstance(term, FeatureMatch)
                for name, e in zip(term.layers, term.errors(features))}

    def remove_hooks(self) -> None:
        """Detach this energy's hooks from the model; the energy is done then."""
        if self.extractor is not None:
            self.extractor.remove()
        if self._norms is not None:
            self._norms.remove()

    def __enter__(self) -> Hooked:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove_hooks()

    def extra_repr(self) -> str:
        return f"{self.objective!r} on {self.loaded.name}"
