"""Shared by the benchmarks: where results go and what they record about the machine."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from invert.provenance import machine, versions, write_json

RESULTS = Path(__file__).resolve().parent / "results"
_SET5 = [f"sr/Set5/{n}.png" for n in ("baby", "bird", "butterfly", "head", "woman")]
# every image set the benchmarks use (paths under DATA), in one place
SPLITS: dict[str, list[str]] = {
    # the DIP paper's tables
    "paper-denoise": ["denoising/F16_GT.png", "sr/Set14/baboon.png", "sr/Set14/lenna.png", "sr/Set14/pepper.png",
                      "denoising/kodim01.png", "denoising/kodim02.png", "denoising/kodim03.png",
                      "denoising/kodim12.png"],
    "Set5": _SET5,
    "Set14": [f"sr/Set14/{n}.png" for n in ("baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers",
                                            "foreman", "lenna", "man", "monarch", "pepper", "ppt3", "zebra")],
    # the DIP paper's inpainting masks on their photos (bench/inpaint_priors.py)
    "inpaint-masks": ["inpainting/kate.png", "inpainting/kate_mask.png", "inpainting/library.png",
                      "inpainting/library_mask.png"],
    "Set12-inpaint": [f"inpainting/Set12/{n:02d}.png" for n in (1, 2, 3, 8, 9, 10, 11, 12)],
    # restoration recipes: tuned on dev, then dev + design (auto-stop); reported on heldout, seen by no test
    "restore-dev": _SET5,
    "restore-design": ["denoising/F16_GT.png", "denoising/kodim01.png", "denoising/kodim02.png",
                       "denoising/kodim03.png", "denoising/kodim12.png", "sr/Set14/monarch.png",
                       "sr/Set14/pepper.png", "sr/Set14/zebra.png"],
    "restore-heldout": ["sr/Set14/comic.png", "sr/Set14/flowers.png", "sr/Set14/foreman.png", "sr/Set14/lenna.png",
                        "sr/Set14/man.png", "sr/Set14/coastguard.png", "sr/Set14/face.png", "sr/Set14/baboon.png"],
    "denoise-cli": ["denoising/F16_GT.png", "denoising/kodim01.png", "denoising/kodim03.png", "sr/Set5/baby.png"],
    # photos for pre-images: recipes are chosen on design and measured on heldout, which tests never use; on
    # most of them Lite0 and Lite2 agree on the class
    "preimage-heldout": ["sr/Set14/zebra.png", "sr/Set14/monarch.png", "sr/Set14/pepper.png", "sr/Set14/baboon.png",
                         "sr/Set5/bird.png", "denoising/F16_GT.png"],
    "preimage-design": ["feature_inversion/monkey.jpg", "sr/Set14/coastguard.png", "inpainting/library.png",
                        "feature_inversion/building.jpg", "denoising/kodim12.png", "deep_decoder/poster_rgb.png"],
    "compression": ["deep_decoder/sf4_rgb.png"],
}
PREIMAGE_PHOTOS = {"heldout": SPLITS["preimage-heldout"], "design": SPLITS["preimage-design"]}
DATA = Path(os.environ.get("INVERT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _number(text: str) -> int | float:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def settings(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs from the command line: true/false, numbers, `a:b` lists of numbers, else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if value.lower() in ("true", "false"):
            out[key] = value.lower() == "true"
            continue
        try:
            out[key] = [_number(v) for v in value.split(":")] if ":" in value else _number(value)
        except ValueError:
            out[key] = value
    return out


def run_device(payload: dict[str, Any]) -> str:
    """The device the run used: the one its payload names, else cuda when this process put anything on a GPU."""
    import torch

    named = str(payload.get("device", ""))
    if named and named != "auto":
        return "cuda" if named.startswith("cuda") else named.split(":")[0]
    return "cuda" if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0 else "cpu"


def save_result(kind: str, payload: dict[str, Any]) -> Path:
    """Write `payload` with date, command, machine and versions to RESULTS/<kind>-<device>-<date>.json."""
    today = dt.date.today().isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{kind}-{run_device(payload)}-{today}.json"
    record = {"benchmark": kind, "date": dt.datetime.now().isoformat(timespec="seconds"),
              "command": " ".join(["python", "-m", "bench", *sys.argv[1:]]), "machine": machine(),
              "versions": versions(), **payload}
    write_json(record, path)
    print(f"wrote {path}")
    return path


@contextmanager
def plot(path: Path, xlabel: str, ylabel: str, title: str, logx: bool = False) -> Iterator[Any]:
    """A 6×4 in. figure: draw on the yielded axes; labels, legend and saving happen on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    yield ax
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_trajectories(path: str | Path) -> dict[str, Any]:
    """A file written by bench/trajectories.py: {"device", "steps", "crop", "jobs": [...]}."""
    with gzip.open(path, "rt") as f:
        return json.load(f)


def fake_data(folder: Path, size: int = 96) -> Path:
    """A stand-in for DATA in smoke runs: every image of SPLITS as a small crop of one of scikit-image's photos."""
    import numpy as np
    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    for i, rel in enumerate(sorted({p for paths in SPLITS.values() for p in paths})):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if "mask" in path.stem:  # white (known) with black stripes every 8 rows
            Image.fromarray(np.where(np.arange(size)[:, None] % 8 < 2, 0, 255).repeat(size, 1).astype(np.uint8)).save(path)
        else:
            Image.fromarray(np.ascontiguousarray(photos[i % len(photos)][:size, :size])).save(path)
    return folder


def shown_along_fit(problem: Any, prior: str, steps: list[int],
                    **settings: Any) -> tuple[dict[int, Any], dict[int, Any], Any]:
    """The outputs `invert restore` would show (moving average, known pixels kept) at each of `steps` along one
    fit of `prior` to `problem` (a `restoration.Problem`) with auto-stop off, the prior's raw outputs there (what
    the stop rules measure), and the restoration at the last step."""
    from invert import restoration

    shots, raws = {}, {}

    def watch(step: int, loss: float, raw: Any, shown: Any) -> None:
        if step + 1 in steps:
            shots[step + 1] = restoration.keep_known(problem, shown).clone()
            raws[step + 1] = raw.clone()

    done = restoration.restore(problem, prior, steps=max(steps), auto_stop=False, callbacks=(watch,), **settings)
    return shots, raws, done
