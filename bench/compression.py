"""Deep Decoder as a codec against JPEG: PSNR against file size for several decoder widths k, with
JPEG (PIL) at the closest file size on the same plot.

    python -m bench compression [--image deep_decoder/sf4_rgb.png] [--crop 256] [--widths 8,16,32,64]

Writes bench/results/compression-<device>-<date>.json and .png; the PSNR is measured on the image that
`invert decompress` re-renders from each file.
"""
from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from invert import codec, metrics
from invert.images import center_crop, load_image, save_image, to_uint8

from .common import DATA, SPLITS, plot, save_result

SMOKE = ["--data", "{data}", "--crop", "32", "--widths", "4", "--steps", "3"]


def jpeg_at_size(image: np.ndarray, target_bytes: int) -> tuple[int, bytes]:
    """The JPEG quality whose file is closest to `target_bytes`, and that file."""
    best: tuple[int, bytes] | None = None
    for quality in range(1, 96):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        if best is None or abs(buffer.tell() - target_bytes) < abs(len(best[1]) - target_bytes):
            best = (quality, buffer.getvalue())
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--image", default=SPLITS["compression"][0])
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--widths", default="8,16,32,64")
    ap.add_argument("--steps", type=int, default=1500)
    args = ap.parse_args(argv)
    image, _ = load_image(args.data / args.image)
    image = center_crop(image, args.crop)
    pixels = to_uint8(image)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.png"
        save_image(image, src)
        for k in args.widths.split(","):
            packed = Path(tmp) / f"k{k}.ddc"
            packed.write_bytes(codec.compress(image, width=int(k), steps=args.steps)[0])
            decoded = codec.decompress(packed)  # what `invert decompress` re-renders from the file
            size = packed.stat().st_size
            quality, jpeg_file = jpeg_at_size(pixels, size)
            jpeg_path = Path(tmp) / f"k{k}.jpg"
            jpeg_path.write_bytes(jpeg_file)
            row = {"width": int(k), "bytes": size, "psnr": round(metrics.psnr(decoded, image), 2),
                   "jpeg_quality": quality, "jpeg_bytes": len(jpeg_file),
                   "jpeg_psnr": round(metrics.psnr(load_image(jpeg_path)[0], image), 2),
                   "png_bytes": (src.stat().st_size)}
            rows.append(row)
            print(row, flush=True)
    path = save_result("compression", {"device": "cpu", "image": args.image, "crop": args.crop, "steps": args.steps,
                                       "rows": rows})
    with plot(path.with_suffix(".png"), "file size (KiB)", "PSNR (dB)", f"{args.image}, {args.crop}² crop") as ax:
        ax.plot([r["bytes"] / 1024 for r in rows], [r["psnr"] for r in rows], "o-", label="Deep Decoder (float16)")
        ax.plot([r["jpeg_bytes"] / 1024 for r in rows], [r["jpeg_psnr"] for r in rows], "s--", label="JPEG (PIL)")
        for r in rows:
            ax.annotate(f"k={r['width']}", (r["bytes"] / 1024, r["psnr"]), fontsize=7)


if __name__ == "__main__":
    main()
