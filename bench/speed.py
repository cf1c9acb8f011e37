"""Seconds per optimization step for each prior and preset at 128², 256² and 512², per speed variant.

    python -m bench speed [--sizes 128 256 512] [--steps 3] [--device auto] [--only dip:paper-denoise]
                          [--variants fp32 channels_last amp amp+channels_last] [--whole-fit 3000]

`--whole-fit N` also times one complete N-step fit of the paper denoising preset at the largest size,
in fp32 and in the variant that stepped fastest there (the GPU goal: 3000 steps at 512² in 15 s). Writes bench/results/speed-<device>-<date>.json.
"""
from __future__ import annotations

import argparse

import torch

from invert import priors
from invert import FitConfig, fit, reconstruction
from invert.engine import resolve_device

from .common import save_result

SMOKE = ['--sizes', '32', '--steps', '1', '--only', 'dip:fast', 'tv:denoise']

VARIANTS = {"fp32": {}, "channels_last": {"channels_last": True}, "amp": {"amp": True},
            "amp+channels_last": {"amp": True, "channels_last": True}}


def timed_fit(name: str, preset: str, size: int, steps: int, device: str, variant: str):
    p = priors.create(name, preset=preset, size=(size, size))
    target = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    cfg = FitConfig.build(p.fit_defaults, steps=steps, device=device, guard=False, **VARIANTS[variant])
    return fit(p, reconstruction(target), cfg)


def seconds_per_step(name: str, preset: str, size: int, steps: int, device: str, variant: str) -> float:
    # the first steps pay for allocation and kernel selection; time the rest
    warm = 3 if resolve_device(device).type == "cuda" else 1
    history = timed_fit(name, preset, size, steps + warm, device, variant).history
    return (history[-1]["seconds"] - history[warm - 1]["seconds"]) / steps


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--only", nargs="+", default=None, metavar="PRIOR:PRESET", help="default: every prior and preset")
    ap.add_argument("--variants", nargs="+", default=["fp32"], choices=list(VARIANTS))
    ap.add_argument("--whole-fit", type=int, default=0, metavar="N")
    args = ap.parse_args(argv)
    pairs = [tuple(s.split(":")) for s in args.only] if args.only else [
        (name, preset) for name in priors.available() for preset in priors.entry(name).presets]
    rows = []
    for (name, preset), size, variant in ((pair, s, v) for pair in pairs for s in args.sizes for v in args.variants):
        sps = seconds_per_step(name, preset, size, args.steps, args.device, variant)
        rows.append({"prior": name, "preset": preset, "size": size, "variant": variant,
                     "seconds_per_step": round(sps, 5)})
        print(f"{name:<13} {preset:<14} {size:>4}² {variant:<18} {sps:8.4f} s/step", flush=True)
    whole = []
    size = max(args.sizes)
    at_size = [r for r in rows if r["size"] == size and (r["prior"], r["preset"]) == ("dip", "paper-denoise")]
    fastest = min(at_size, key=lambda r: r["seconds_per_step"])["variant"] if at_size else "fp32"
    for variant in dict.fromkeys(["fp32", fastest]) if args.whole_fit else []:
        result = timed_fit("dip", "paper-denoise", size, args.whole_fit, args.device, variant)
        whole.append({"preset": "paper-denoise", "size": size, "variant": variant, "steps": args.whole_fit,
                      "seconds": round(result.seconds, 2)})
        print(f"whole fit: dip paper-denoise {size}², {args.whole_fit} steps, {variant}: {result.seconds:.1f} s", flush=True)
    device = str(resolve_device(args.device))
    name = torch.cuda.get_device_name() if device.startswith("cuda") else None
    save_result("speed", {"device": device, "gpu": name, "timed_steps": args.steps, "rows": rows, "whole_fits": whole})


if __name__ == "__main__":
    main()
