"""`invert curves`: the DIP paper's Fig. 2 — how fast a prior fits a natural image, the image plus noise,
its pixels shuffled, and white noise, from the same initialization."""
from __future__ import annotations

import argparse

import torch

import priors as prior_registry

from .. import files, images, memory, report
from ..energies import reconstruction
from ..engine import FitConfig, fit, resolve_device
from . import options
from .output import prepare_output_dir, say

TARGETS = ("natural", "noisy", "shuffled", "noise")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curves", help="loss curves on a natural image, noisy, shuffled and pure noise (DIP Fig. 2)")
    p.add_argument("image", nargs="?", default="skimage:chelsea", help="image file or skimage:NAME")
    p.add_argument("--prior", default="dip")
    p.add_argument("--preset", default=None)
    p.add_argument("--steps", type=options.COUNT, default=1000)
    p.add_argument("--lr", type=options.LEARNING_RATE, default=None)
    p.add_argument("--crop", type=options.COUNT, default=96, help="centre crop N×N (default 96, sized for a CPU)")
    p.add_argument("--sigma", type=options.SIGMA, default=25, help="noise σ (0–255) of the noisy target")
    p.add_argument("--seed", type=options.SEED, default=0)
    p.add_argument("--device", type=options.device, default="auto", help="auto, cpu, cuda[:N] or mps")
    p.add_argument("--out", default="runs/curves")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run)


def make_targets(image: torch.Tensor, sigma: float, seed: int) -> dict[str, torch.Tensor]:
    """The four targets of the experiment, all drawn from `seed`."""
    g = torch.Generator().manual_seed(seed)
    flat = image.flatten(2)
    perm = torch.randperm(flat.shape[-1], generator=g)
    return {
        "natural": image,
        "noisy": (image + sigma / 255 * torch.randn(image.shape, generator=g)).clamp(0, 1),
        "shuffled": flat[..., perm].reshape(image.shape),
        "noise": torch.rand(image.shape, generator=g),
    }


def run(args: argparse.Namespace) -> int:
    prior_registry.preset(args.prior, args.preset)
    image, notes = images.load_image(args.image)
    image = images.center_crop(image, args.crop)
    out = prepare_output_dir(args.out, args.overwrite)
    say(*notes)

    def build() -> torch.nn.Module:  # the same initialization for every target
        return prior_registry.create(args.prior, channels=image.shape[1], size=tuple(image.shape[-2:]),
                                     preset=args.preset, seed=args.seed)

    h, w = image.shape[-2:]
    memory.ensure_fit_fits(build, resolve_device(args.device), f"fitting {args.prior} to a {w}×{h} image",
                           "choose a smaller --crop")
    losses: dict[str, list[float]] = {}
    preset, interrupted = None, False
    for name, target in make_targets(image, args.sigma, args.seed).items():
        prior = build()
        preset = prior.preset
        # a plain fit, as in the paper's figure: no input perturbation, no averaging, no back-off
        config = FitConfig.build(prior.fit_defaults, steps=args.steps, lr=args.lr, reg_noise_std=0.0, ema=0.0,
                                 guard=False, seed=args.seed, device=args.device, progress=not args.quiet)
        say(f"fitting {args.prior} to the {name} target")
        result = fit(prior, reconstruction(target), config)
        losses[name] = [h["loss"] for h in result.history]
        if result.interrupted:
            interrupted = True
            break
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.curves_by_run({k: [{"step": i + 1, "loss": v} for i, v in enumerate(vs)] for k, vs in losses.items()},
                             out / "curves.png", f"{args.prior} ({preset}): fitting time by target", log=True)
        report.write_json({**losses, "config": {"image": args.image, "crop": args.crop, "prior": args.prior,
                                                "preset": preset, "steps": args.steps, "sigma": args.sigma,
                                                "seed": args.seed, "interrupted": interrupted,
                                                "command": report.command_line(), "versions": report.versions()}},
                          out / "curves.json")
    finals = ", ".join(f"{k} {v[-1]:.2e}" for k, v in losses.items())
    say(f"final losses: {finals}; results in {out}/")
    return 130 if interrupted or held else 0
