"""What a study folder holds besides its cells: spec.json (the spec a run followed) and manifest.jsonl (one
line per finished or cut cell, flushed before the next starts) — all a report or a resume needs."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from .. import files
from ..provenance import check_schema, stamp
from .spec import Spec, cell_key

MANIFEST = "manifest.jsonl"

SPEC_FILE = "spec.json"


def _plain(spec: Spec) -> dict[str, Any]:
    """The spec as spec.json holds it."""
    return json.loads(json.dumps(dataclasses.asdict(spec), default=str))


def recorded_spec(out: Path) -> dict[str, Any] | None:
    """The spec `out` followed before, as spec.json holds it (its schema number apart); None when there is none
    or it does not read."""
    try:
        before = json.loads((out / SPEC_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(before, dict):
        return None
    check_schema(before, str(out / SPEC_FILE))
    before.pop("schema", None)
    return before


def spec_changes(out: Path, spec: Spec) -> list[str]:
    """The names of the settings in which `spec` differs from the one `out` followed before (spec.json); [] for
    a new study or the same spec. A setting added since that spec.json was written counts as its default."""
    before = recorded_spec(out)
    if before is None:
        return []
    current, blank = _plain(spec), _plain(Spec(spec.task, []))
    derived = {"tops"}  # what a run finds out (an atlas's top photos), not what the spec says
    return sorted(k for k in (set(current) | set(before)) - derived if current.get(k) != before.get(k, blank.get(k)))


def record_spec(out: Path, spec: Spec) -> None:
    """Keep the spec a run of `out` follows (spec.json): what its report compares the finished cells with."""
    files.write_text(out / SPEC_FILE, json.dumps(stamp(_plain(spec)), indent=2) + "\n")


def read_manifest(out: Path, damaged: list[str] | None = None, records: bool = False) -> dict[str, dict[str, Any]]:
    """Finished cells by key: each one's manifest entry (with `records`, also its `record` from record.json, loss
    curve included: what a report needs, not a resume). A line cut short by a kill, one that is not a cell's entry (edited, foreign bytes)
    and a cell whose record.json does not read are skipped, their cells run again; each is described in
    `damaged` ("manifest line 3: …") for the caller to say."""
    done: dict[str, dict[str, Any]] = {}
    path = out / MANIFEST
    if not path.is_file():
        return done
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if not (isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("settings"), dict)
                and entry["key"] == cell_key(entry["settings"])):
            if damaged is not None and number < len(lines):  # the last line may be one a kill cut short
                damaged.append(f"{MANIFEST} line {number} is not a cell's entry; skipped (its cell runs again)")
            continue
        if entry.get("status") != "done":
            done.pop(entry["key"], None)
            continue
        try:
            cell = out / "cells" / entry["key"]
            record = json.loads((cell / "record.json").read_text())["record"]
            if not (isinstance(record, dict) and (cell / "image.png").is_file()):
                raise ValueError
        except (OSError, ValueError, TypeError, KeyError):
            if damaged is not None:
                damaged.append(f"cells/{entry['key']} lacks its image or its record.json is missing or damaged; "
                               "its cell runs again")
            continue
        done[entry["key"]] = {**entry, "record": record} if records else entry
    return done


def append(out: Path, entry: dict[str, Any]) -> None:
    """One manifest line (with the schema number), flushed to disk before the next cell starts."""
    line = json.dumps(files.finite_json(stamp(entry)), allow_nan=False) + "\n"
    path = out / MANIFEST
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as f:  # a kill mid-line: start on a fresh line, so only the cut entry is lost
            f.seek(-1, os.SEEK_END)
            line = line if f.read(1) == b"\n" else "\n" + line
    with open(path, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def finished_cells(out: Path) -> list[tuple[dict[str, Any], dict[str, Any], Path]]:
    """(settings, record, image path) of every finished cell, from the manifest and the cells' own files."""
    return [(entry["settings"], entry["record"], out / "cells" / key / "image.png")
            for key, entry in read_manifest(out, records=True).items()]


def unfinished(out: Path, cells: list[tuple[dict[str, Any], ...]]) -> str | None:
    """What a report says when the spec in `out` (spec.json) has cells not among `cells`: "INCOMPLETE: …", or
    None when every cell is done (or the spec cannot be read back, as in folders of older versions)."""
    try:
        planned = {cell_key(c) for c in Spec(**(recorded_spec(out) or {})).cells()}
    except (ValueError, TypeError, KeyError):
        return None
    missing = planned - {cell_key(c[0]) for c in cells}
    if not missing:
        return None
    return (f"INCOMPLETE: {len(planned) - len(missing)} of the spec's {len(planned)} cells are done; run the same "
            "command again to finish")
