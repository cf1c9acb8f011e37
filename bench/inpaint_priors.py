"""Inpainting: every prior's quality against its fitting time, to choose `invert restore inpaint`'s default.

    python -m bench inpaint_priors [--crop 256] [--priors dip deep_decoder tv fourier maco pixel]
        [--max-steps 1200] [--seconds 60] [--threads N] [--plot docs/inpaint_priors.png]

Cases: the DIP paper's masks (`inpainting/kate_mask.png`, text; `inpainting/library_mask.png`, scribbles)
on their photos, and 50 % of the pixels dropped at random from the same photos, all as centre crops. The
photos are clean, so every case is scored against them. Per prior, one fit per case with auto-stop off and
the prior's inpainting preset as `invert restore` picks it, scored (PSNR, SSIM of the output with the
known pixels kept, as `invert restore` writes it) at steps 25, 50, 100, … up to the preset's budget or
`--max-steps`, with the fit's seconds there. The pick: the prior and step count with the best mean PSNR
among those whose mean time is within `--seconds`. Writes bench/results/inpaint_priors-<device>-<date>.json,
the PSNR-against-seconds plot and a grid of each prior's output on the text mask (PLOT with `_grid`).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from statistics import mean

import torch

from invert import images, metrics, priors, report, restoration
from invert.threads import set_threads

from . import common
from .common import plot, save_result, shown_along_fit

SMOKE = ["--crop", "32", "--priors", "tv", "pixel", "--max-steps", "50", "--plot", "{tmp}/inpaint.png"]
CASES = {  # name → (photo, mask or None for a random drop), from common.SPLITS["inpaint-masks"]
    "kate text": ("inpainting/kate.png", "inpainting/kate_mask.png"),
    "library scribbles": ("inpainting/library.png", "inpainting/library_mask.png"),
    "kate drop 50%": ("inpainting/kate.png", None),
    "library drop 50%": ("inpainting/library.png", None),
}
CHECKPOINTS = [25, 50, 100, 200, 400, 800, 1200, 1600, 2000, 3000]
DROP = 0.5


def problem_for(photo: str, mask: str | None, crop: int) -> restoration.Problem:
    """A case as `invert restore inpaint PHOTO --crop N (--mask MASK | --drop 0.5)` poses it, with the photo as the
    reference."""
    image, _ = images.load_image(str(common.DATA / photo))
    known = images.load_mask(str(common.DATA / mask), tuple(image.shape[-2:]), crop) if mask else None
    image = images.center_crop(image, crop)
    problem = restoration.inpaint(image, known, None if mask else DROP, seed=0)
    return restoration.with_reference(problem, image)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--priors", nargs="+", default=["dip", "deep_decoder", "tv", "fourier", "maco", "pixel"])
    ap.add_argument("--max-steps", type=int, default=1200, help="no fit runs longer than this")
    ap.add_argument("--seconds", type=float, default=60, help="the time a default may take, mean over cases")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--plot", type=Path, default=Path("docs/inpaint_priors.png"))
    args = ap.parse_args(argv)
    if args.threads:
        set_threads(args.threads)  # kept by every fit, unlike torch.set_num_threads
    problems = {name: problem_for(photo, mask, args.crop) for name, (photo, mask) in CASES.items()}
    rows, grid = [], []
    for prior in args.priors:
        preset = priors.preset_for(prior, "inpaint")
        budget = min(priors.preset(prior, preset).get("fit", {}).get("steps", args.max_steps), args.max_steps)
        steps = [s for s in CHECKPOINTS if s < budget] + [budget]
        for name, problem in problems.items():
            shots, _, done = shown_along_fit(problem, prior, steps)
            seconds = [h["seconds"] for h in done.fit.history]
            for step in steps:
                rows.append({"case": name, "prior": prior, "preset": preset, "step": step,
                             "seconds": round(seconds[step - 1], 2),
                             "psnr": round(metrics.psnr(shots[step], problem.reference), 2),
                             "ssim": round(metrics.ssim(shots[step], problem.reference), 4)})
            print(f"{prior:<13} {name:<18} " + "  ".join(f"{r['step']}: {r['psnr']:.2f} dB {r['seconds']:.0f}s"
                                                         for r in rows if r["prior"] == prior and r["case"] == name),
                  flush=True)
            if name == "kate text":
                grid.append((f"{prior}, {budget} steps: {rows[-1]['psnr']:.2f} dB", shots[budget].clamp(0, 1)))
    summary = []
    for prior in args.priors:
        for step in sorted({r["step"] for r in rows if r["prior"] == prior}):
            picked = [r for r in rows if r["prior"] == prior and r["step"] == step]
            if len(picked) == len(problems):
                summary.append({"prior": prior, "step": step, "seconds": round(mean(r["seconds"] for r in picked), 2),
                                "psnr": round(mean(r["psnr"] for r in picked), 2),
                                "ssim": round(mean(r["ssim"] for r in picked), 4)})
    within = [s for s in summary if s["seconds"] <= args.seconds]
    pick = max(within, key=lambda s: s["psnr"]) if within else None
    inputs = {name: round(metrics.psnr(p.observation, p.reference), 2) for name, p in problems.items()}
    for s in summary:
        print(f"{s['prior']:<13} {s['step']:>5} steps  {s['seconds']:>7.1f} s  {s['psnr']:.2f} dB  SSIM {s['ssim']:.3f}")
    print(f"pick within {args.seconds:g} s: {pick}")
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    with plot(args.plot, "seconds of fitting (mean over cases)", "PSNR, mean over cases (dB)",
              f"inpainting {args.crop}², {len(problems)} cases: quality against time", logx=True) as ax:
        for prior in args.priors:
            mine = [s for s in summary if s["prior"] == prior]
            ax.plot([s["seconds"] for s in mine], [s["psnr"] for s in mine], "o-", ms=3, label=prior)
    kate = problems["kate text"]
    report.grid([(f"input: {inputs['kate text']:.2f} dB", kate.observation), *grid, ("reference", kate.reference)],
                args.plot.with_name(f"{args.plot.stem}_grid{args.plot.suffix}"), columns=4)
    save_result("inpaint_priors", {"device": "cpu", "crop": args.crop, "cases": {k: list(v) for k, v in CASES.items()},
                                   "drop": DROP, "psnr_input": inputs, "seconds_limit": args.seconds,
                                   "threads": torch.get_num_threads(), "pick": pick, "summary": summary,
                                   "grid_panels": ["kate text input", *(title for title, _ in grid), "reference"],
                                   "rows": rows})


if __name__ == "__main__":
    main()
