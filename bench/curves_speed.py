"""`invert curves` measured: how many times the natural image's steps noise and shuffled pixels need.

    python -m bench curves_speed [--photos smooth=denoising/kodim03.png textured=sr/Set14/baboon.png]
        [--sizes 64 128 256] [--presets fast paper-denoise] [--steps 1000] [--levels 2 5 10] [--threads N]
        [--name curves_speed]

Per photo (centre crop), size and DIP preset: the four fits of `invert curves` (natural, noisy, shuffled,
white noise, from one initialization), the steps each needs to reach each LEVEL × the natural image's lowest
loss (`curves.fitting_speed`; the first level is printed), their ratios to the natural image's, and the
seconds of the four fits. A ratio
marked ">" is a lower bound: that target never reached the level within the budget.
Writes bench/results/NAME-<device>-<date>.json.
"""
from __future__ import annotations

import argparse

import torch

from invert import curves, images
from invert.threads import set_threads

from . import common

SMOKE = ["--photos", "smooth=sr/Set5/baby.png", "--sizes", "16", "--presets", "fast", "--steps", "5"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="+", default=["smooth=denoising/kodim03.png", "textured=sr/Set14/baboon.png"],
                    help="LABEL=PATH under the data folder")
    ap.add_argument("--sizes", nargs="+", type=int, default=[64, 128, 256])
    ap.add_argument("--presets", nargs="+", default=["fast", "paper-denoise"], help="DIP presets")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--levels", nargs="+", type=float, default=[curves.LEVEL_FACTOR, 5, 10])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--name", default="curves_speed")
    args = ap.parse_args(argv)
    if args.threads:
        set_threads(args.threads)  # kept by every fit, unlike torch.set_num_threads
    rows = []
    for spec in args.photos:
        label, path = spec.split("=", 1)
        photo, _ = images.load_image(str(common.DATA / path))
        for size in args.sizes:
            image = images.center_crop(photo, size)
            for preset in args.presets:
                fits, _, _ = curves.fit_targets(image, "dip", preset=preset, steps=args.steps)
                losses = {name: [h["loss"] for h in fit.history] for name, fit in fits.items()}
                speeds = [curves.fitting_speed(losses, level) for level in args.levels]
                rows.append({"photo": label, "path": path, "size": size, "preset": preset, "steps": args.steps,
                             "seconds": round(sum(f.seconds for f in fits.values()), 1),
                             "final_loss": {k: v[-1] for k, v in losses.items()}, "speeds": speeds})
                print(f"{label:<9} {size:>4}² {preset:<14} {rows[-1]['seconds']:>7.1f} s  {curves.speed_line(speeds[0])}",
                      flush=True)
    common.save_result(args.name, {"device": "cpu", "threads": torch.get_num_threads(), "levels": args.levels,
                                   "rows": rows})


if __name__ == "__main__":
    main()
