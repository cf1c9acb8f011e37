"""Scoring a picture apart from making it (as captum keeps evaluation apart from attribution): what the
inverted model and an independent judge call it, and whether the class survives without its colours."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .inversion import classify
from .zoo import LoadedModel

REC601 = (0.299, 0.587, 0.114)


def grey(image: torch.Tensor) -> torch.Tensor:
    """The luminance (Rec. 601) in all three channels: what is left when colour is taken away. A field of a
    class's colours loses the class with its colour; fur, eyes and wheels keep theirs."""
    y = (image * torch.tensor(REC601, device=image.device).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    return y.expand_as(image)


@dataclass(frozen=True)
class Verdict:
    """One model's reading of a picture, and of the class wanted when there is one."""

    model: str
    top1: int
    top1_name: str | None
    wanted: int | None = None
    probability: float | None = None  # of the wanted class
    top5_hit: bool | None = None
    grey_probability: float | None = None  # of the wanted class, on the grey copy

    @property
    def top1_hit(self) -> bool | None:
        return None if self.wanted is None else self.top1 == self.wanted


@dataclass(frozen=True)
class Scores:
    """The inverted model's verdict and, when a judge was asked, an independent model's."""

    model: Verdict
    judge: Verdict | None = None


def verdict(loaded: LoadedModel, image: torch.Tensor, wanted: int | None = None) -> Verdict:
    """What `loaded` calls `image` (1×3×H×W in [0, 1]); with `wanted`, its probability, top-5 and grey copy."""
    probs = classify(loaded, image).softmax(dim=1)[0]
    top5 = probs.topk(min(5, probs.numel())).indices.tolist()
    if wanted is None:
        return Verdict(loaded.name, top5[0], loaded.class_name(top5[0]))
    grey_p = float(classify(loaded, grey(image)).softmax(dim=1)[0, wanted])
    return Verdict(loaded.name, top5[0], loaded.class_name(top5[0]), wanted, float(probs[wanted]), wanted in top5,
                   grey_p)
