"""Cells per minute: a study against the same cells as separate `invert preimage` calls, on this machine.

    python -m bench study_speed [--steps 50] [--priors tv,pixel] [--workers 1 2] [--no-ray]

Runs one study (2 images × 2 layers × the priors, one seed) with `invert study run` once per worker count and
once with `--executor ray` (a local cluster; one thread per task) where Ray is installed, then each of its cells
as its own command in a fresh process, as a shell loop over the CLI would. Both run the installed command; the study
loads the model once, each separate call loads it again. Writes bench/results/study_speed-<device>-<date>.json.
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from invert.threads import available_cores

from .common import save_result

SMOKE = ["--steps", "2", "--priors", "tv", "--workers", "1", "--no-ray"]
IMAGES = ["skimage:chelsea", "skimage:coffee"]
LAYERS = ["blocks.1", "blocks.4"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--priors", default="tv,pixel")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-ray", dest="ray", action="store_false", help="leave out the Ray executor")
    args = ap.parse_args(argv)
    invert = str(Path(sys.executable).with_name("invert"))
    priors = args.priors.split(",")
    cells = len(IMAGES) * len(LAYERS) * len(priors)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "study.toml"
        spec.write_text(f'task = "preimage"\nimages = {IMAGES}\nlayers = {LAYERS}\npriors = {priors}\n'
                        f"steps = {args.steps}\ntransfer = false\n".replace("'", '"'))
        runs = {f"local, {w} worker(s)": ["--workers", str(w)] for w in args.workers}
        if args.ray and importlib.util.find_spec("ray") is not None:
            runs["ray, local cluster"] = ["--executor", "ray", "--threads", "1"]
        study = {}
        for i, (label, extra) in enumerate(runs.items()):
            start = time.perf_counter()
            subprocess.run([invert, "study", "run", str(spec), "--out", f"{tmp}/study{i}", *extra, "--quiet"],
                           check=True)
            study[label] = time.perf_counter() - start
        start = time.perf_counter()
        for i, (image, layer, prior) in enumerate((i, l, p) for i in IMAGES for l in LAYERS for p in priors):
            subprocess.run([invert, "preimage", image, "--layer", layer, "--prior", prior, "--steps", str(args.steps),
                            "--no-transfer", "--quiet", "--out", f"{tmp}/cell{i}"], check=True)
        separate = time.perf_counter() - start
    row = {"cells": cells, "steps": args.steps, "priors": priors, "cores": available_cores(),
           "study": [{"executor": label, "seconds": round(t, 1), "cells_per_minute": round(60 * cells / t, 2)}
                     for label, t in study.items()],
           "separate_seconds": round(separate, 1), "separate_cells_per_minute": round(60 * cells / separate, 2)}
    print(row)
    save_result("study_speed", {"device": "cpu", **row})


if __name__ == "__main__":
    main()
