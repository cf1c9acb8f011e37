"""The foundation's bar, measured through the real command: `invert restore denoise --add-noise 25` on
96×96 centre crops of standard test images must gain ≥ 4 dB over the noisy input within a minute. It runs the
installed command in a fresh process, as a user does, so the wall time includes start-up.

    python -m bench denoise_cli [--data ../shared/data] [--prior dip] [--crop 96]

Writes bench/results/denoise_cli-<device>-<date>.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import DATA, SPLITS, save_result

SMOKE = ["--data", "{data}", "--crop", "16", "--steps", "3"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder of the papers' test images (env INVERT_DATA)")
    ap.add_argument("--prior", default="dip")
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--sigma", type=float, default=25)
    ap.add_argument("--steps", type=int, default=None, help="a step budget (default: the preset's, with auto-stop)")
    args = ap.parse_args(argv)
    invert = Path(sys.executable).with_name("invert")
    rows = []
    for rel in SPLITS["denoise-cli"]:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [str(invert), "restore", "denoise", str(args.data / rel), "--add-noise", str(args.sigma),
                   "--crop", str(args.crop), "--prior", args.prior, "--out", f"{tmp}/out", "--quiet",
                   *(["--steps", str(args.steps)] if args.steps else [])]
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - start
            r = json.loads(Path(f"{tmp}/out/result.json").read_text())
        row = {"image": rel, "psnr_input": round(r["psnr_input"], 2), "psnr": round(r["psnr"], 2),
               "gain_db": round(r["psnr"] - r["psnr_input"], 2), "fit_seconds": round(r["seconds"], 1),
               "wall_seconds": round(wall, 1), "steps": r["steps_run"], "preset": r["preset"]}
        rows.append(row)
        print(row, flush=True)
    summary = {"mean_gain_db": round(sum(r["gain_db"] for r in rows) / len(rows), 2),
               "min_gain_db": min(r["gain_db"] for r in rows),
               "max_wall_seconds": max(r["wall_seconds"] for r in rows)}
    print(summary)
    save_result("denoise_cli", {"device": "cpu", "prior": args.prior, "crop": args.crop, "sigma": args.sigma,
                                "rows": rows, **summary})


if __name__ == "__main__":
    main()
