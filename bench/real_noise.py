"""Denoising a real photo, whose noise is the camera's: the DIP paper's no-flash photo of a cave
(`flash_no_flash/cave01_01_noflash.jpg`), a centre crop, restored as `invert restore denoise` does it.

    python -m bench real_noise [--crop 192] [--priors dip tv] [--out docs/real_noise.png] [--threads N]
        [--strip 250 500 1000 1500]

There is no clean reference, so no PSNR: per prior the run records the noise level auto-stop used (and
whether it was estimated as correlated noise), whether auto-stop fired, the steps and seconds, and the
colour noise left — the robust σ of the two chroma channels (R − G, R + G − 2B, orthonormal) at taps 3 px
apart in the flattest blocks, the measure of coloured blotches — beside the input's. The grid shows the
noisy crop, each prior's output and the flash photo of the same scene (a guide to what is there; its
lighting differs). `--strip STEP …` also runs DIP as `invert restore` sets it up with auto-stop off and saves
its shown output at those steps (OUT with `_steps` added), with each step's luminance residual and colour
noise in the JSON: where along the fit the noise comes back. Writes bench/results/real_noise-<device>-<date>.json
and the grid.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from invert import images, restoration
from invert.commands.restore import stop_reason
from invert.priors.regularizers import chroma
from invert.stopping import BLOCK_QUANTILE, block_sigmas, luminance
from invert.threads import set_threads

from .common import DATA, save_result, shown_along_fit

SMOKE = ["--data", "{data}", "--crop", "32", "--steps", "3", "--out", "{tmp}/real_noise.png", "--photo", "sr/Set5/baby.png",
         "--flash", "sr/Set5/bird.png", "--strip", "1", "3"]
def chroma_noise(image: torch.Tensor) -> float:
    """Colour noise on the 0–255 scale: the correlated-noise estimate on the chroma channels."""
    return 255 * float(block_sigmas(chroma(image)).quantile(BLOCK_QUANTILE, dim=1).pow(2).mean().sqrt())


def strip(problem: restoration.Problem, steps: list[int]) -> tuple[list[torch.Tensor], list[dict]]:
    """DIP's shown output at `steps` of one fit with auto-stop off, with the luminance residual (of the raw
    output, as auto-stop measures it) and the colour noise."""
    shots, raws, _ = shown_along_fit(problem, "dip", steps)
    rows = []
    for step, shown in sorted(shots.items()):
        residual = float((luminance(raws[step]) - luminance(problem.observation)).pow(2).mean())
        rows.append({"step": step, "luminance_residual": round(residual, 6), "chroma_noise": round(chroma_noise(shown), 2)})
        print(rows[-1], flush=True)
    return [shots[s] for s in sorted(shots)], rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder of the papers' test images (env INVERT_DATA)")
    ap.add_argument("--photo", default="flash_no_flash/cave01_01_noflash.jpg")
    ap.add_argument("--flash", default="flash_no_flash/cave01_00_flash.jpg")
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--priors", nargs="*", default=["dip", "tv"], help="priors to restore with (none: --strip only)")
    ap.add_argument("--steps", type=int, default=None, help="a step budget (default: each preset's)")
    ap.add_argument("--out", type=Path, default=Path("docs/real_noise.png"))
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--strip", nargs="+", type=int, default=[], metavar="STEP",
                    help="DIP's output at these steps of a fit with auto-stop off (OUT_steps.png)")
    ap.add_argument("--name", default="real_noise", help="result file name: bench/results/NAME-<device>-<date>.json")
    args = ap.parse_args(argv)
    if args.threads:
        set_threads(args.threads)  # kept by every fit, unlike torch.set_num_threads
    noisy = images.center_crop(images.load_image(str(args.data / args.photo))[0], args.crop)
    flash = images.center_crop(images.load_image(str(args.data / args.flash))[0], args.crop)
    problem = restoration.denoise(noisy)
    sigma, source = restoration.noise_level(problem)
    rows, panels = [], [noisy]
    for prior in args.priors:
        done = restoration.restore(problem, prior, steps=args.steps)
        r = done.record
        rows.append({"prior": prior, "preset": r["preset"], "stopped_by": r["stopped_by"], "steps_run": r["steps_run"],
                     "output_step": r["output_step"], "seconds": r["seconds"], "stop_reason": stop_reason(done.fit),
                     "chroma_noise": round(chroma_noise(done.image), 2)})
        panels.append(done.image)
        print(rows[-1], flush=True)
    panels.append(flash)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.priors:
        images.save_image(torch.cat([p.clamp(0, 1) for p in panels], dim=-1), args.out)
    strip_rows = []
    if args.strip:
        shots, strip_rows = strip(problem, sorted(args.strip))
        images.save_image(torch.cat([noisy, *(s.clamp(0, 1) for s in shots)], dim=-1),
                          args.out.with_name(f"{args.out.stem}_steps{args.out.suffix}"))
    save_result(args.name, {"device": "cpu", "photo": args.photo, "crop": args.crop,
                               "noise_sigma": round(sigma * 255, 2), "noise_sigma_source": source,
                               "chroma_noise_input": round(chroma_noise(noisy), 2), "rows": rows,
                               "strip": strip_rows, "grid": str(args.out) if args.priors else None, "panels": ["noisy", *args.priors, "flash photo (guide)"]})


if __name__ == "__main__":
    main()
