"""Do deep-layer pre-images look natural? `invert compare` at the logits of the default model on natural
photos the tests never use, judged by an independent model (EfficientNet-Lite2).

    python -m bench preimage_transfer [--data ../shared/data] [--priors dip,tv,deep_decoder] [--layer classifier]

Writes bench/results/preimage_transfer-<device>-<date>.json (the records and their summary, as `invert compare`
makes them) and a thumbnail of the grid.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from invert import preimages, report, zoo
from invert.engine import resolve_device

from .common import DATA, SPLITS, save_result

SMOKE = ["--data", "{data}", "--priors", "tv", "--steps", "2", "--images", "1"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--priors", default="dip,tv,deep_decoder")
    ap.add_argument("--layer", default="classifier")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--images", type=int, default=None, help="only the first N photos")
    args = ap.parse_args(argv)
    images = SPLITS["preimage-heldout"][: args.images]
    model = zoo.load(zoo.DEFAULT_MODEL)
    judges = preimages.Judges(model, zoo.load("tf_efficientnet_lite2"))
    targets = [preimages.prepare_target(str(args.data / rel), model)[0] for rel in images]
    priors = args.priors.split(",")

    def fit_key(key: tuple[int, str]):
        image, record, result = preimages.invert_layer(judges, targets[key[0]], args.layer, key[1], steps=args.steps)
        record["image"] = images[key[0]]
        return image, record, result

    cells, _ = preimages.fit_cells([(i, p) for i in range(len(targets)) for p in priors], fit_key)
    summary = report.summarize_comparison([c.record for c in cells])
    path = save_result("preimage_transfer", {"device": str(resolve_device("auto")), "model": model.name,
                                             "transfer_model": judges.transfer.name, "layer": args.layer,
                                             "images": images, "summary": summary,
                                             "records": [c.record for c in cells]})
    with tempfile.TemporaryDirectory() as tmp:
        report.comparison(cells, model, targets, priors, summary, Path(tmp))
        thumbnail = Image.open(Path(tmp) / "grid.png").convert("RGB")
    thumbnail.thumbnail((480, 740))  # a small PNG beside the JSON
    thumbnail.save(path.with_suffix(".png"), optimize=True)


if __name__ == "__main__":
    main()
