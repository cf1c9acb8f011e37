"""`invert restore denoise|sr|inpaint`: restore one image with a prior and no training data."""
from __future__ import annotations

import argparse
from typing import Any

import priors as prior_registry

from .. import files, images, memory, metrics, report, restore
from ..engine import FitConfig, fit, resolve_device
from ..errors import InvertError
from . import options
from .output import prepare_output_dir, say

# Used when IMAGE is left out: a sample photo shipped with scikit-image, and a degradation to undo.
SAMPLE = {"image": "skimage:chelsea", "crop": 128, "add_noise": 25.0, "factor": 4, "drop": 0.5}
FLAGS = {"sigma": "--add-noise"}  # the library's settings that this command names otherwise


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore", help="denoise, super-resolve or inpaint an image with a prior",
                       description="Restore an image by fitting a prior to it (no training data).")
    p.add_argument("task", choices=["denoise", "sr", "inpaint"])
    p.add_argument("image", nargs="?", help="image file or skimage:NAME; left out: a sample image "
                   f"({SAMPLE['image']}, {SAMPLE['crop']}² crop) with a synthetic degradation")
    p.add_argument("--out", default=None, help="output folder (default runs/<task>); must not exist unless --overwrite")
    p.add_argument("--overwrite", action="store_true", help="write into an existing, non-empty output folder")
    p.add_argument("--prior", default="dip", help="prior name (see `invert priors`)")
    p.add_argument("--preset", default=None, help="prior preset; default: the prior's preset for the task, if any")
    p.add_argument("--steps", type=options.COUNT, default=None, help="optimization steps (default: the preset's)")
    p.add_argument("--lr", type=options.LEARNING_RATE, default=None, help="learning rate (default: the preset's)")
    p.add_argument("--seed", type=options.SEED, default=0)
    p.add_argument("--no-auto-stop", dest="auto_stop", action="store_false",
                   help="run every step instead of stopping by itself (denoising: once the residual reaches the "
                        "noise level estimated from the input; otherwise: near the output-variance minimum)")
    p.add_argument("--device", type=options.device, default="auto", help="auto, cpu, cuda[:N] or mps")
    p.add_argument("--crop", type=options.COUNT, default=None, help="centre-crop the image to N×N first")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("denoise")
    g.add_argument("--add-noise", type=options.SIGMA, default=None, metavar="SIGMA",
                   help="IMAGE is clean: add Gaussian noise of this σ (0–255 scale) and report metrics against it")
    g = p.add_argument_group("sr")
    g.add_argument("--factor", type=options.whole(2), default=None, help="upscaling factor (e.g. 4 or 8)")
    g.add_argument("--from-hr", action="store_true", help="IMAGE is the high-resolution reference: downscale it first")
    g.add_argument("--kernel", default="lanczos2", choices=["lanczos2", "lanczos3", "bicubic"],
                   help="downsampling operator of the SR energy")
    g = p.add_argument_group("inpaint")
    g.add_argument("--mask", default=None, help="mask image: white = known pixel, black = missing")
    g.add_argument("--drop", type=options.FRACTION, default=None, metavar="FRACTION",
                   help="drop this fraction of pixels at random")
    p.set_defaults(run=run, flags=FLAGS)


def _apply_sample_defaults(args: argparse.Namespace) -> list[str]:
    if args.image is not None:
        return []
    args.image = SAMPLE["image"]
    args.crop = args.crop or SAMPLE["crop"]
    if args.task == "denoise" and args.add_noise is None:
        args.add_noise = SAMPLE["add_noise"]
    if args.task == "sr":  # the crop rounded down to a multiple of the factor, which must divide it
        args.factor, args.from_hr = args.factor or SAMPLE["factor"], True
        if args.crop >= args.factor:
            args.crop -= args.crop % args.factor
    if args.task == "inpaint" and args.mask is None and args.drop is None:
        args.drop = SAMPLE["drop"]
    return [f"no IMAGE given: using {args.image} ({args.crop}² crop) as the clean reference"]


def build_problem(args: argparse.Namespace) -> tuple[restore.Problem, list[str]]:
    image, notes = images.load_image(args.image)
    if args.crop:
        image = images.center_crop(image, args.crop)
    if args.task == "denoise":
        problem = restore.denoise(image, args.add_noise, args.seed)
    elif args.task == "sr":
        if args.factor is None:
            raise InvertError("sr needs --factor N (e.g. --factor 4)")
        problem = restore.super_resolve(image, args.factor, args.from_hr, args.kernel)
    else:
        if (args.mask is None) == (args.drop is None):
            raise InvertError("inpaint needs exactly one of --mask FILE and --drop FRACTION")
        mask = images.load_mask(args.mask, tuple(image.shape[-2:])) if args.mask else None
        problem = restore.inpaint(image, mask, args.drop, args.seed)
    return problem, notes + problem.notes


def metrics_of(problem: restore.Problem, result_image, factor: int | None) -> dict[str, Any]:
    ref = problem.reference
    if ref is None:
        return {}
    out = {"psnr": metrics.psnr(result_image, ref), "ssim": metrics.ssim(result_image, ref)}
    if problem.baseline is not None:
        out["psnr_input"] = metrics.psnr(problem.baseline, ref)
        out["ssim_input"] = metrics.ssim(problem.baseline, ref)
    if problem.task == "sr" and problem.channels == 3:
        out["psnr_y"] = metrics.psnr_y(result_image, ref, border=factor)
        out["psnr_y_input"] = metrics.psnr_y(problem.baseline, ref, border=factor)
    return out


def run(args: argparse.Namespace) -> int:
    notes = _apply_sample_defaults(args)
    preset = prior_registry.preset_for(args.prior, args.task, args.preset)
    prior_registry.preset(args.prior, preset)  # unknown prior/preset: fail before reading anything
    out = prepare_output_dir(f"runs/{args.task}" if args.out is None else args.out, args.overwrite)
    problem, more = build_problem(args)
    say(*notes, *more)

    def build():
        return prior_registry.create(args.prior, channels=problem.channels, size=problem.output_size,
                                     preset=preset, seed=args.seed)

    h, w = problem.output_size
    memory.ensure_fit_fits(build, resolve_device(args.device), f"fitting {args.prior} to a {w}×{h} image",
                           "crop or downscale it (--crop), or use a smaller prior")
    prior = build()
    config = FitConfig.build(prior.fit_defaults, steps=args.steps, lr=args.lr, seed=args.seed,
                             device=args.device, progress=not args.quiet, auto_stop=args.auto_stop)
    config.stop_residual = restore.stop_residual(problem, config)
    result = fit(prior, problem.energy, config, reference=problem.reference)
    if result.interrupted:
        say(f"interrupted at step {result.steps_run}; saving the result so far")
    elif result.stopped_by == "auto":
        say(f"auto-stop after {result.steps_run} steps: {result.stop_reason} (--no-auto-stop runs them all)")

    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        restored = result.output
        images.save_image(restored, out / "restored.png")
        images.save_image(problem.observation.clamp(0, 1), out / "degraded.png")
        scores = metrics_of(problem, restored, args.factor)
        shown_input = problem.baseline if problem.task == "sr" else problem.observation
        panels = [("bicubic" if problem.task == "sr" else "input", shown_input), (f"{args.prior} ({prior.preset})", restored)]
        if "psnr" in scores:
            panels = [(f"{panels[0][0]} {scores['psnr_input']:.2f} dB", shown_input),
                      (f"{panels[1][0]} {scores['psnr']:.2f} dB", restored),
                      ("reference", problem.reference)]
        report.grid(panels, out / "grid.png")
        report.learning_curves(result.history, out / "curves.png", f"{args.task} · {args.prior} ({prior.preset})",
                               output_step=result.chosen_step)
        record = {
            "task": args.task,
            "image": args.image,
            "prior": args.prior,
            "preset": prior.preset,
            "params": prior.num_parameters(),
            "size": list(problem.output_size),
            "channels": problem.channels,
            "seed": args.seed,
            "device": str(resolve_device(args.device)),
            **result.summary(),
            **scores,
            "notes": notes + more,
            "command": report.command_line(),
            "versions": report.versions(),
            "history": result.history,
        }
        report.write_json(record, out / "result.json")
    summary = f"{scores['psnr_input']:.2f} → {scores['psnr']:.2f} dB, " if "psnr" in scores else ""
    say(f"{args.task} done in {result.seconds:.1f} s ({result.steps_run} steps), {summary}results in {out}/")
    return 130 if result.interrupted or held else 0
