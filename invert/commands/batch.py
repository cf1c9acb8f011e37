"""Running a checked study spec into a folder with one progress bar and its report: the `study` command, and
the form `preimage` and `restore` take when given several images or seeds."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .output import prepare_output_dir, say

if TYPE_CHECKING:
    from ..studies import Spec


def claim_study(folder: str, overwrite: bool) -> Path:
    """Claim `folder` for a study: a new or empty one, another with `overwrite`, and a study's own folder (its
    manifest is written when a study starts, so also one killed before its first cell) to resume it."""
    from ..studies import MANIFEST

    return prepare_output_dir(folder, overwrite=overwrite or (Path(folder) / MANIFEST).is_file())


def run_spec(spec: Spec, folder: str, *, overwrite: bool = False, workers: int = 1, threads: int | None = None,
             quiet: bool = False, executor: str = "local", address: str | None = None) -> int:
    """Run a checked spec into `folder` (claimed first; a study's own folder is resumed, not refused) with one
    progress bar, then write its report. Also the batch form of `preimage`, `restore` and `atlas`."""
    return run_claimed(spec, claim_study(folder, overwrite), workers=workers, threads=threads,
                       quiet=quiet, executor=executor, address=address)


def run_claimed(spec: Spec, out: Path, *, workers: int = 1, threads: int | None = None, quiet: bool = False,
                executor: str = "local", address: str | None = None) -> int:
    """`run_spec` into a folder this run has claimed already."""
    from tqdm.auto import tqdm

    from .. import files, operations, studies
    from .output import keep_when

    keep_when(out, lambda: bool(studies.read_manifest(out)))  # a failure later never removes finished cells
    damaged: list[str] = []
    studies.read_manifest(out, damaged)
    say(*damaged)
    operations.get(spec.task).prepare(spec, out)  # an atlas's examples (and with them its accentuation cells)
    changed = studies.spec_changes(out, spec)  # run_study checks the spec's size, then records it
    if changed:
        say(f"{out} holds cells of another spec (it differed in {', '.join(changed)}); they are kept, and the report "
            "shows the settings that differ in its rows instead of averaging them together")
    cells = spec.cells()
    bar = tqdm(total=len(cells), unit="cell", disable=None if not quiet else True, dynamic_ncols=True)

    started, first = time.monotonic(), None

    def progress(done: int, total: int) -> None:
        nonlocal first
        bar.n = done
        bar.refresh()
        if quiet or sys.stderr.isatty():  # a terminal has the bar
            return
        first = done - 1 if first is None else first  # cells done before this run do not count towards its pace
        pace = (time.monotonic() - started) / max(1, done - first)
        say(f"cell {done} of {total} done; about {pace * (total - done) / 60:.0f} min left")  # a log gets a line

    ran, total, interrupted = studies.run_study(spec, out, workers=workers, threads=threads, progress=progress,
                                                executor=executor, address=address)
    bar.close()
    finished = len(studies.read_manifest(out))
    if finished:
        with files.interrupts_held(deliver=False) as held:
            studies.write_report(out)
    else:
        held = []
    pages = " and ".join(p.name for p in (out / "atlas.html", out / "report.html") if p.is_file()) or "no report yet"
    say(f"{ran} cells run now, {finished} of {total} done; {pages} in {out}"
        + (" (interrupted: run the same command again to go on)" if interrupted or held else ""))
    return 130 if interrupted or held else 0
