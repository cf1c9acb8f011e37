"""Denoise one image with every registered prior and show them side by side (the Python API, no CLI).

    python examples/compare_priors_denoising.py [IMAGE] [--sigma 25] [--crop 128] [--out compare.png]

IMAGE defaults to scikit-image's chelsea (a cat); any file or `skimage:NAME` works.
"""
from __future__ import annotations

import argparse

from invert import priors
from invert import FitConfig, fit, metrics, report, restoration
from invert.engine import stop_rule
from invert.images import center_crop, load_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", default="skimage:chelsea")
    ap.add_argument("--sigma", type=float, default=25)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--out", default="compare_priors.png")
    args = ap.parse_args()

    clean, _ = load_image(args.image)
    clean = center_crop(clean, args.crop)
    problem = restoration.denoise(clean, sigma=args.sigma, seed=0)
    panels = [(f"noisy {metrics.psnr(problem.observation, clean):.2f} dB", problem.observation)]
    for name in priors.available():
        preset = priors.preset_for(name, "denoise")  # each prior's denoising preset, as `invert restore` picks it
        prior = priors.create(name, channels=problem.channels, size=problem.output_size, preset=preset)
        config = FitConfig.build(prior.fit_defaults, progress=True, auto_stop=True)  # as `invert restore` does
        config.stop_residual = restoration.stop_residual(problem, config)
        result = fit(prior, problem.energy, config, reference=clean, stop=stop_rule(config, problem.energy))
        score = metrics.psnr(result.output, clean)
        print(f"{name:<13} {preset:<8} {prior.num_parameters():>9,} parameters  {score:6.2f} dB  {result.seconds:6.1f} s")
        panels.append((f"{name} {score:.2f} dB", result.output))
    panels.append(("clean", clean))
    report.grid(panels, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
