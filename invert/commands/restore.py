"""`invert restore denoise|sr|inpaint`: restore one image with a prior and no training data."""
from __future__ import annotations

import argparse
import glob
from pathlib import Path
from typing import TYPE_CHECKING

from .. import noises
from ..defaults import DEFAULT_PRIORS
from ..errors import InvertError
from . import options
from .output import prepare_output_dir, say

if TYPE_CHECKING:
    from ..restore import Problem

# Used when IMAGE is left out: a sample photo shipped with scikit-image, and a degradation to undo.
SAMPLE = {"image": "skimage:chelsea", "crop": 128, "add_noise": "25", "factor": 4, "drop": 0.5}
# the library's settings that this command names otherwise
FLAGS = {"sigma": "--add-noise", "camera": "--add-noise", "jpeg_quality": "--add-noise", "noise": "--add-noise",
         "noise_level": "--noise-level"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore", help="denoise, super-resolve or inpaint an image with a prior",
                       description="Restore an image by fitting a prior to it (no training data).",
                       parents=[options.shared("runs/<task>")],
                       **options.example("invert restore denoise", "invert restore denoise photo.png --add-noise 25 "
                                         "--prior deep_decoder", "invert restore denoise photo.png --add-noise camera:0.0025",
                                         "invert restore sr photo.png --factor 4 --from-hr",
                                         "invert restore inpaint photo.png --mask mask.png"))
    p.add_argument("task", choices=["denoise", "sr", "inpaint"])
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image file or skimage:NAME; left out: a sample image "
                   f"({SAMPLE['image']}, {SAMPLE['crop']}² crop) with a synthetic degradation; several images, a "
                   "glob or a folder run as a study (see `invert study`)")
    p.add_argument("--seeds", type=options.seeds, default=None, metavar="S,S,...",
                   help="several seeds (the run is then a study)")
    p.add_argument("--prior", default=None, help="prior name (see `invert priors`); default: "
                   + ", ".join(f"{prior} for {task}" for task, prior in DEFAULT_PRIORS.items()))
    p.add_argument("--preset", default=None, help="prior preset; default: the prior's preset for the task, if any")
    p.add_argument("--steps", type=options.COUNT, default=None, help="optimization steps (default: the preset's)")
    p.add_argument("--lr", type=options.LEARNING_RATE, default=None, help="learning rate (default: the preset's)")
    p.add_argument("--no-auto-stop", dest="auto_stop", action="store_false",
                   help="run every step instead of stopping by itself (denoising: once the residual reaches the "
                        "noise level estimated from the input; otherwise: near the output-variance minimum)")
    p.add_argument("--crop", type=options.COUNT, default=None, help="centre-crop the image to N×N first")
    p.add_argument("--reference", default=None, metavar="FILE",
                   help="the clean image to score against (cropped as IMAGE is); without it, scores only when the "
                        "degradation was synthesized (--add-noise, --from-hr, --drop)")
    g = p.add_argument_group("denoise")
    g.add_argument("--add-noise", type=options.noise, default=None, metavar="SIGMA|camera[:LEVEL][:jpegQ]",
                   help="IMAGE is clean: add white Gaussian noise of σ SIGMA (0–255 scale), or camera noise "
                        "(Poisson–Gaussian on the sensor's mosaic, then demosaicked and gamma-corrected; LEVEL: "
                        "shot noise from 0.0001 to 0.012, default 0.0025; jpegQ: store as JPEG of quality Q), "
                        "and report metrics against the clean image")
    g.add_argument("--noise-level", type=options.SIGMA, default=None, metavar="SIGMA",
                   help="the input's noise σ (0–255 scale) for auto-stop, instead of estimating it")
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


def build_problem(args: argparse.Namespace) -> tuple[Problem, list[str]]:
    from .. import images, restore

    image, notes = images.load_image(args.image)
    uncropped = tuple(image.shape[-2:])
    if args.crop:
        image = images.center_crop(image, args.crop)
    if args.task != "denoise" and (args.add_noise or args.noise_level):
        raise InvertError("--add-noise and --noise-level are for denoising; leave them out for sr and inpaint")
    if args.task == "denoise":
        noise = noises.parse_noise(args.add_noise) if args.add_noise else {}
        problem = restore.denoise(image, seed=args.seed, noise_level=args.noise_level, **noise)
    elif args.task == "sr":
        if args.factor is None:
            raise InvertError("sr needs --factor N (e.g. --factor 4)")
        problem = restore.super_resolve(image, args.factor, args.from_hr, args.kernel)
    else:
        if (args.mask is None) == (args.drop is None):
            raise InvertError("inpaint needs exactly one of --mask FILE and --drop FRACTION")
        mask = images.load_mask(args.mask, uncropped, args.crop) if args.mask else None
        problem = restore.inpaint(image, mask, args.drop, args.seed)
    if args.reference:
        reference, _ = images.load_image(args.reference)
        problem = restore.with_reference(problem, images.center_crop(reference, args.crop) if args.crop else reference)
    elif problem.reference is None:
        notes.append("no clean reference: no PSNR or SSIM (give --reference FILE to score against one)")
    return problem, notes + problem.notes


def run(args: argparse.Namespace) -> int:
    from invert import priors as prior_registry

    from .. import files, report, restore

    args.prior = args.prior or DEFAULT_PRIORS[args.task]
    if len(args.images) > 1 or args.seeds or any(Path(i).is_dir() or glob.has_magic(i) for i in args.images):
        return run_batch(args)
    args.image = args.images[0] if args.images else None
    notes = _apply_sample_defaults(args)
    preset = prior_registry.preset_for(args.prior, args.task, args.preset)
    prior_registry.preset(args.prior, preset)  # unknown prior/preset: fail before reading anything
    out = prepare_output_dir(args.out.replace("<task>", args.task), args.overwrite)
    problem, more = build_problem(args)
    say(*notes, *more)
    done = restore.restore(problem, args.prior, preset=args.preset, steps=args.steps, lr=args.lr, seed=args.seed,
                           device=args.device, auto_stop=args.auto_stop, progress=not args.quiet)
    result = done.fit
    if result.config.stop_residual is not None:  # the discrepancy rule: say which noise level it stopped at
        say(f"noise level σ {done.record['noise_sigma']:.3g}/255 ({done.record['noise_sigma_source']})"
            + ("" if done.record["noise_sigma_source"] == "given" else "; --noise-level S gives it by hand"))
    if result.interrupted:
        say(f"interrupted at step {result.steps_run}; saving the result so far")
    elif result.stopped_by == "auto":
        say(f"auto-stop after {result.steps_run} steps: {result.stop_reason} (--no-auto-stop runs them all)")
    elif result.watched:  # the budget ran out first: say so, and why
        why = ("the residual never fell to that noise level; give --noise-level or more --steps"
               if result.config.stop_residual is not None and result.noise_level_step is None else result.stop_reason)
        say(f"auto-stop did not fire in {result.steps_run} steps: {why}")
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.write_restoration(done, out, {"image": args.image, "notes": notes + more})
    scores = done.record
    summary = f"{scores['psnr_input']:.2f} → {scores['psnr']:.2f} dB, " if "psnr" in scores else ""
    say(f"{args.task} done in {result.seconds:.1f} s ({result.steps_run} steps), {summary}results in {out}/")
    return 130 if result.interrupted or held else 0


BATCH_DEGRADATION = {"denoise": "add_noise", "sr": "factor", "inpaint": "drop"}  # what each task's study needs


def run_batch(args: argparse.Namespace) -> int:
    """Several images or seeds: one study (a clean reference per image, the degradation synthesized)."""
    from .. import studies
    from .study import run_spec

    given = studies.expand_images(args.images or [SAMPLE["image"]], Path.cwd(), "the images given")
    degradation = getattr(args, BATCH_DEGRADATION[args.task])
    if degradation is None or (args.task == "sr" and not args.from_hr):
        need = {"denoise": "--add-noise SIGMA", "sr": "--factor N --from-hr", "inpaint": "--drop FRACTION"}[args.task]
        raise InvertError(f"several images or seeds are scored against clean references: give {need}")
    for flag, value in (("--mask", args.mask), ("--preset", args.preset), ("--lr", args.lr),
                        ("--no-auto-stop", not args.auto_stop), ("--noise-level", args.noise_level),
                        ("--reference", args.reference)):
        if value:
            raise InvertError(f"{flag} works on one image and seed; for several, leave it out")
    spec = studies.Spec("restore", [args.prior], args.seeds or [args.seed],
                        images=given,
                        steps=args.steps, restore=args.task, degradation=degradation, crop=args.crop,
                        device=args.device)
    folder = args.out.replace("<task>", args.task)
    return run_spec(spec, folder, overwrite=args.overwrite or (Path(folder) / studies.MANIFEST).is_file(),
                    quiet=args.quiet)
