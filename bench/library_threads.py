"""A notebook beside a busy process: does the library choose its threads as well as the command line does?

Times one small fit, a Fourier visualization of channel 3 of efficientnet_lite0's blocks.5, from Python in a
fresh process (`invert.visualize`, as a notebook calls it) and through `invert maximize`, while other
processes keep cores busy, and records each run's fitting and wall seconds, the threads it chose and the
load it saw. Before the library applied the command line's thread policy (issue 37), the Python run took 66 s
beside a busy process where the command line took 2.1 s. `old-python` runs Python as it was then: every core,
libgomp's default spin.

    python -m bench library_threads [--modes python,cli] [--steps 6] [--rounds 3] [--busy 1]

Writes bench/results/library_threads-cpu-<date>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .common import save_result

LAYER, CHANNEL, PRIOR = "blocks.5", 3, "fourier"
# a notebook's cell: import, fit, and what the fit chose (on stdout, as JSON)
PYTHON_FIT = f"""
import json, os, sys
import invert, torch
from invert import threads
if sys.argv[2] == "every-core":  # the library before it applied the policy: torch's default of every core
    threads.set_threads(os.cpu_count())
done = invert.visualize("efficientnet_lite0", "{LAYER}:{CHANNEL}", "{PRIOR}", steps=int(sys.argv[1]))
print(json.dumps({{"fit_seconds": done.fit.seconds, "threads": torch.get_num_threads(),
                  "thread_choice": threads.choice()}}))
"""
BUSY_LOOP = "while True: pass"
# libgomp's idle threads: the default spin of 300,000 rounds, as before `threads.prepare` shortened it
OLD_SPIN = {"GOMP_SPINCOUNT": "300000"}
MODES = ("python", "cli", "old-python")
SMOKE = ["--steps", "1", "--rounds", "1", "--busy", "0"]


def _clean_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without thread settings (each run chooses its own), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    return {**env, **extra}


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """`count` processes that each keep one core busy until the block ends."""
    spinners = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]
    try:
        if spinners:
            time.sleep(1.0)  # running before the timed process starts and measures the load
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def run_python(steps: int, old: bool) -> dict:
    """One fit from Python in a fresh process: wall seconds (start-up included) and what it printed."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PYTHON_FIT, str(steps), "every-core" if old else "policy"],
                          env=_clean_environment(OLD_SPIN if old else {}), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"library_threads: the Python run failed with exit {done.returncode}: {done.stderr[-2000:]}")
    return {"wall_seconds": round(wall, 2), **json.loads(done.stdout.splitlines()[-1])}


def run_cli(steps: int, out: Path) -> dict:
    """The same fit through `invert maximize`: wall seconds and, from its result.json, fitting seconds and threads."""
    invert = Path(sys.executable).with_name("invert")
    command = [str(invert), "maximize", "--layer", LAYER, "--channel", str(CHANNEL), "--prior", PRIOR,
               "--steps", str(steps), "--out", str(out), "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, env=_clean_environment({}), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"library_threads: {' '.join(command)} failed with exit {done.returncode}: {done.stderr}")
    result = json.loads((out / "result.json").read_text())
    return {"wall_seconds": round(wall, 2), "fit_seconds": sum(r["seconds"] for r in result["records"]),
            "threads": result["threads"], "thread_choice": result["thread_choice"]}


def _median(rows: list[dict], mode: str, key: str) -> float:
    return round(statistics.median(r[key] for r in rows if r["mode"] == mode), 3)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="python,cli", help=f"a comma list of {', '.join(MODES)}")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each mode, interleaved")
    ap.add_argument("--busy", type=int, default=1, help="cores kept busy by other processes meanwhile")
    ap.add_argument("--name", default="library_threads")
    args = ap.parse_args(argv)
    modes = args.modes.split(",")
    if unknown := set(modes) - set(MODES):
        raise SystemExit(f"library_threads: unknown modes {', '.join(sorted(unknown))}; use {', '.join(MODES)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, busy_cores(args.busy):
        for round_ in range(args.rounds):
            for mode in modes:
                load = os.getloadavg()[0]
                row = (run_cli(args.steps, Path(tmp) / f"cli{round_}") if mode == "cli"
                       else run_python(args.steps, old=mode == "old-python"))
                rows.append({"mode": mode, "round": round_, "load_before": round(load, 2), **row})
                print(f"{mode:10s} round {round_}: fit {row['fit_seconds']:6.2f} s, wall {row['wall_seconds']:6.2f} s, "
                      f"{row['threads']} threads; load before {load:.2f}", flush=True)
    fit = {mode: _median(rows, mode, "fit_seconds") for mode in modes}
    wall = {mode: _median(rows, mode, "wall_seconds") for mode in modes}
    ratios = ({"python_over_cli_fit": round(fit["python"] / fit["cli"], 2),
               "python_over_cli_wall": round(wall["python"] / wall["cli"], 2)}
              if {"python", "cli"} <= set(modes) else {})
    save_result(args.name, {"device": "cpu", "cores": os.cpu_count(), "steps": args.steps, "busy_cores": args.busy,
                            "workload": {"model": "efficientnet_lite0", "unit": f"{LAYER}:{CHANNEL}", "prior": PRIOR},
                            "median_fit_seconds": fit, "median_wall_seconds": wall, **ratios, "runs": rows})


if __name__ == "__main__":
    main()
