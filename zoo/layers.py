"""Named layers of a model: list them with output shapes, and capture several at once cheaply."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .errors import ZooError, did_you_mean


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


def find_layers(model: nn.Module, names: Sequence[str], model_name: str | None = None) -> dict[str, nn.Module]:
    """The named modules; an unknown name is a ZooError with the close names and how to list them all."""
    modules = {n: m for n, m in model.named_modules() if n}
    of = f" of {model_name}" if model_name else ""
    for name in names:
        if name not in modules:
            unknown = f"unknown layer {name!r}{of}; {did_you_mean(name, modules)}"
            raise ZooError(unknown + "invert.zoo.layers(model, input_size) lists them all",
                           cli=unknown + f"`invert layers {model_name or 'MODEL'}` lists them all")
    return modules


class _StopForward(Exception):
    """Raised by the last requested hook so the rest of the network is skipped."""


class FeatureExtractor:
    """Capture the outputs of several named modules, stopping the forward once all have fired.

    Use as a context manager (or call `remove()`) to detach the hooks; meanwhile plain `model(x)`
    calls are unaffected. Outputs keep their autograd graph, so losses on them can be optimized
    through.
    """

    def __init__(self, model: nn.Module, layer_names: Sequence[str], model_name: str | None = None) -> None:
        modules = find_layers(model, layer_names, model_name)
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


class NormStatistics:
    """How far the per-channel mean and variance of the inputs of every BatchNorm are from the running
    statistics it learned on the training images: DeepInversion's (Yin et al., 2020) prior of natural
    feature statistics. Records only inside `recording()`; plain forwards are untouched.
    """

    def __init__(self, model: nn.Module) -> None:
        norms = self.norm_layers(model)
        if not norms:
            raise ZooError("the model has no BatchNorm layers with running statistics to compare against")
        self._distances: list[Tensor] | None = None  # a list only while recording
        self._recorded: list[Tensor] = []  # what the last recording collected
        self._handles = [m.register_forward_hook(self._hook) for m in norms]

    @staticmethod
    def norm_layers(model: nn.Module) -> list[nn.Module]:
        """The BatchNorm layers that keep running statistics (none in e.g. a ViT)."""
        return [m for m in model.modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None]

    def _hook(self, module: nn.Module, inputs: tuple, output: object) -> None:
        if self._distances is None:
            return
        x = inputs[0]
        dims = [d for d in range(x.dim()) if d != 1]
        mean, var = x.mean(dims), x.var(dims, unbiased=False)
        self._distances.append(torch.linalg.vector_norm(mean - module.running_mean)
                               + torch.linalg.vector_norm(var - module.running_var))

    @contextmanager
    def recording(self) -> Iterator[None]:
        self._distances = []
        try:
            yield
        finally:
            self._recorded, self._distances = self._distances, None

    def distance(self) -> Tensor:
        """Mean over the BatchNorm layers the last recorded forward reached."""
        return torch.stack(self._recorded).mean()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


_PLUMBING = ("Identity", "Dropout", "ReLU", "ReLU6", "SiLU", "GELU", "Flatten", "ZeroPad2d")


def default_layers(model: nn.Module, input_size: tuple[int, int, int], count: int = 4) -> list[str]:
    """`count` layers from shallow to the logits: stage outputs at about ¼, ½ and ¾ of the depth, then the logits.

    Stages are modules at most one level deep (`layer3`, `blocks.2`, `features.10`) with a C×H×W output,
    not plumbing (activations, dropout) and not a container of other stages.
    """
    infos = layers(model, input_size)
    stages = _stages(infos)
    vectors = [i.name for i in infos if i.output_shape and len(i.output_shape) == 1]
    n = len(stages)
    picks = [stages[min(n - 1, round(f * (n - 1)))] for f in (0.25, 0.5, 0.75)][: count - 1] if n else []
    return list(dict.fromkeys(picks + vectors[-1:]))


def stages(model: nn.Module, input_size: tuple[int, int, int]) -> list[str]:
    """The model's stages, shallow to deep: modules at most one level deep with a C×H×W output, not plumbing
    (activations, dropout) and not a container of other stages (`blocks.0` … `blocks.6`, `layer1` … `layer4`)."""
    return _stages(layers(model, input_size))


def _stages(infos: list[LayerInfo]) -> list[str]:
    shallow = [i for i in infos if i.name.count(".") <= 1 and i.type not in _PLUMBING]
    return [i.name for i in shallow if i.output_shape and len(i.output_shape) == 3
            and not any(j.name.startswith(i.name + ".") for j in shallow)]
