"""How much pure noise can a prior fit? Heckel & Hand argue an under-parameterized Deep Decoder can only
fit a limited part of it. Fit i.i.d. uniform noise with decoders of growing width (and with DIP and
pixels) and report the fraction of the noise energy fitted against parameters per image value.

    python -m bench noise_fitting [--size 64] [--steps 1500]

Writes bench/results/noise_fitting-<device>-<date>.json and .png.
"""
from __future__ import annotations

import argparse

import torch

from invert import priors
from invert import FitConfig, fit, reconstruction

from .common import plot, save_result

SMOKE = ['--size', '16', '--steps', '3', '--widths', '4']


def fitted_fraction(x: torch.Tensor, noise: torch.Tensor) -> float:
    """1 − ‖x − n‖² / ‖n − mean(n)‖²: 0 for a flat image, 1 for a perfect fit."""
    return float(1 - ((x - noise) ** 2).sum() / ((noise - noise.mean()) ** 2).sum())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--widths", default="4,8,16,32,64,128")
    args = ap.parse_args(argv)
    noise = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    values = noise.numel()
    runs = [("deep_decoder", None, {"width": int(k)}) for k in args.widths.split(",")]
    runs += [("dip", "fast", {}), ("dip", "paper-denoise", {}), ("pixel", None, {})]
    rows = []
    for name, preset, kw in runs:
        prior = priors.create(name, size=(args.size, args.size), preset=preset, **kw)
        result = fit(prior, reconstruction(noise), FitConfig(steps=args.steps, lr=0.01))
        row = {"prior": name, "preset": prior.preset, **kw, "parameters": prior.num_parameters(),
               "params_per_value": prior.num_parameters() / values,
               "fitted_fraction": round(fitted_fraction(result.final, noise), 4), "seconds": round(result.seconds, 1)}
        rows.append(row)
        print(row, flush=True)
    path = save_result("noise_fitting", {"device": "cpu", "size": args.size, "steps": args.steps, "rows": rows})
    title = f"fitting U(0,1) noise, {args.size}² RGB, {args.steps} Adam steps"
    with plot(path.with_suffix(".png"), "parameters / image values", "fraction of noise energy fitted", title,
              logx=True) as ax:
        dd = [r for r in rows if r["prior"] == "deep_decoder"]
        ax.plot([r["params_per_value"] for r in dd], [r["fitted_fraction"] for r in dd], "o-",
                label="Deep Decoder (k = 4…128)")
        for r in rows:
            if r["prior"] != "deep_decoder":
                ax.plot(r["params_per_value"], r["fitted_fraction"], "s", label=f"{r['prior']} ({r['preset']})")
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")

if __name__ == "__main__":
    main()
