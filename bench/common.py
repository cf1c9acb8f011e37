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

from invert.report import machine, versions, write_json

RESULTS = Path(__file__).resolve().parent / "results"
# photos for pre-images (paths under DATA): recipes are chosen on `design` and measured on `heldout`, which
# tests never use; on most of them Lite0 and Lite2 agree on the class
PREIMAGE_PHOTOS = {
    "heldout": ["sr/Set14/zebra.png", "sr/Set14/monarch.png", "sr/Set14/pepper.png", "sr/Set14/baboon.png",
                "sr/Set5/bird.png", "denoising/F16_GT.png"],
    "design": ["feature_inversion/monkey.jpg", "sr/Set14/coastguard.png", "inpainting/library.png",
               "feature_inversion/building.jpg", "denoising/kodim12.png", "deep_decoder/poster_rgb.png"],
}
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


def save_result(kind: str, payload: dict[str, Any]) -> Path:
    """Write `payload` with date, command, machine and versions to bench/results/<kind>-<device>-<date>.json."""
    import torch

    device = "cuda" if torch.cuda.is_available() and payload.get("device", "").startswith("cuda") else "cpu"
    today = dt.date.today().isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{kind}-{device}-{today}.json"
    record = {"benchmark": kind, "date": dt.datetime.now().isoformat(timespec="seconds"),
              "command": " ".join(["python", *sys.argv]), "machine": machine(), "versions": versions(), **payload}
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
