"""Running a checked study spec into a folder with one progress bar and its report: the `study` command, and
the form `preimage` and `restore` take when given several images or seeds."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .output import prepare_output_dir, say

if TYPE_CHECKING:
    from ..studies import Spec


def run_spec(spec: Spec, folder: str, *, overwrite: bool, workers: int = 1, threads: int | None = None,
             quiet: bool = False, executor: str = "local", address: str | None = None) -> int:
    """Run a checked spec into `folder` (claimed first; a study's own folder is resumed, not refused) with one
    progress bar, then write its report. Also the batch form of `preimage` and `restore`."""
    return run_claimed(spec, prepare_output_dir(folder, overwrite=overwrite), workers=workers, threads=threads,
                       quiet=quiet, executor=executor, address=address)


def run_claimed(spec: Spec, out: Path, *, workers: int = 1, threads: int | None = None, quiet: bool = False,
                executor: str = "local", address: str | None = None) -> int:
    """`run_spec` into a folder this run has claimed already."""
    from tqdm.auto import tqdm

    from .. import files, studies

    cells = spec.cells()
    bar = tqdm(total=len(cells), unit="cell", disable=None if not quiet else True, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

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
