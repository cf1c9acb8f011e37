"""`invert layers MODEL`: every hookable module with its type and output shape."""
from __future__ import annotations

import argparse

from ..defaults import DEFAULT_MODEL
from . import options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("layers", help="list a model's layers with their output shapes",
                       **options.example("invert layers", "invert layers tv:resnet50"))
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from invert import zoo

    loaded = zoo.load(args.model, pretrained=False)  # shapes do not depend on the weights
    infos = zoo.layers(loaded.model, loaded.input_size)
    width = max(len(i.name) for i in infos)
    print(f"{'layer':<{width}}  {'type':<24} output (input {'×'.join(map(str, loaded.input_size))})")
    for info in infos:
        shape = "×".join(map(str, info.output_shape)) if info.output_shape else "not reached / not a tensor"
        print(f"{info.name:<{width}}  {info.type:<24} {shape}")
    print(f"default pre-image layers: {','.join(zoo.default_layers(loaded.model, loaded.input_size))}")
    return 0
