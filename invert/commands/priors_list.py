"""`invert priors`: the registry, with parameter counts at a given image size."""
from __future__ import annotations

import argparse

from . import options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("priors", help="list the registered priors and their presets",
                       **options.example("invert priors --size 512 512"))
    p.add_argument("--size", type=options.whole(1, 4096), nargs=2, default=[256, 256], metavar=("H", "W"),
                   help="the size every prior is built at to count its weights, 1 to 4096 a side (default 256 256)")
    p.add_argument("--channels", type=int, default=3, choices=[1, 3])
    p.set_defaults(run=run)


def parameter_count(name: str, preset: str, channels: int, size: tuple[int, int]) -> int:
    """Built on the meta device: counting costs no memory even for the largest nets."""
    import torch

    from invert import priors as prior_registry

    with torch.device("meta"):
        return prior_registry.create(name, preset=preset, channels=channels, size=size).num_parameters()


def run(args: argparse.Namespace) -> int:
    from invert import priors as prior_registry

    size = tuple(args.size)
    pixels = args.channels * size[0] * size[1]
    print(f"{'prior':<14}{'preset':<16}{'parameters':>12}{'params/values':>15}  steps  lr")
    for name in prior_registry.available():
        e = prior_registry.entry(name)
        for preset, row in e.presets.items():
            n = parameter_count(name, preset, args.channels, size)
            fit = row.get("fit", {})
            mark = "*" if preset == e.default_preset else " "
            print(f"{name:<14}{preset + mark:<16}{n:>12,}{n / pixels:>15.3f}  {fit.get('steps', '-'):>5}  {fit.get('lr', '-')}")
        print(f"{'':<14}{e.summary}")
    print(f"(* default preset; sizes for {args.channels}×{size[0]}×{size[1]} = {pixels:,} image values)")
    return 0
