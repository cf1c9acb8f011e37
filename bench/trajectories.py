"""Long restoration runs recorded step by step: PSNR of every output and the auto-stop monitors' picks.

    python bench/trajectories.py --split dev --configs fast paper --tasks denoise sr \
        --steps 3000 [--device cuda] [--shard 0/4] --out runs/traj-dev.json.gz

One job per (image, task, config). Each job is one seeded fit with auto-stop off; beside it run
`VarianceStop` monitors for a grid of windows and patiences (they only watch, so every pick is
exactly what `--auto-stop` with those settings would return). `bench/autostop.py` and
`bench/time_to_target.py` read these files. The crops and noise are the same on every device.
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import torch

import priors
from invert import FitConfig, fit, images, restore
from invert.engine import ema_decay, resolve_device
from invert.metrics import psnr
from invert.stopping import VarianceStop

from common import DATA

SPLITS = {
    # tuning images: Set5
    "dev": ["sr/Set5/baby.png", "sr/Set5/bird.png", "sr/Set5/butterfly.png", "sr/Set5/head.png",
            "sr/Set5/woman.png"],
    # held out for the reported numbers (none of them is used by the tests)
    "eval": ["denoising/F16_GT.png", "denoising/kodim01.png", "denoising/kodim02.png", "denoising/kodim03.png",
             "denoising/kodim12.png", "sr/Set14/monarch.png", "sr/Set14/pepper.png", "sr/Set14/zebra.png"],
}

# name → (preset, prior overrides, fit overrides); "paper" means the paper's preset for the task
CONFIGS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "paper": ("paper", {}, {}),
    "fast": ("fast", {}, {}),
    "fast-w": ("fast", {}, {"ema_warmup": True}),
    "fast-w-lr02": ("fast", {}, {"ema_warmup": True, "lr": 0.02}),
    "fast5-w": ("fast", {"channels_down": [32, 64, 128, 128, 128], "channels_up": [32, 64, 128, 128, 128],
                         "channels_skip": [4] * 5}, {"ema_warmup": True}),
    "mid-w": ("fast", {"channels_down": [64] * 5, "channels_up": [64] * 5, "channels_skip": [4] * 5,
                       "input_depth": 32}, {"ema_warmup": True}),
}
WINDOWS = (50, 100)
PATIENCES = (100, 200, 300, 500, 800)
CROP = 128


def problem_for(path: str, task: str) -> restore.Problem:
    image, _ = images.load_image(str(DATA / path))
    image = images.center_crop(image, CROP)
    if task == "denoise":
        return restore.denoise(image, 25.0, seed=0)
    return restore.super_resolve(image, 4, True, "lanczos2")


def run_job(path: str, task: str, config: str, steps: int, device: str) -> dict[str, Any]:
    preset, prior_kw, fit_kw = CONFIGS[config]
    if preset == "paper":
        preset = priors.preset_for("dip", task, "paper-" + ("denoise" if task == "denoise" else "sr4"))
    problem = problem_for(path, task)
    prior = priors.create("dip", channels=problem.channels, size=problem.output_size, preset=preset, seed=0,
                          **prior_kw)
    cfg = FitConfig.build(prior.fit_defaults, steps=steps, device=device, seed=0, **fit_kw)
    ref = problem.reference.to(resolve_device(device))
    monitors = {(w, p): VarianceStop(w, p) for w, p in itertools.product(WINDOWS, PATIENCES)}
    fired: dict[tuple[int, int], tuple[int, int]] = {}
    window_psnr: dict[int, list[float]] = {w: [] for w in WINDOWS}
    ema: list[torch.Tensor] = []

    def watch(step: int, loss: float, raw: torch.Tensor) -> None:
        decay = ema_decay(cfg, step)
        shown = raw if cfg.ema <= 0 else (raw.clone() if not ema else ema[0].mul_(decay).add_(raw, alpha=1 - decay))
        ema[:] = [shown]
        for key, monitor in monitors.items():
            if key not in fired and monitor.update(step, raw, shown):
                fired[key] = (step, monitor.best_step)
        for w in WINDOWS:
            mean = monitors[(w, PATIENCES[0])].window_mean
            window_psnr[w].append(round(psnr(mean, ref), 3))

    result = fit(prior, problem.energy, cfg, reference=problem.reference, callbacks=(watch,))
    h = result.history
    return {
        "image": path, "task": task, "config": config, "preset": prior.preset, "params": prior.num_parameters(),
        "fit": {k: v for k, v in (result.config.__dict__.items()) if k in ("lr", "reg_noise_std", "ema")},
        "psnr_input": round(psnr(problem.baseline, problem.reference), 3),
        "seconds": [round(r["seconds"], 3) for r in h],
        "psnr": [round(r["psnr"], 3) for r in h],
        "psnr_ema": [round(r.get("psnr_ema", r["psnr"]), 3) for r in h],
        "psnr_window": {str(w): v for w, v in window_psnr.items()},
        # (window, patience) → [step it fired at, step of the variance minimum]; absent: never fired
        "fired": {f"{w},{p}": list(v) for (w, p), v in fired.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=[*SPLITS, "all"], default="dev")
    ap.add_argument("--configs", nargs="+", default=["fast", "paper"], choices=list(CONFIGS))
    ap.add_argument("--tasks", nargs="+", default=["denoise", "sr"], choices=["denoise", "sr"])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--shard", default="0/1", help="i/n: run every n-th job starting at i")
    ap.add_argument("--limit", type=int, default=None, help="only the first N images of the split")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (one per process when sharding)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    paths = [p for s in SPLITS for p in SPLITS[s]] if args.split == "all" else SPLITS[args.split]
    # configs first, in the order given: a run cut short has every image for the first ones
    jobs = [(path, task, config) for config, task, path in itertools.product(args.configs, args.tasks, paths[: args.limit])]
    i, n = map(int, args.shard.split("/"))
    if args.threads:
        torch.set_num_threads(args.threads)
    records = []
    for path, task, config in jobs[i::n]:
        rec = run_job(path, task, config, args.steps, args.device)
        best = max(rec["psnr_ema"])
        print(f"{Path(path).stem:<10} {task:<8} {config:<10} best {best:.2f} dB at step "
              f"{rec['psnr_ema'].index(best)}, {rec['seconds'][-1]:.1f} s", flush=True)
        records.append(rec)
        partial = Path(args.out + ".part")  # after every job, so a run cut short keeps what it did
        with gzip.open(partial, "wt") as f:
            json.dump({"device": args.device, "steps": args.steps, "crop": CROP, "jobs": records}, f)
        partial.replace(args.out)


if __name__ == "__main__":
    main()
