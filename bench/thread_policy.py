"""Several `invert` processes at once on one machine: does each keep a fair share of the cores?

Runs the same short `invert preimage` (a DIP and a TV pre-image) as 1, 2 and 3 processes started together,
under thread policies given as environment and arguments, and records each process's fitting seconds (from
its result.json) and wall time. The issue's bar: N processes at once each take at most N × 1.2 times their
time alone.

    python -m bench thread_policy [--policies old,new,...] [--processes 1,2,3] [--steps 40] [--stagger S]

Writes bench/results/thread_policy-cpu-<date>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import save_result

# each policy: the environment it adds and the arguments it adds to the command
POLICIES: dict[str, tuple[dict[str, str], list[str]]] = {
    # the behaviour before issue 26: libgomp's default spin (300,000 rounds) and every core
    "old": ({"GOMP_SPINCOUNT": "300000"}, ["--threads", str(os.cpu_count() or 1)]),
    "passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, ["--threads", str(os.cpu_count() or 1)]),
    "spin-10000": ({"GOMP_SPINCOUNT": "10000"}, ["--threads", str(os.cpu_count() or 1)]),
    "spin-1000": ({"GOMP_SPINCOUNT": "1000"}, ["--threads", str(os.cpu_count() or 1)]),
    "spin-100": ({"GOMP_SPINCOUNT": "100"}, ["--threads", str(os.cpu_count() or 1)]),
    "one-thread": ({}, ["--threads", "1"]),
    "new": ({}, []),  # whatever `invert` now chooses by itself
}
WORKLOAD = ["preimage", "--layer", "blocks.4", "--prior", "dip,tv", "--no-transfer", "--quiet"]
SMOKE = ["--policies", "new", "--processes", "1", "--steps", "2"]


def run_together(n: int, env_extra: dict[str, str], args: list[str], steps: int, tmp: Path,
                 stagger: float = 0.0) -> list[dict]:
    """Start `n` identical processes at once, or each `stagger` seconds after the one before (a process that
    started alone and is joined later); each one's wall and fitting seconds and thread count."""
    invert = Path(sys.executable).with_name("invert")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    env.update(env_extra)
    runs = []
    for i in range(n):
        if i and stagger:
            time.sleep(stagger)
        out = tmp / f"run{n}-{i}"
        command = [str(invert), *WORKLOAD, "--steps", str(steps), "--out", str(out), *args]
        runs.append((out, time.perf_counter(), subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                                                      stderr=subprocess.PIPE, text=True)))
    rows = []
    for out, start, process in runs:
        _, errors = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"thread_policy: {' '.join(process.args)} failed with exit {process.returncode}: {errors}")
        result = json.loads((out / "result.json").read_text())
        rows.append({"wall_seconds": round(time.perf_counter() - start, 2),
                     "fit_seconds": round(sum(r["seconds"] for r in result["records"]), 2),
                     "threads": result["threads"], "thread_choice": result.get("thread_choice")})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--processes", default="1,2,3")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--stagger", type=float, default=0.0, metavar="S",
                    help="start each process S seconds after the one before (default: all at once)")
    ap.add_argument("--name", default="thread_policy")
    args = ap.parse_args(argv)
    counts = [int(n) for n in args.processes.split(",")]
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for policy in args.policies.split(","):
            env_extra, extra_args = POLICIES[policy]
            alone = None
            for n in counts:
                load = os.getloadavg()[0]
                rows = run_together(n, env_extra, extra_args, args.steps, Path(tmp) / policy, args.stagger)
                mean_fit = sum(r["fit_seconds"] for r in rows) / n
                alone = alone if alone is not None else (mean_fit if n == 1 else None)
                entry = {"policy": policy, "environment": env_extra, "arguments": extra_args, "processes": n,
                         "load_before": round(load, 2), "runs": rows, "mean_fit_seconds": round(mean_fit, 2),
                         "slowdown": round(mean_fit / alone, 2) if alone else None,
                         "bar": 1.2 * n if n > 1 else None}
                entry["within_bar"] = entry["slowdown"] <= entry["bar"] if entry["bar"] and alone else None
                table.append(entry)
                print(f"{policy:11s} ×{n}: fit {mean_fit:6.1f} s each"
                      + (f", {entry['slowdown']:.2f}× alone (bar {entry['bar']:.1f}×)" if entry["bar"] and alone else "")
                      + f"; threads {[r['threads'] for r in rows]}; load before {load:.2f}", flush=True)
    save_result(args.name, {"device": "cpu", "cores": os.cpu_count(), "steps": args.steps, "stagger": args.stagger,
                            "workload": WORKLOAD,
                            "rows": table})


if __name__ == "__main__":
    main()
