"""The promise of `invert preimage` with no arguments: real pre-images of a real ImageNet classifier,
offline, in at most 3 minutes on 2 CPU cores. This runs the real command and times it.

    python -m bench preimage_default [--docs]    # --docs also writes a small copy of the grid to docs/preimage_default.png

Writes bench/results/preimage_default-<device>-<date>.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from .common import save_result

DOCS = Path(__file__).resolve().parents[1] / "docs"
SMOKE = ["--", "--layer", "blocks.1", "--prior", "tv", "--steps", "2", "--no-transfer"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", action="store_true")
    ap.add_argument("command_args", nargs=argparse.REMAINDER, help="after --: arguments added to the command")
    args = ap.parse_args(argv)
    extra = args.command_args[1:] if args.command_args[:1] == ["--"] else args.command_args
    invert = Path(sys.executable).with_name("invert")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([str(invert), "preimage", "--out", f"{tmp}/out", "--quiet", *extra], check=True)
        wall = time.perf_counter() - start
        result = json.loads(Path(f"{tmp}/out/result.json").read_text())
        if args.docs:  # a small copy for the README
            grid = Image.open(f"{tmp}/out/grid.png").convert("RGB")
            grid.thumbnail((560, 760))
            grid.save(DOCS / "preimage_default.png", optimize=True)
    print(f"invert preimage {' '.join(extra) or '(no arguments)'}: {wall:.0f} s wall")
    save_result("preimage_default", {"device": result["device"], "wall_seconds": round(wall, 1), "arguments": extra,
                                     "thread_choice": result["thread_choice"], "load_average": result["load_average"],
                                     "model": result["model"], "layers": result["layers"],
                                     "priors": result["priors"], "records": result["records"]})


if __name__ == "__main__":
    main()
