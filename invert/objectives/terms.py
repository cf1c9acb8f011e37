"""The terms of objectives: units (channel, direction), feature matching, diversity, statistics, pixel penalties."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import torch
import torch.nn.functional as F

from invert.zoo import class_index

from ..diversity import gram_similarity
from ..energies import Energy, TotalVariation
from ..errors import SettingError
from ..inversion import AlphaNorm
from .algebra import STATISTICS, Features, Objective

if TYPE_CHECKING:
    from .hooked import Hooked


class UnitTerm(Objective):
    """A unit's activation (`channel`, `direction`): what a report shows as a picture's activation."""

    is_class = False  # whether the unit is a class logit (known once bound)

    def __init__(self, layer: str, position: tuple[int, int] | None):
        super().__init__()
        self.layer, self.position, self.layers = layer, position, (layer,)

    def activations(self, features: Features) -> torch.Tensor:
        """One activation per unit (a transform's copies averaged)."""
        raise NotImplementedError

    def _check_position(self, shape: torch.Size) -> None:
        if self.position is None:
            return
        if len(shape) != 4:
            raise SettingError("position", f"cannot be given: layer {self.layer!r} has no spatial positions")
        h, w = shape[-2:]
        if not (0 <= self.position[0] < h and 0 <= self.position[1] < w):
            raise SettingError("position", f"{self.position} is outside layer {self.layer!r}'s {h}×{w} map")

    def _where(self) -> str:
        return f"@{self.position[0]},{self.position[1]}" if self.position else ""


class Channel(UnitTerm):
    """A channel's mean activation (over positions, or at one) or a class logit. With several channels, image i
    of the batch is fitted for channel i (an atlas's batch of units) and the value is the mean of their
    activations, so that each image's balance with the other terms is what it would be alone."""

    def __init__(self, layer: str, channels: int | Sequence[int], position: tuple[int, int] | None = None):
        super().__init__(layer, position)
        if isinstance(channels, (str, bytes)):
            raise SettingError("channel", f"= {channels!r}; give a whole number (or a list of them), not a text")
        self.channels = [int(channels)] if isinstance(channels, int) else [int(c) for c in channels]

    def bind(self, energy: Hooked) -> None:
        shape = energy.shapes[self.layer]
        for c in self.channels:
            if not 0 <= c < shape[1]:
                raise SettingError("channel", f"{c} is out of range for layer {self.layer!r}, which has "
                                              f"{shape[1]} (0–{shape[1] - 1})")
        self._check_position(shape)
        self.is_class = len(shape) != 4 and shape[1] == energy.loaded.num_classes

    def activations(self, features: Features) -> torch.Tensor:
        f = features[self.layer]
        n = len(self.channels)
        f = f.reshape(-1, n, *f.shape[1:])  # copies × images × …, as transforms order their copies
        a = f[:, torch.arange(n, device=f.device), torch.tensor(self.channels, device=f.device)]
        if self.position is not None:
            a = a[..., self.position[0], self.position[1]]
        return a.reshape(*a.shape[:2], -1).mean(dim=(0, 2))

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        return self.activations(features).mean()

    def __repr__(self) -> str:
        shown = str(self.channels[0]) if len(self.channels) == 1 else ",".join(map(str, self.channels))
        return f"{self.layer}:{shown}{self._where()}"


class Projection(UnitTerm):
    """The layer's activations projected on a unit vector in channel space, averaged over positions or taken at
    one (lucid's `direction`): the dot product, not the cosine, so a picture that excites the combination
    more counts more."""

    def __init__(self, layer: str, vector: torch.Tensor, position: tuple[int, int] | None = None):
        super().__init__(layer, position)
        self.register_buffer("vector", torch.as_tensor(vector, dtype=torch.float32).flatten())

    def bind(self, energy: Hooked) -> None:
        shape, v = energy.shapes[self.layer], self.vector
        if v.numel() != shape[1] or not torch.isfinite(v).all() or not v.norm() > 0:
            raise SettingError("vector", f"must hold {shape[1]} finite numbers, not all 0, for layer "
                                         f"{self.layer!r} (it has {v.numel()})")
        self._check_position(shape)

    def _projection(self, features: Features) -> torch.Tensor:
        f = features[self.layer]
        projected = torch.einsum("bc...,c->b...", f, (self.vector / self.vector.norm()).to(f.dtype))
        if self.position is not None:
            return projected[:, self.position[0], self.position[1]].mean()
        return projected.mean()

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        return self._projection(features)

    def activations(self, features: Features) -> torch.Tensor:
        return self._projection(features).reshape(1)  # one unit, however many images

    def __repr__(self) -> str:
        return f"{self.layer}:direction{self._where()}"


def top_hinge(f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of max(0, best other unit − top unit + the target's margin)² / ‖target‖²."""
    first, second = t[0].topk(2).values
    top = t[:1].argmax(dim=1, keepdim=True).expand(len(f), 1)  # tensors only: no host sync in the fit's step
    rival = f.scatter(1, top, float("-inf")).amax(dim=1)
    return F.relu(rival - f.gather(1, top)[:, 0] + first - second).pow(2).mean() / t.pow(2).sum().clamp_min(1e-12)


class FeatureMatch(Objective):
    """−(mean over layers of ‖Φ(x) − Φ(x0)‖² / ‖Φ(x0)‖²): how close x's features are to the target's (a
    transform's copies: the mean over the copies).

    `keep_top` > 0 adds, at vector layers (the logits), that weight times a squared hinge on the target's top
    unit (`top_hinge`), normalized as the error is: the squared error alone lets near-ties flip, and a
    pre-image close to the photo's logits is read as another class on a third of the photos
    (docs/natural_preimages.md).
    """

    def __init__(self, layers: str | Sequence[str], target: torch.Tensor | Mapping[str, torch.Tensor],
                 keep_top: float = 0.0):
        super().__init__()
        self.layers = (layers,) if isinstance(layers, str) else tuple(dict.fromkeys(layers))
        self.target, self.keep_top = target, keep_top

    def keeping_top(self, weight: float) -> FeatureMatch:
        """The same match with another `keep_top` weight (a new, unbound term)."""
        return FeatureMatch(self.layers, self.target, weight)

    def bind(self, energy: Hooked) -> None:
        if isinstance(self.target, Mapping):
            features = self.target
            missing = [name for name in self.layers if name not in features]
            if missing:
                raise SettingError("target", f"has no features for layer(s) {', '.join(missing)}; give them, or "
                                             "give the target image")
        else:
            with torch.no_grad():
                features = energy.features(self.target, transformed=False)
        for i, name in enumerate(self.layers):
            self.register_buffer(f"target_{i}", features[name].detach().float())

    def targets(self) -> list[torch.Tensor]:
        return [getattr(self, f"target_{i}") for i in range(len(self.layers))]

    def errors(self, features: Features) -> list[torch.Tensor]:
        return [((features[n] - t) ** 2).sum() / (len(features[n]) * (t ** 2).sum().clamp_min(1e-12))
                for n, t in zip(self.layers, self.targets())]

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        error = torch.stack(self.errors(features)).mean()
        if self.keep_top:
            error = error + self.keep_top * sum(top_hinge(features[n], t) for n, t in zip(self.layers, self.targets())
                                                if t.dim() == 2)
        return -error

    def __repr__(self) -> str:
        kept = f", keep_top={self.keep_top:g}" if self.keep_top else ""
        return f"feature_match({','.join(self.layers)}{kept})"


class Diversity(Objective):
    """The batch's Gram similarity at `layer` (`diversity.gram_similarity`): 1 when its images all look alike.

    A penalty, with lucid's and lucent's sign: `unit - 50 * diversity(layer)` pushes a batch apart, as their
    `channel(...) - 1e2 * diversity(...)` does. Without a layer it takes its objective's first unit's.
    """

    def __init__(self, layer: str | None = None):
        super().__init__()
        self.layer = layer

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,) if self.layer else ()

    def settle(self, unit_layer: str | None) -> None:
        self.layer = self.layer or unit_layer

    def bind(self, energy: Hooked) -> None:
        if self.layer is None:
            raise SettingError("diversity", "needs a layer: write diversity('blocks.5'), or add a unit whose "
                                            "layer it takes")

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        return gram_similarity(features[self.layer])

    def __repr__(self) -> str:
        return f"diversity({self.layer or ''})"


class BatchNormStatistics(Objective):
    """−(DeepInversion's distance of the batch's BatchNorm input statistics from the model's running ones): pulls
    a picture towards natural images' feature statistics, so that models other than the one inverted read it."""

    reads_statistics = True

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        return -features[STATISTICS]

    def __repr__(self) -> str:
        return "bn_statistics"


class PixelPenalty(Objective):
    """−(a penalty on the pixels being fitted): `tv`, `alpha_norm`."""

    def __init__(self, penalty: Energy, label: str):
        super().__init__()
        self.penalty, self.label = penalty, label

    def forward(self, features: Features, image: torch.Tensor) -> torch.Tensor:
        return -self.penalty(image)

    def __repr__(self) -> str:
        return self.label


def channel(layer: str, c: int | Sequence[int], position: tuple[int, int] | None = None) -> Channel:
    """Channel `c` of `layer` (its mean over positions, or at `position`), or a class logit; a list of channels
    fits image i of the batch for channel i."""
    return Channel(layer, c, position)


def unit(text: str) -> Channel:
    """A unit as lucid writes it: "blocks.5:3", "blocks.5:3@4,4" (one position), "classifier:flamingo" or
    "classifier:130" (a class)."""
    layer, sep, rest = str(text).rpartition(":")
    if not sep or not layer or not rest:
        raise SettingError("unit", f"{text!r}: write LAYER:CHANNEL (e.g. blocks.5:7), LAYER:CHANNEL@Y,X for one "
                                   "position, or LOGITS:CLASS (e.g. classifier:flamingo)")
    what, _, where = rest.partition("@")
    position = None
    if where:
        try:
            y, x = (int(v) for v in where.split(","))
        except ValueError:
            raise SettingError("unit", f"{text!r}: the position is written @Y,X (e.g. @4,4)") from None
        position = (y, x)
    what = what.strip()
    return Channel(layer, int(what) if what.isascii() and what.isdigit() else class_index(what), position)


def direction(layer: str, vector: torch.Tensor, position: tuple[int, int] | None = None) -> Projection:
    """`layer`'s activations projected on `vector` (one weight per channel) made a unit vector."""
    return Projection(layer, vector, position)


def feature_match(layers: str | Sequence[str], target: torch.Tensor | Mapping[str, torch.Tensor],
                  keep_top: float = 0.0) -> FeatureMatch:
    """−(the normalized feature error from `target`: an image as the model takes it, or its features)."""
    return FeatureMatch(layers, target, keep_top)


def diversity(layer: str | None = None) -> Diversity:
    """The batch's Gram similarity at `layer`: subtract it (`unit - w * diversity(layer)`) to push images apart."""
    return Diversity(layer)


def bn_statistics() -> BatchNormStatistics:
    """−(DeepInversion's BatchNorm statistics distance), recorded in the same forward."""
    return BatchNormStatistics()


def alpha_norm(alpha: float = 6.0) -> PixelPenalty:
    """−mean |2(x − ½)|^α: keeps pixel values inside the range."""
    return PixelPenalty(AlphaNorm(alpha), f"alpha_norm({alpha:g})")


def tv(beta: float = 2.0) -> PixelPenalty:
    """−(isotropic total variation, mean |∇x|^β): smooth pictures."""
    return PixelPenalty(TotalVariation(beta=beta), f"tv({beta:g})")
