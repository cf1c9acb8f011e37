"""Options and loading shared by the commands that look through a classifier."""
from __future__ import annotations

import argparse

import torch

from invert import zoo

from ..preimages import prepare_target
from .output import say

DEFAULT_IMAGE = "skimage:chelsea"


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=zoo.DEFAULT_MODEL,
                   help=f"timm name, tv:NAME for torchvision (default {zoo.DEFAULT_MODEL}, works offline)")
    p.add_argument("--weights", default=None, help="local checkpoint file for the model")


def load_target(spec: str, loaded: zoo.LoadedModel) -> torch.Tensor:
    """The image as the model sees it; what was converted or resized is said on stderr."""
    target, notes = prepare_target(spec, loaded)
    say(*notes)
    return target
