"""Time to the paper preset's quality: the default DIP against the paper preset, same run.

    python -m bench time_to_target runs/traj-heldout-denoise.json.gz runs/traj-heldout-sr.json.gz \
        [--plot docs/time_to_target.png] [--config fast-bf16] [--name time_to_target_bf16]

The default is what `invert restore` runs: the `denoise` config where a file has it, else `fast`.

Reads bench/trajectories.py files that hold both configs for the same images (run one after the
other in one process). Per image and task: the paper preset's best PSNR and the wall time it took to
first get there; the time the default takes to come within 0.3 dB of it; their ratio (goal ≤ 1/4).
Writes bench/results/time_to_target-<device>-<date>.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from statistics import mean

from . import trajectories
from .common import plot, read_trajectories, save_result

SMOKE = ["{tmp}/traj.json.gz", "--plot", "{tmp}/ttt.png"]
smoke_setup = trajectories.record_smoke_runs  # the recorded runs it reads, made tiny
MARGIN_DB = 0.3


def first_reach(psnrs: list[float], seconds: list[float], target: float) -> tuple[int | None, float | None]:
    step = next((i for i, v in enumerate(psnrs) if v >= target), None)
    return step, (seconds[step] if step is not None else None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--plot", default=None)
    ap.add_argument("--name", default="time_to_target", help="result file name: bench/results/NAME-<device>-<date>.json")
    ap.add_argument("--config", nargs="+", default=["denoise", "fast"],
                    help="the trajectories' config to compare with the paper preset: the first a file has for the image")
    args = ap.parse_args(argv)
    runs = [read_trajectories(f) for f in args.runs]
    jobs = {(j["image"], j["task"], j["config"]): j for run in runs for j in run["jobs"]}
    rows = []
    for (image, task, config), paper in jobs.items():
        name = next((c for c in args.config if (image, task, c) in jobs), None)
        if config != "paper" or name is None:
            continue
        default = jobs[(image, task, name)]  # the JSON keeps the "fast_" field names of earlier results
        best = max(paper["psnr_ema"])
        paper_step, paper_s = first_reach(paper["psnr_ema"], paper["seconds"], best)
        default_step, default_s = first_reach(default["psnr_ema"], default["seconds"], best - MARGIN_DB)
        rows.append({
            "image": image, "task": task, "config": name, "paper_preset": paper["preset"], "paper_best_psnr": best,
            "paper_step": paper_step, "paper_seconds": paper_s,
            "paper_seconds_per_step": round(paper["seconds"][-1] / len(paper["seconds"]), 4),
            "fast_best_psnr": max(default["psnr_ema"]), "fast_step": default_step, "fast_seconds": default_s,
            "fast_seconds_per_step": round(default["seconds"][-1] / len(default["seconds"]), 4),
            "ratio": round(default_s / paper_s, 3) if default_s is not None else None,
        })
    summary = {}
    for task in sorted({r["task"] for r in rows}):
        ratios = [r["ratio"] for r in rows if r["task"] == task]
        reached = [x for x in ratios if x is not None]
        summary[task] = {"images": len(ratios), "reached": len(reached),
                         "mean_ratio": round(mean(reached), 3) if reached else None,
                         "worst_ratio": max(reached) if reached else None}
    for r in rows:
        reached = f"{r['fast_seconds']:.0f} s (step {r['fast_step']})" if r["fast_seconds"] is not None else "never"
        print(f"{Path(r['image']).stem:<10} {r['task']:<8} paper best {r['paper_best_psnr']:.2f} dB after "
              f"{r['paper_seconds']:.0f} s (step {r['paper_step']}); default within {MARGIN_DB} dB after {reached}; "
              f"ratio {r['ratio']}")
    for task, s in summary.items():
        print(f"{task}: default/paper time ratio mean {s['mean_ratio']}, worst {s['worst_ratio']} "
              f"({s['reached']}/{s['images']} reached the target)")
    if args.plot:
        with plot(Path(args.plot), "wall seconds (2 CPU threads)", "PSNR of the shown output (dB)",
                  f"default (solid) vs paper preset (dashed); ●: paper's best − {MARGIN_DB} dB") as ax:
            for r in rows:
                paper, default = jobs[(r["image"], r["task"], "paper")], jobs[(r["image"], r["task"], r["config"])]
                label = f"{Path(r['image']).stem} {r['task']}"
                line, = ax.plot(default["seconds"], default["psnr_ema"], lw=1, label=label)
                ax.plot(paper["seconds"], paper["psnr_ema"], "--", lw=1, color=line.get_color())
                if r["fast_seconds"] is not None:
                    ax.plot([r["fast_seconds"]], [r["paper_best_psnr"] - MARGIN_DB], "o", color=line.get_color(), ms=4)
            ax.set_ylim(bottom=min(r["paper_best_psnr"] for r in rows) - 6)
    save_result(args.name, {"device": runs[0]["device"], "margin_db": MARGIN_DB, "inputs": args.runs, "config": args.config,
                                   "summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
