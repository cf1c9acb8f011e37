"""Pre-images of one photo at layers from shallow to the logits (DIP prior), with the Python API.

    python examples/preimages_across_layers.py [--image skimage:chelsea] [--steps 250] [--out layers.png]
"""
from __future__ import annotations

import argparse

from invert import zoo
from invert import report
from invert.preimages import Judges, invert_layer, prepare_target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="skimage:chelsea")
    ap.add_argument("--prior", default="dip")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--out", default="preimages_across_layers.png")
    args = ap.parse_args()

    model = zoo.load(zoo.DEFAULT_MODEL)  # offline EfficientNet-Lite0
    target, _ = prepare_target(args.image, model)
    panels = [("original", target)]
    for layer in zoo.default_layers(model.model, model.input_size):
        image, record, _ = invert_layer(Judges(model), target, layer, args.prior, steps=args.steps, progress=True)
        print(f"{layer:<12} feature loss {record['feature_loss']:.3f}  top-1 {record['top1']} "
              f"(original {record['top1_original']})  {record['seconds']:.0f} s")
        panels.append((f"{layer} ({record['feature_loss']:.2f})", image))
    report.grid(panels, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
