"""Auto-stop against the oracle, from long runs recorded by bench/trajectories.py.

    python bench/autostop.py runs/traj-heldout.json.gz [--plot docs/autostop.png]

Per job: the oracle (the best PSNR of the shown output over the whole long run, which needs the
clean image), the PSNR of what auto-stop returns (the engine's default rule, recorded by a monitor
that only watched the same run) and the step it stopped at; ES-WMV's exact-minimum rule beside it.
Writes bench/results/autostop-<device>-<date>.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from statistics import mean

from common import plot, read_trajectories, save_result


def score(job: dict, rule: str) -> dict:
    shown = job["psnr_ema"]
    oracle = max(shown)
    fired, chosen = job["picks"][rule]  # fired is None when the step budget ran out first
    return {"stopped_at": fired if fired is not None else len(shown), "output_step": chosen,
            "psnr": shown[chosen], "gap_db": round(shown[chosen] - oracle, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="trajectory files (.json.gz)")
    ap.add_argument("--plot", default=None, help="PNG of the denoising curves with the stops marked")
    args = ap.parse_args()
    runs = [read_trajectories(f) for f in args.runs]
    rows = []
    for run in runs:
        for job in run["jobs"]:
            oracle = max(job["psnr_ema"])
            rows.append({"image": job["image"], "task": job["task"], "config": job["config"], "device": run["device"],
                         "steps": len(job["psnr_ema"]), "oracle_psnr": oracle,
                         "oracle_step": job["psnr_ema"].index(oracle), "psnr_input": job["psnr_input"],
                         "auto_stop": score(job, "default"), "es_wmv": score(job, "es-wmv")})
    summary = {}
    for config, task in sorted({(r["config"], r["task"]) for r in rows}):
        for rule in ("auto_stop", "es_wmv"):
            gaps = [r[rule]["gap_db"] for r in rows if (r["config"], r["task"]) == (config, task)]
            summary[f"{config}/{task}/{rule}"] = {"jobs": len(gaps), "mean_gap_db": round(mean(gaps), 3),
                                                  "worst_gap_db": min(gaps)}
    for r in rows:
        a, e = r["auto_stop"], r["es_wmv"]
        print(f"{Path(r['image']).stem:<10} {r['task']:<8} {r['config']:<6} oracle {r['oracle_psnr']:.2f} @ {r['oracle_step']:>4}  "
              f"auto-stop {a['psnr']:.2f} ({a['gap_db']:+.2f}) stopped {a['stopped_at']:>4}  "
              f"es-wmv {e['psnr']:.2f} ({e['gap_db']:+.2f})")
    for key, s in summary.items():
        print(f"{key:<26} mean gap {s['mean_gap_db']:+.2f} dB, worst {s['worst_gap_db']:+.2f} dB over {s['jobs']} runs")
    if args.plot:
        denoise = [job for run in runs for job in run["jobs"] if job["task"] == "denoise" and job["config"] == "fast"]
        with plot(Path(args.plot), "step", "PSNR of the shown output (dB)",
                  "default DIP, denoising σ=25: where auto-stop took the output (●)") as ax:
            for job in denoise:
                line, = ax.plot(job["psnr_ema"], lw=1, label=Path(job["image"]).stem)
                s = score(job, "default")
                ax.plot([s["output_step"]], [s["psnr"]], "o", color=line.get_color(), ms=5)
    save_result("autostop", {"device": runs[0]["device"], "inputs": args.runs, "summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
