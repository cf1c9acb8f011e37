"""Seconds per optimization step for each prior (and every DIP preset) at 128², 256² and 512².

    python bench/speed.py [--sizes 128 256 512] [--steps 3] [--device auto]

Writes bench/results/speed-<device>-<date>.json with the machine and versions.
"""
from __future__ import annotations

import argparse

import torch

import priors
from invert import FitConfig, fit, reconstruction
from invert.engine import resolve_device

from common import save_result


def seconds_per_step(name: str, preset: str, size: int, steps: int, device: str) -> float:
    p = priors.create(name, preset=preset, size=(size, size))
    target = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    cfg = FitConfig.build(p.fit_defaults, steps=steps + 1, device=device, guard=False)
    result = fit(p, reconstruction(target), cfg)
    # the first step pays for allocation and kernel selection; time the rest
    return (result.history[-1]["seconds"] - result.history[0]["seconds"]) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    rows = []
    for name in priors.available():
        for preset in priors.entry(name).presets:
            for size in args.sizes:
                sps = seconds_per_step(name, preset, size, args.steps, args.device)
                rows.append({"prior": name, "preset": preset, "size": size, "seconds_per_step": round(sps, 4)})
                print(f"{name:<13} {preset:<14} {size:>4}²  {sps:8.4f} s/step", flush=True)
    device = str(resolve_device(args.device))
    save_result("speed", {"device": device, "timed_steps": args.steps, "rows": rows})


if __name__ == "__main__":
    main()
