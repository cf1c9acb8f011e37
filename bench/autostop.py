"""Auto-stop against the oracle, from long runs recorded by bench/trajectories.py.

    python -m bench autostop runs/traj-heldout.json.gz [--plot docs/autostop.png] [--steps 2000]

Per job: the oracle (the best PSNR of the shown output over the whole long run, which needs the
clean image), the PSNR of what auto-stop returns as `invert restore` runs it and the step it stopped
at: for denoising the discrepancy rule, replayed on the recorded residuals and noise estimate; for
the other tasks the variance rule, recorded by a monitor that only watched the run. The noise level is
estimated again from the run's noisy input, so that the replay follows the library as it is now. The variance rule
and ES-WMV's exact-minimum rule are scored on the same runs beside it.
`--steps N` scores the first N steps of each run, as a run with that budget would have gone (the oracle
too). `--true-noise` replays the discrepancy rule at the noise level measured against the clean image instead
of the estimated one (`--factor F`: at F times that variance instead of the library's factor), to tell the
estimate's error from the rule's. Runs are grouped by config, task and noise (Gaussian σ or camera level);
"fired" counts the runs where auto-stop ended the fit before the budget. Writes bench/results/NAME-<device>-<date>.json (NAME: `--name`,
default autostop).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from statistics import mean

from invert import restoration
from invert.stopping import DISCREPANCY, LUMINANCE_DISCREPANCY, DiscrepancyStop, luminance

from . import trajectories
from .common import plot, read_trajectories, save_result

SMOKE = ["{tmp}/traj.json.gz", "--plot", "{tmp}/autostop.png", "--true-noise"]
smoke_setup = trajectories.record_smoke_runs  # the recorded runs it reads, made tiny


def score(job: dict, pick: list[int | None]) -> dict:
    """`pick` = [step it fired at or None, step of the output returned]."""
    shown = job["psnr_ema"]
    fired, chosen = pick
    return {"fired": fired is not None, "stopped_at": fired if fired is not None else len(shown),
            "output_step": chosen, "psnr": shown[chosen], "gap_db": round(shown[chosen] - max(shown), 3)}


def truncated(job: dict, steps: int) -> dict:
    """`job` as a run with a budget of `steps` would have recorded it: its per-step curves cut there. A variance
    rule that fired later returns the budget's last step (approximately: the rule would return its last
    output near the minimum so far)."""
    cut = {k: v[:steps] if isinstance(v, list) and len(v) == len(job["psnr_ema"]) else v for k, v in job.items()}
    cut["picks"] = {name: pick if pick[0] is not None and pick[0] < steps else [None, min(pick[1], steps - 1)]
                    for name, pick in job["picks"].items()}
    return cut


def discrepancy_pick(job: dict, threshold: float, extend: float | None = None) -> list[int | None]:
    """The discrepancy rule replayed on the recorded residuals (the luminance's where the config stops on it)
    at `threshold`, run on as far as `extend` or else the job's preset says."""
    cfg = trajectories.fit_config(job["task"], job["config"])
    stop = DiscrepancyStop(threshold, cfg.stop_extend if extend is None else extend)
    residuals = job["data_luminance"] if cfg.stop_luminance else job.get("data", job["loss"])
    fired = next((step for step, residual in enumerate(residuals) if stop.update(step, residual)), None)
    return [fired, fired if fired is not None else len(residuals) - 1]


def rules(job: dict, threshold: float | None, extend: float | None = None) -> dict[str, list[int | None]]:
    """What `invert restore` does for the task and config ("auto_stop": the library's choice of rule, with the
    discrepancy rule's `threshold`), and the alternatives on the same run."""
    variance, es_wmv = job["picks"]["default"], job["picks"]["es-wmv"]
    if threshold is None:
        return {"auto_stop": variance, "variance_rule": variance, "es_wmv": es_wmv}
    return {"auto_stop": discrepancy_pick(job, threshold, extend), "variance_rule": variance, "es_wmv": es_wmv}


def library_threshold(job: dict, run: dict, true_noise: bool = False, factor: float | None = None) -> float | None:
    """The residual at which the library stops this job's fit (None: by the variance rule), from the noise
    level it estimates now on the same noisy input, or (`true_noise`) from the noise's true variance, measured
    against the clean image; `factor` replaces the library's fraction of that variance."""
    problem = trajectories.problem_for(job["image"], job["task"], run["crop"], run["sigma"], run.get("camera"))
    config = trajectories.fit_config(job["task"], job["config"])
    threshold = restoration.stop_residual(problem, config)
    if threshold is None or not (true_noise or factor):
        return threshold
    library_factor = LUMINANCE_DISCREPANCY if config.stop_luminance else DISCREPANCY
    if true_noise:
        seen = luminance if config.stop_luminance else (lambda image: image)
        variance = float((seen(problem.observation) - seen(problem.reference)).pow(2).mean())
    else:
        variance = threshold / library_factor
    return (factor or library_factor) * variance


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="trajectory files (.json.gz)")
    ap.add_argument("--plot", default=None, help="PNG of the denoising curves with the stops marked")
    ap.add_argument("--plot-config", default="denoise", help="the trajectories' config the plot shows")
    ap.add_argument("--extend", type=float, default=None,
                    help="replay the discrepancy rule running on to this multiple of its step (default: the preset's)")
    ap.add_argument("--steps", type=int, default=None, help="score only the first N steps of each run (a budget of N)")
    ap.add_argument("--true-noise", action="store_true",
                    help="stop at the true noise level (measured against the clean image) instead of the estimate")
    ap.add_argument("--factor", type=float, default=None,
                    help="stop at this fraction of the noise variance instead of the library's")
    ap.add_argument("--name", default="autostop", help="result file name: bench/results/NAME-<device>-<date>.json")
    args = ap.parse_args(argv)
    runs = [read_trajectories(f) for f in args.runs]
    rows = []
    for run in runs:
        noise = f"camera {run['camera']:g}" if run.get("camera") else f"σ {run['sigma']:g}"
        for job in run["jobs"]:
            job = truncated(job, args.steps) if args.steps else job
            job["threshold"] = library_threshold(job, run, args.true_noise, args.factor)
            oracle = max(job["psnr_ema"])
            rows.append({"image": job["image"], "task": job["task"], "config": job["config"], "noise": noise,
                         "device": run["device"],
                         "steps": len(job["psnr_ema"]), "oracle_psnr": oracle,
                         "oracle_step": job["psnr_ema"].index(oracle), "psnr_input": job["psnr_input"],
                         **{name: score(job, pick) for name, pick in rules(job, job["threshold"], args.extend).items()}})
    summary = {}
    for group in sorted({(r["config"], r["task"], r["noise"]) for r in rows}):
        for rule in ("auto_stop", "variance_rule", "es_wmv"):
            picked = [r[rule] for r in rows if (r["config"], r["task"], r["noise"]) == group]
            gaps = [p["gap_db"] for p in picked]
            summary["/".join([*group, rule])] = {"jobs": len(gaps), "fired": sum(p["fired"] for p in picked),
                                                 "mean_gap_db": round(mean(gaps), 3), "worst_gap_db": min(gaps)}
    for r in rows:
        a, v, e = r["auto_stop"], r["variance_rule"], r["es_wmv"]
        print(f"{Path(r['image']).stem:<10} {r['task']:<8} {r['config']:<6} oracle {r['oracle_psnr']:.2f} @ {r['oracle_step']:>4}  "
              f"auto-stop {a['psnr']:.2f} ({a['gap_db']:+.2f}) stopped {a['stopped_at']:>4}  "
              f"variance rule {v['gap_db']:+.2f}  es-wmv {e['gap_db']:+.2f}")
    for key, s in summary.items():
        print(f"{key:<40} mean gap {s['mean_gap_db']:+.2f} dB, worst {s['worst_gap_db']:+.2f} dB, fired in "
              f"{s['fired']} of {s['jobs']} runs")
    if args.plot:
        denoise = [job for run in runs for job in run["jobs"] if job["task"] == "denoise" and job["config"] == args.plot_config]
        with plot(Path(args.plot), "step", "PSNR of the shown output (dB)",
                  f"DIP ({args.plot_config}), denoising σ=25: where auto-stop took the output (●)") as ax:
            for job in denoise:
                line, = ax.plot(job["psnr_ema"], lw=1, label=Path(job["image"]).stem)
                s = score(job, rules(job, job["threshold"], args.extend)["auto_stop"])
                ax.plot([s["output_step"]], [s["psnr"]], "o", color=line.get_color(), ms=5)
    save_result(args.name, {"device": runs[0]["device"], "inputs": args.runs, "extend": args.extend,
                            "steps": args.steps, "true_noise": args.true_noise, "factor": args.factor, "summary": summary,
                            "rows": rows})


if __name__ == "__main__":
    main()
