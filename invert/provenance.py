"""How a result was made, written beside it: the command, versions, threads and load, and the JSON writer that
stamps every file with the schema version (`SCHEMA`)."""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from . import files, threads
from .errors import InvertError

SCHEMA = 1  # the version of every JSON this package writes; readers accept it and every earlier one


def stamp(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with this version's schema number first: every JSON the package writes carries it."""
    return {"schema": SCHEMA, **{k: v for k, v in data.items() if k != "schema"}}


def check_schema(data: dict[str, Any], where: str) -> int:
    """The schema version of a JSON read back (0 before versions were written); a newer one is refused."""
    version = data.get("schema", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA:
        raise InvertError(f"{where} was written by a newer version of invert (schema {version!r}; this one reads up "
                          f"to {SCHEMA}); upgrade invert to read it")
    return version


def run_info() -> dict[str, Any]:
    """What every result.json records about how it was made: the command, versions, torch's CPU threads, how
    their number was chosen and the machine's load (timings depend on both)."""
    return {"command": command_line(), "versions": versions(), "threads": torch.get_num_threads(),
            "thread_choice": threads.choice() or None, "load_average": _load_average()}


def _load_average() -> list[float] | None:
    """The machine's 1-, 5- and 15-minute load averages (None where the system does not say)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def versions() -> dict[str, str]:
    from . import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "invert": __version__}


def machine() -> dict[str, Any]:
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "load_average": _load_average()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_json(data: dict[str, Any], path: str | os.PathLike) -> None:
    """Strict JSON with the schema version, written atomically: a number that is not finite becomes null, and a
    note says where."""
    replaced: list[str] = []
    clean = files.finite_json(json.loads(json.dumps(stamp(data), default=float)), replaced=replaced)
    if replaced:
        shown = ", ".join(replaced[:5]) + (f" and {len(replaced) - 5} more" if len(replaced) > 5 else "")
        clean["notes"] = [*clean.get("notes", []), f"null where the value was not finite: {shown}"]
    files.write_text(path, json.dumps(clean, indent=2, allow_nan=False) + "\n")


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
