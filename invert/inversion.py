"""Energies that look through a pretrained classifier: feature inversion and activation maximization.

The image x is in pixel space [0, 1] at the model's input size; the model's own normalization is
applied inside the energy, so any prior can produce x.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from invert.zoo import FeatureExtractor, LoadedModel, NormStatistics

from .energies import Energy
from .errors import SettingError
from .transforms import Transform


class ModelEnergy(Energy):
    """An energy computed from a model's activations at named layers (one forward for all of them).

    `statistics` > 0 adds that weight times the distance of the image's BatchNorm input statistics from
    the model's running ones (DeepInversion), measured in the same forward: it pulls a pre-image towards
    the feature statistics of natural images, so that models other than the inverted one read it too.
    """

    def __init__(self, loaded: LoadedModel, layers: Sequence[str], transform: Transform | None = None,
                 statistics: float = 0.0):
        super().__init__()
        self.loaded = loaded  # not a submodule: moving the energy (its targets) leaves the shared model where it is
        self.transform = transform
        self.extractor = FeatureExtractor(loaded.model, list(layers), loaded.name)
        self.statistics = statistics
        self._norms: NormStatistics | None = None
        # the classifier's forward and backward in bfloat16 (an atlas's batches on CPUs with bf16 units: 2.4x at
        # 8 images, 4.9x at 24, with channels_last; bench/results/atlas_*.json measures what it costs in quality)
        self.bf16 = False

    @property
    def model(self) -> torch.nn.Module:
        """The classifier, shared by every energy and judge that looks through it; its device is set once, by
        whoever fits (`preimages`), not moved per fit."""
        return self.loaded.model

    def features(self, x: torch.Tensor, transformed: bool = True) -> dict[str, torch.Tensor]:
        return self._forward(x, transformed)[0]

    def _forward(self, x: torch.Tensor, transformed: bool) -> tuple[dict[str, torch.Tensor], torch.Tensor | float]:
        """The features and the weighted statistics penalty (0 when off) of one forward, on the model's device."""
        x = x.to(next(self.model.parameters()).device)
        if transformed and self.transform is not None:
            x = self.transform(x)
        x = self.loaded.preprocess(x)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            if not self.statistics:
                return self._float(self.extractor(x)), 0.0
            if self._norms is None:
                self._norms = NormStatistics(self.model)
            with self._norms.recording():
                feats = self.extractor(x)
            return self._float(feats), self.statistics * self._norms.distance().float()

    @staticmethod
    def _float(feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: f.float() for name, f in feats.items()}

    def remove_hooks(self) -> None:
        """Detach this energy's hooks from the model, which later fits share; the energy is done then."""
        self.extractor.remove()
        if self._norms is not None:
            self._norms.remove()


class FeatureInversion(ModelEnergy):
    """Mean over layers of ‖Φ(x) − Φ(x0)‖² / ‖Φ(x0)‖²: how far x's features are from the target's.

    A transform that returns several copies gives the mean of the error over the copies.

    `keep_top` > 0 adds, at vector layers (the logits), that weight times a squared hinge on the target's top
    unit: how far the best other unit comes within the target's own margin of it, squared and normalized as
    the error is, so that weight w makes that one gap count as much as w units' errors.
    The squared error alone lets near-ties flip: a pre-image 0.2 of a flat image's loss away from the
    photo's logits is read as another class on a third of the photos (docs/natural_preimages.md).
    """

    def __init__(self, loaded: LoadedModel, layers: Sequence[str], target: torch.Tensor,
                 transform: Transform | None = None, statistics: float = 0.0, keep_top: float = 0.0):
        super().__init__(loaded, layers, transform, statistics)
        with torch.no_grad():
            feats = self.features(target, transformed=False)
        self.layer_names = list(feats)
        for i, name in enumerate(self.layer_names):
            self.register_buffer(f"target_{i}", feats[name].detach())
        self.keep_top = keep_top

    def targets(self) -> list[torch.Tensor]:
        return [getattr(self, f"target_{i}") for i in range(len(self.layer_names))]

    def _errors(self, feats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        return [((feats[n] - t) ** 2).sum() / (len(feats[n]) * (t ** 2).sum().clamp_min(1e-12))
                for n, t in zip(self.layer_names, self.targets())]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, penalty = self._forward(x, transformed=True)
        energy = torch.stack(self._errors(feats)).mean() + penalty
        if self.keep_top:
            energy = energy + self.keep_top * sum(self._top_hinge(feats[n], t) for n, t in
                                                  zip(self.layer_names, self.targets()) if t.dim() == 2)
        return energy

    @staticmethod
    def _top_hinge(f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of max(0, best other unit − top unit + the target's margin)² / ‖target‖²."""
        first, second = t[0].topk(2).values
        top = t[:1].argmax(dim=1, keepdim=True).expand(len(f), 1)  # tensors only: no host sync in the fit's step
        rival = f.scatter(1, top, float("-inf")).amax(dim=1)
        return F.relu(rival - f.gather(1, top)[:, 0] + first - second).pow(2).mean() / t.pow(2).sum().clamp_min(1e-12)

    @torch.no_grad()
    def errors(self, x: torch.Tensor) -> dict[str, float]:
        """The normalized error at each layer, without transforms (what a report shows)."""
        return {n: float(e) for n, e in zip(self.layer_names, self._errors(self.features(x, transformed=False)))}


class ActivationMaximization(ModelEnergy):
    """−activation of one channel (its mean over positions, or one position) or one class logit.

    `channel` may be a list: image i of the batch is then fitted for channel i (an atlas renders B units in one
    fit, each on its own image); the energy is the mean of their activations, so each image's balance with the
    prior's terms is what it would be alone.
    """

    def __init__(self, loaded: LoadedModel, layer: str, channel: int | Sequence[int],
                 position: tuple[int, int] | None = None, transform: Transform | None = None, statistics: float = 0.0):
        super().__init__(loaded, [layer], transform, statistics)
        self.layer, self.position = layer, position
        self.channels = [channel] if isinstance(channel, int) else [int(c) for c in channel]
        with torch.no_grad():
            probe = self.features(torch.full((1, *loaded.input_size), 0.5), transformed=False)[layer]
        self.units = probe.shape[1]  # channels, or classes at the logits
        self.spatial = probe.dim() == 4
        for c in self.channels:
            if not 0 <= c < probe.shape[1]:
                raise SettingError("channel", f"{c} is out of range for layer {layer!r}, which has "
                                              f"{probe.shape[1]} (0–{probe.shape[1] - 1})")
        if position is not None:
            if not self.spatial:
                raise SettingError("position", f"cannot be given: layer {layer!r} has no spatial positions")
            h, w = probe.shape[-2:]
            if not (0 <= position[0] < h and 0 <= position[1] < w):
                raise SettingError("position", f"{position} is outside layer {layer!r}'s {h}×{w} map")

    @property
    def channel(self) -> int:
        return self.channels[0]

    def activation(self, x: torch.Tensor, transformed: bool = True) -> torch.Tensor:
        return self.measure(self.features(x, transformed))

    def activations(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Each channel's activation on its own image (a transform's copies averaged): a vector, one per channel."""
        f = feats[self.layer]
        n = len(self.channels)
        f = f.reshape(-1, n, *f.shape[1:])  # copies × images × …, as transforms order their copies
        a = f[:, torch.arange(n, device=f.device), torch.tensor(self.channels, device=f.device)]
        if self.position is not None:
            a = a[..., self.position[0], self.position[1]]
        return a.reshape(*a.shape[:2], -1).mean(dim=(0, 2))

    def measure(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """The mean activation of the channels on their images, from features of one forward that include the
        layer; with one channel, its activation averaged over the batch."""
        return self.activations(feats).mean()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, penalty = self._forward(x, transformed=True)
        return -self.measure(feats) + penalty


class AlphaNorm(Energy):
    """Mean |2(x − ½)|^α (Mahendran & Vedaldi's α-norm, on the [0, 1] range): keeps pixel values bounded."""

    def __init__(self, alpha: float = 6.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean((2 * (x - 0.5)).abs() ** self.alpha)


@torch.no_grad()
def classify(loaded: LoadedModel, x: torch.Tensor) -> torch.Tensor:
    """Logits of `loaded` for images in [0, 1], resized to its input size when they differ."""
    size = tuple(loaded.input_size[1:])
    device = next(loaded.model.parameters()).device
    x = x.to(device)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return loaded.model(loaded.preprocess(x))


def top1(loaded: LoadedModel, x: torch.Tensor) -> int:
    return int(classify(loaded, x).argmax(dim=1)[0])
