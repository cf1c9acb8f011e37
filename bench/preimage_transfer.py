"""Do deep-layer pre-images look natural? `invert compare` at the logits of the default model on natural
photos the tests never use, judged by an independent model (EfficientNet-Lite2).

    python bench/preimage_transfer.py [--data ../shared/data] [--priors dip,tv,deep_decoder] [--layer classifier]

Writes bench/results/preimage_transfer-<device>-<date>.json (the compare run's records and summary).
"""
from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

from PIL import Image

from invert import cli

from common import DATA, PREIMAGE_PHOTOS, save_result

IMAGES = PREIMAGE_PHOTOS["heldout"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--priors", default="dip,tv,deep_decoder")
    ap.add_argument("--layer", default="classifier")
    ap.add_argument("--steps", type=int, default=None)
    args = ap.parse_args()
    images = ",".join(str(args.data / rel) for rel in IMAGES)
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["compare", "--images", images, "--priors", args.priors, "--layer", args.layer,
                "--out", f"{tmp}/out", "--quiet"] + (["--steps", str(args.steps)] if args.steps else [])
        code = cli.main(argv)
        result = json.loads(Path(f"{tmp}/out/result.json").read_text())
        grid = Path(f"{tmp}/out/grid.png").read_bytes()
    if code != 0:
        raise SystemExit(code)
    path = save_result("preimage_transfer", {"device": result["device"], "model": result["model"],
                                             "transfer_model": result["transfer_model"], "layer": result["layer"],
                                             "images": IMAGES, "summary": result["summary"],
                                             "records": result["records"]})
    thumbnail = Image.open(io.BytesIO(grid)).convert("RGB")
    thumbnail.thumbnail((480, 740))  # a small PNG beside the JSON
    thumbnail.save(path.with_suffix(".png"), optimize=True)


if __name__ == "__main__":
    main()
