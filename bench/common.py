"""Shared by the benchmarks: where results go and what they record about the machine."""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from invert.report import machine, versions, write_json

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(os.environ.get("INVERT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


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
