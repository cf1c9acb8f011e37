"""Options and loading shared by the commands that look through a classifier."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..defaults import DEFAULT_MODEL
from .output import say

if TYPE_CHECKING:
    import torch

    from invert import zoo

# Lite0 calls it espresso at p 0.95 and under 20 of 20 of the fit's random transforms; chelsea's top two
# classes (tiger cat, Egyptian cat) are 0.1 logit apart, so a faithful pre-image may flip between them
DEFAULT_IMAGE = "skimage:coffee"


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"timm name, tv:NAME for torchvision (default {DEFAULT_MODEL}, works offline)")
    p.add_argument("--weights", default=None, help="local checkpoint file for the model")


def load_target(spec: str, loaded: zoo.LoadedModel) -> torch.Tensor:
    """The image as the model sees it; what was converted or resized is said on stderr."""
    from ..preimages import prepare_target

    target, notes = prepare_target(spec, loaded)
    say(*notes)
    return target
