"""Invert a model you build in Python: any nn.Module works, here a small CNN with random weights.

    python examples/invert_your_own_model.py [--steps 200] [--out own_model.png]

A random network is a useful control: its pre-images show what the prior alone contributes.
"""
from __future__ import annotations

import argparse

import torch
from torch import nn

from invert import zoo
from invert import report
from invert.preimages import Judges, invert_layer, prepare_target


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="skimage:astronaut")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--out", default="own_model.png")
    args = ap.parse_args()

    model = zoo.load(small_cnn())  # frozen, with ImageNet mean/std and a 224² input by default
    print("layers:", ", ".join(f"{i.name} {i.output_shape}" for i in zoo.layers(model.model, model.input_size)))
    target, _ = prepare_target(args.image, model)
    panels = [("original", target)]
    for layer in ("1", "3", "5"):  # after each ReLU
        for prior in ("tv", "dip"):
            image, record, _ = invert_layer(Judges(model), target, layer, prior, steps=args.steps, progress=True)
            print(f"layer {layer} · {prior}: feature loss {record['feature_loss']:.3f}")
            panels.append((f"layer {layer} · {prior}", image))
    report.grid(panels, args.out, columns=3)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
