"""`invert curves`: the DIP paper's Fig. 2 — how fast a prior fits a natural image, the image plus noise,
its pixels shuffled, and white noise, from the same initialization."""
from __future__ import annotations

import argparse

from ..defaults import LEVEL_FACTOR
from . import options
from .output import prepare_output_dir, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curves", help="loss curves on a natural image, noisy, shuffled and pure noise (DIP Fig. 2)",
                       parents=[options.shared("runs/curves")],
                       **options.example("invert curves", "invert curves photo.png --prior deep_decoder --steps 2000"))
    p.add_argument("image", nargs="?", default="skimage:chelsea", help="image file or skimage:NAME")
    p.add_argument("--prior", default="dip", help="prior name (see `invert priors`)")
    p.add_argument("--preset", default=None,
                   help="prior preset (default: the prior's `curves` preset if it has one, else its default)")
    p.add_argument("--steps", type=options.COUNT, default=1000)
    p.add_argument("--lr", type=options.LEARNING_RATE, default=None)
    p.add_argument("--crop", type=options.whole(8), default=96, help="centre crop N×N, at least 8 (default 96, sized "
                                                                     "for a CPU)")
    p.add_argument("--sigma", type=options.SIGMA, default=25, help="noise σ (0–255) of the noisy target")
    p.add_argument("--level", type=options.LEVEL_FACTOR, default=LEVEL_FACTOR, metavar="FACTOR",
                   help="report the steps each target needs to reach FACTOR × the natural image's lowest loss "
                        f"(default {LEVEL_FACTOR:g})")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from invert import priors as prior_registry

    from .. import curves, files, images, report
    from ..provenance import run_info, write_json
    from ..restoration import check_size

    prior_registry.preset(args.prior, args.preset)
    image, notes = images.load_image(args.image)
    image = images.center_crop(image, args.crop)
    check_size(image, "image (after --crop)")
    out = prepare_output_dir(args.out, args.overwrite, inputs=[args.image])
    say(*notes)
    fits, preset, interrupted = curves.fit_targets(
        image, args.prior, preset=args.preset, steps=args.steps, lr=args.lr, sigma=args.sigma, seed=args.seed,
        device=args.device, progress=not args.quiet, on_start=lambda name: say(f"fitting {args.prior} to the {name} target"))
    losses = {name: [h["loss"] for h in result.history] for name, result in fits.items()}
    speed = curves.fitting_speed(losses, args.level) if "natural" in losses else None
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.curves_by_run({k: [{"step": i + 1, "loss": v} for i, v in enumerate(vs)] for k, vs in losses.items()},
                             out / "curves.png", f"{args.prior} ({preset}): steps to the dashed level (●)", log=True,
                             level=speed and speed["level"],
                             reached=speed and {k: t["steps"] for k, t in speed["targets"].items()})
        write_json({**losses, "speed": speed, "config": {"image": args.image, "crop": args.crop, "prior": args.prior,
                                                         "preset": preset, "steps": args.steps, "sigma": args.sigma,
                                                         "seed": args.seed, "interrupted": interrupted, **run_info()}},
                   out / "curves.json")
    if speed:
        say(curves.speed_line(speed))
    finals = ", ".join(f"{k} {v[-1]:.2e}" for k, v in losses.items())
    say(f"final losses: {finals}; results in {out}/")
    return 130 if interrupted or held else 0
