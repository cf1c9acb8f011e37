"""Long restoration runs recorded step by step: PSNR of every output and the auto-stop monitors' picks.

    python -m bench trajectories --split dev --configs fast paper --tasks denoise sr \
        --steps 3000 [--device cuda] [--shard 0/4] --out runs/traj-dev.json.gz

One job per (image, task, config). Each job is one seeded fit with auto-stop off that records, per
step, the PSNR of the raw and the shown output, the residual, and the windowed output variances;
beside it run the variance stop rules as monitors that only watch (so their picks are exactly what
auto-stop would return), and the noise estimate that the discrepancy rule uses is stored.
`bench/autostop.py` and `bench/time_to_target.py` read these files. Crops and noise are the same on
every device.
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import torch

from invert import priors
from invert import FitConfig, fit, images, restoration
from invert.engine import resolve_device
from invert.metrics import psnr
from invert.stopping import VarianceStop, luminance, noise_sigma
from invert.threads import set_threads

from . import common

SMOKE = ["--configs", "fast", "--tasks", "denoise", "--steps", "3", "--crop", "32", "--limit", "1",
         "--out", "{tmp}/traj.json.gz"]

# the restoration splits of bench/common.py: dev (tuning), design (auto-stop), heldout (reported numbers)
SPLITS = {name: common.SPLITS[f"restore-{name}"] for name in ("dev", "design", "heldout")}
# name → (preset, prior overrides, fit overrides); "paper" means the paper's preset for the task
CONFIGS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "paper": ("paper", {}, {}),
    "fast": ("fast", {}, {}),
    # what `invert restore denoise` runs: the fast net plus total variation
    "denoise": ("denoise", {}, {}),
    # the input noise the denoise preset's choice (1/45) was made against
    "denoise-rn30": ("denoise", {}, {"reg_noise_std": 1 / 30}),
    "denoise-rn60": ("denoise", {}, {"reg_noise_std": 1 / 60}),
    "fast-lr02": ("fast", {}, {"lr": 0.02}),
    # per step about 20 % cheaper on CPU: nearest upsampling, no 1×1 convolution after each merge
    "fast-lean": ("fast", {"upsample": "nearest", "need_1x1_up": False}, {}),
    # bfloat16 autocast: CPUs with AMX (Sapphire Rapids and later) run it on their matrix units
    "fast-bf16": ("fast", {}, {"amp": True}),
    # what `invert restore denoise` runs on camera noise, and the design run it was chosen on (denoise plus
    # total variation of the colour channels, with the denoise preset's stop)
    "denoise-camera": ("denoise-camera", {}, {}),
    **{f"denoise-chroma{w:g}": ("denoise", {"chroma_tv_weight": w}, {}) for w in (0.07, 0.15, 0.3)},
}
WINDOWS = (50, 100)


def problem_for(path: str, task: str, crop: int, sigma: float = 25.0, camera: float | None = None) -> restoration.Problem:
    """The problem a job fits: denoising Gaussian noise of σ `sigma`, or camera noise of level `camera` if given."""
    image, _ = images.load_image(str(common.DATA / path))
    image = images.center_crop(image, crop)
    if task == "denoise":
        return restoration.denoise(image, None if camera else sigma, seed=0, camera=camera)
    return restoration.super_resolve(image, 4, True, "lanczos2")


def dip_preset(task: str, config: str) -> str:
    """The DIP preset a config runs for a task ("paper": the paper's for the task)."""
    preset = CONFIGS[config][0]
    return priors.preset_for("dip", task, "paper-" + ("denoise" if task == "denoise" else "sr4")) if preset == "paper" else preset


def fit_config(task: str, config: str, **settings: Any) -> FitConfig:
    """The engine settings a config's fit runs with."""
    return FitConfig.build(priors.preset("dip", dip_preset(task, config)).get("fit", {}), **CONFIGS[config][2],
                           **settings)


def run_job(path: str, task: str, config: str, steps: int, device: str, crop: int, sigma: float,
            camera: float | None = None) -> dict[str, Any]:
    problem = problem_for(path, task, crop, sigma, camera)
    preset = dip_preset(task, config)
    # as `invert restore` builds it: a camera preset's colour TV scaled to the input's noise, unless the config sets it
    settings = {**restoration.noise_scaled_settings(problem, "dip", preset), **CONFIGS[config][1]}
    prior = priors.create("dip", channels=problem.channels, size=problem.output_size, preset=preset, seed=0,
                          **settings)
    cfg = fit_config(task, config, steps=steps, device=device, seed=0)
    ref = problem.reference.to(resolve_device(device))
    # variance monitors that only watch: of the raw outputs per window, and of the shown (EMA) outputs
    monitors = {f"raw{w}": VarianceStop(w, 10**9) for w in WINDOWS} | {"ema100": VarianceStop(100, 10**9)}
    curves: dict[str, list[float]] = {name: [] for name in [*monitors, "psnr_window100"]}
    if task == "denoise" and problem.channels == 3:  # the residual of the luminance alone (camera noise's stop)
        curves["data_luminance"] = []
        observed_luminance = luminance(problem.observation).to(resolve_device(device))
    # auto-stop as the engine runs it ("default") and with ES-WMV's exact-minimum rule:
    # name → [step it fired at or None, step of the output it returns]
    rules = {"default": VarianceStop(cfg.stop_window, cfg.stop_patience, cfg.stop_tolerance),
             "es-wmv": VarianceStop(cfg.stop_window, cfg.stop_patience, 0.0)}
    picks: dict[str, list[int]] = {}

    def watch(step: int, loss: float, raw: torch.Tensor, shown: torch.Tensor) -> None:
        for name, monitor in monitors.items():
            monitor.update(step, shown if name.startswith("ema") else raw, shown)
            curves[name].append(float(f"{monitor.variance:.4g}"))
        curves["psnr_window100"].append(round(psnr(monitors["raw100"].window_mean, ref), 3))
        if "data_luminance" in curves:
            residual = float((luminance(raw.detach()) - observed_luminance).pow(2).mean())
            curves["data_luminance"].append(float(f"{residual:.5g}"))
        for name, rule in rules.items():
            if name not in picks and rule.update(step, raw, shown):
                picks[name] = [step, rule.chosen_step]

    result = fit(prior, problem.energy, cfg, reference=problem.reference, callbacks=(watch,))
    for name, rule in rules.items():  # never fired: the fit would return the last output near the minimum
        picks.setdefault(name, [None, rule.chosen_step])
    h = result.history
    return {
        "image": path, "task": task, "config": config, "preset": prior.preset, "params": prior.num_parameters(),
        "prior_settings": settings,
        "fit": {k: v for k, v in (result.config.__dict__.items()) if k in ("lr", "reg_noise_std", "ema")},
        "psnr_input": round(psnr(problem.baseline, problem.reference), 3),
        "seconds": [round(r["seconds"], 3) for r in h],
        "psnr": [round(r["psnr"], 3) for r in h],
        "psnr_ema": [round(r.get("psnr_ema", r["psnr"]), 3) for r in h],
        "loss": [float(f"{r['loss']:.5g}") for r in h],
        # the data term alone (the residual the discrepancy rule watches), where a regularizer adds to it
        **({"data": [float(f"{r['data']:.5g}") for r in h]} if "data" in h[0] else {}),
        "sigma_estimate": noise_sigma(problem.observation),
        # the noise actually added (root mean square, 0–1 scale): what an estimate should find
        "noise_rms": float((problem.observation - problem.reference).pow(2).mean().sqrt()),
        **curves,
        "picks": picks,
    }


def record_smoke_runs(tmp: Path) -> None:
    """Tiny recorded runs (one stand-in image, denoising under three configs) for the readers' smoke runs."""
    main(["--configs", "denoise", "fast", "paper", "--tasks", "denoise", "--steps", "120", "--crop", "16", "--limit",
          "1", "--out", str(tmp / "traj.json.gz")])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=[*SPLITS, "all"], default="dev")
    ap.add_argument("--configs", nargs="+", default=["fast", "paper"], choices=list(CONFIGS))
    ap.add_argument("--tasks", nargs="+", default=["denoise", "sr"], choices=["denoise", "sr"])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--crop", type=int, default=128, help="centre crop N×N (the ×4 SR input is N/4)")
    ap.add_argument("--sigma", type=float, default=25.0, help="denoising: noise σ on the 0–255 scale")
    ap.add_argument("--camera", type=float, default=None, metavar="LEVEL",
                    help="denoising: camera noise of this shot-noise level instead of Gaussian noise")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--shard", default="0/1", help="i/n: run every n-th job starting at i")
    ap.add_argument("--limit", type=int, default=None, help="only the first N images of the split")
    ap.add_argument("--images", nargs="+", default=None, metavar="STEM", help="only these images of the split")
    ap.add_argument("--paper-steps", type=int, default=None, help="steps for the paper config (default: --steps)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (one per process when sharding)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    paths = [p for s in SPLITS for p in SPLITS[s]] if args.split == "all" else SPLITS[args.split]
    if args.images:
        paths = [p for p in paths if Path(p).stem in args.images]
    # configs first, in the order given: a run cut short has every image for the first ones
    jobs = [(path, task, config) for config, task, path in itertools.product(args.configs, args.tasks, paths[: args.limit])]
    i, n = map(int, args.shard.split("/"))
    if args.threads:
        set_threads(args.threads)  # kept by every fit, unlike torch.set_num_threads
    records = []
    for path, task, config in jobs[i::n]:
        steps = args.paper_steps if config == "paper" and args.paper_steps else args.steps
        rec = run_job(path, task, config, steps, args.device, args.crop, args.sigma, args.camera)
        best = max(rec["psnr_ema"])
        print(f"{Path(path).stem:<10} {task:<8} {config:<10} best {best:.2f} dB at step "
              f"{rec['psnr_ema'].index(best)}, {rec['seconds'][-1]:.1f} s", flush=True)
        records.append(rec)
        partial = Path(args.out + ".part")  # after every job, so a run cut short keeps what it did
        with gzip.open(partial, "wt") as f:
            json.dump({"device": args.device, "steps": args.steps, "crop": args.crop, "sigma": args.sigma,
                       "camera": args.camera,
                       "jobs": records}, f)
        partial.replace(args.out)


if __name__ == "__main__":
    main()
