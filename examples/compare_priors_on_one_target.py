"""Several priors on one target with equal budgets: which pre-image looks most natural? (Python API)

    python examples/compare_priors_on_one_target.py [--image skimage:coffee] [--layer blocks.6] [--steps 200]
"""
from __future__ import annotations

import argparse

from invert import zoo
from invert import report
from invert.preimages import Judges, invert_layer, prepare_target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="skimage:coffee")
    ap.add_argument("--layer", default="blocks.6")
    ap.add_argument("--priors", default="dip,deep_decoder,tv,pixel")
    ap.add_argument("--steps", type=int, default=200, help="the same budget for every prior")
    ap.add_argument("--out", default="compare_priors.png")
    args = ap.parse_args()

    judges = Judges(zoo.load(zoo.DEFAULT_MODEL), transfer=zoo.load("tf_efficientnet_lite2"))
    target, _ = prepare_target(args.image, judges.model)
    panels = [("original", target)]
    print(f"{'prior':<13}{'feature loss':>13}{'SSIM':>7}{'top-1':>7}{'Lite2 agrees':>14}{'seconds':>9}")
    for prior in args.priors.split(","):
        image, r, _ = invert_layer(judges, target, args.layer, prior, steps=args.steps)
        print(f"{prior:<13}{r['feature_loss']:>13.3f}{r['ssim_to_original']:>7.3f}{r['top1']:>7}"
              f"{str(r['transfer_agrees']):>14}{r['seconds']:>9.1f}")
        panels.append((prior, image))
    report.grid(panels, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
