"""Named layers of a model: list them with output shapes, and capture several at once cheaply."""

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zoo import ZooError


@dataclass(frozen=True)
class LayerInfo:
    """One named module; `output_shape` is per sample (no batch dim), None when not a tensor or never run."""

    name: str
    type: str
    output_shape: tuple[int, ...] | None


def layers(model: nn.Module, input_size: tuple[int, int, int]) -> list[LayerInfo]:
    """Every named submodule with its output shape, from one forward of a zero image (C, H, W)."""
    shapes: dict[str, tuple[int, ...] | None] = {}

    def recorder(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            shapes.setdefault(name, tuple(output.shape[1:]) if isinstance(output, Tensor) else None)
        return hook

    modules = [(name, module) for name, module in model.named_modules() if name]
    handles = [module.register_forward_hook(recorder(name)) for name, module in modules]
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    try:
        model.eval()  # a train-mode forward would update BatchNorm running stats
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return [LayerInfo(name, type(module).__name__, shapes.get(name)) for name, module in modules]


class _StopForward(Exception):
    """Raised by the last requested hook so the rest of the network is skipped."""


class FeatureExtractor:
    """Capture the outputs of several named modules, stopping the forward once all have fired.

    Use as a context manager (or call `remove()`) to detach the hooks; meanwhile plain `model(x)`
    calls are unaffected. Outputs keep their autograd graph, so losses on them can be optimized
    through.
    """

    def __init__(self, model: nn.Module, layer_names: Sequence[str]) -> None:
        modules = dict(model.named_modules())
        for name in layer_names:
            if not name or name not in modules:
                close = difflib.get_close_matches(name, [n for n in modules if n], n=5)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise ZooError(f"unknown layer {name!r}; {hint}run `invert layers MODEL` to list all")
        self.model = model
        self.layer_names = list(dict.fromkeys(layer_names))
        self._features: dict[str, object] | None = None  # a dict only while __call__ runs
        self._handles = [modules[name].register_forward_hook(self._hook(name)) for name in self.layer_names]

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            if self._features is None:  # plain model(x) calls run to the end untouched
                return
            self._features.setdefault(name, output)
            if len(self._features) == len(self.layer_names):
                raise _StopForward
        return hook

    def __call__(self, x: Tensor) -> dict[str, Tensor]:
        """Run the model on `x` up to the deepest requested layer; returns {name: output}."""
        self._features = features = {}
        try:
            self.model(x)
        except _StopForward:
            pass
        finally:
            self._features = None
        missing = [name for name in self.layer_names if name not in features]
        if missing:
            raise ZooError(f"layer(s) {', '.join(missing)} exist but the forward never reaches them")
        return {name: features[name] for name in self.layer_names}

    def remove(self) -> None:
        """Detach the hooks from the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "FeatureExtractor":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()
