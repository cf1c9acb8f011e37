"""The noise level estimate against the truth: what auto-stop's discrepancy rule can stand on.

    python -m bench noise_estimate [--splits dev design] [--crops 96 128] [--camera 0.0025 0.005 0.01]
        [--sigma 15 25 50] [--block 16] [--quantile 0.3] [--dilation 3] [--name noise_estimate]

Per crop and noise (white Gaussian σ, or camera noise of the given level, `invert.camera`), the ratio of
`stopping.estimate_noise`'s σ to the true σ (the noise's RMS, measured against the clean image), for the
whole image and for its luminance (what the camera preset stops on); per noise kind and level the mean
ratio, the spread (standard deviation of the log ratio) and the worst cases. `--block`, `--quantile` and
`--dilation` replace the correlated-noise estimate's settings (stopping.BLOCK, BLOCK_QUANTILE,
CORRELATED_DILATION) to compare variants. Writes bench/results/NAME-cpu-<date>.json.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from statistics import mean, pstdev

import torch

from invert import camera, images, stopping
from invert.physics import add_gaussian_noise

from . import common

SMOKE = ["--splits", "dev", "--crops", "32", "--camera", "0.01", "--sigma", "25"]


def ratios(noisy: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    """Estimated σ over true σ, for the image and for its luminance."""
    out = {}
    for part, view in (("ratio", lambda x: x), ("luminance_ratio", stopping.luminance)):
        true = float((view(noisy) - view(clean)).pow(2).mean().sqrt())
        out[part] = round(stopping.estimate_noise(view(noisy)).sigma / true, 3)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", nargs="+", default=["dev", "design"], help="restoration splits (bench/common.py)")
    ap.add_argument("--crops", nargs="+", type=int, default=[96, 128])
    ap.add_argument("--camera", nargs="+", type=float, default=[0.0025, 0.005, 0.01], help="camera noise levels")
    ap.add_argument("--sigma", nargs="+", type=float, default=[15, 25, 50], help="white noise σ (0–255)")
    ap.add_argument("--block", type=int, default=None, help=f"block side (library: {stopping.BLOCK})")
    ap.add_argument("--quantile", type=float, default=None, help=f"block quantile (library: {stopping.BLOCK_QUANTILE})")
    ap.add_argument("--dilation", type=int, default=None,
                    help=f"tap spacing for correlated noise (library: {stopping.CORRELATED_DILATION})")
    ap.add_argument("--name", default="noise_estimate")
    args = ap.parse_args(argv)
    for setting, value in (("BLOCK", args.block), ("BLOCK_QUANTILE", args.quantile),
                           ("CORRELATED_DILATION", args.dilation)):
        if value is not None:
            setattr(stopping, setting, value)
    paths = [p for split in args.splits for p in common.SPLITS[f"restore-{split}"]]
    noises = [("white", s) for s in args.sigma] + [("camera", c) for c in args.camera]
    rows = []
    for path in paths:
        image, _ = images.load_image(str(common.DATA / path))
        if image.shape[1] != 3:
            continue
        for crop in args.crops:
            clean = images.center_crop(image, crop)
            for kind, level in noises:
                if kind == "white":
                    noisy, reference = add_gaussian_noise(clean, level / 255, 0), clean
                else:
                    noisy, reference = camera.camera_noise(clean, level, 0, None)
                rows.append({"image": path, "crop": crop, "noise": kind, "level": level, **ratios(noisy, reference)})
    summary = {}
    for kind, level in noises:
        for part in ("ratio", "luminance_ratio"):
            picked = [r for r in rows if (r["noise"], r["level"]) == (kind, level)]
            logs = [math.log(r[part]) for r in picked]
            worst = sorted(picked, key=lambda r: -abs(math.log(r[part])))[:3]
            summary[f"{kind} {level:g}/{part}"] = {
                "cases": len(picked), "mean_ratio": round(math.exp(mean(logs)), 3),
                "log_sd": round(pstdev(logs), 3), "min": min(r[part] for r in picked),
                "max": max(r[part] for r in picked),
                "worst": [f"{Path(r['image']).stem} {r['crop']}²: {r[part]}" for r in worst]}
            s = summary[f"{kind} {level:g}/{part}"]
            print(f"{kind:<6} {level:<7g} {part:<15} mean ratio {s['mean_ratio']:.2f}  log sd {s['log_sd']:.3f}  "
                  f"range {s['min']:.2f}–{s['max']:.2f}  worst {', '.join(s['worst'])}")
    common.save_result(args.name, {"device": "cpu", "splits": args.splits, "crops": args.crops,
                                   "settings": {"block": stopping.BLOCK, "quantile": stopping.BLOCK_QUANTILE,
                                                "dilation": stopping.CORRELATED_DILATION},
                                   "summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
