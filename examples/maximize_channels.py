"""Activation maximization of a few channels of one layer, and of one class logit, with the Python API.

    python examples/maximize_channels.py [--layer blocks.4] [--channels 0,1,2] [--class 967] [--prior tv]
"""
from __future__ import annotations

import argparse

from invert import zoo
from invert import report
from invert.preimages import Judges, maximize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", default="blocks.4")
    ap.add_argument("--channels", default="0,1,2")
    ap.add_argument("--class", dest="class_index", type=int, default=967, help="ImageNet class (967: espresso)")
    ap.add_argument("--prior", default="tv")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--out", default="maximize_channels.png")
    args = ap.parse_args()

    judges = Judges(zoo.load(zoo.DEFAULT_MODEL))
    units = [(args.layer, int(c)) for c in args.channels.split(",")] + [("classifier", args.class_index)]
    panels = []
    for layer, channel in units:
        image, record, _ = maximize(judges, layer, channel, args.prior, steps=args.steps, progress=True)
        print(f"{layer}[{channel}]: activation {record['activation']:.2f}, top-1 {record['top1']}")
        panels.append((f"{layer}[{channel}]", image))
    report.grid(panels, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
