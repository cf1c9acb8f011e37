"""What a command leaves behind: outputs claimed before any work (a folder or a file by one run at a time, never
over a user's files or the run's own inputs), removed again when the run fails before it has a result (a study's
finished cells are a result), and notes on stderr."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterable

from ..errors import InvertError

LOCK = ".invert-run"  # inside a claimed folder while a run writes there; holds the run's process id


class _Claim:
    """An output path and what this run created for it, to be removed if the run fails (unless `keeps()` says
    that what is there by then is a result, as a study's finished cells are)."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind = path, kind
        self.created = _first_missing(path if kind == "folder" else path.parent)
        self.before: set[str] = set()
        self.lock = path / LOCK if kind == "folder" else path.with_name(f".{path.name}{LOCK}")
        self.keeps: Callable[[], bool] = lambda: False

    def release(self, failed: bool) -> None:
        self.lock.unlink(missing_ok=True)
        if not failed or self.keeps():
            return
        if self.created is not None:
            shutil.rmtree(self.created, ignore_errors=True)
        elif self.kind == "folder":
            for name in set(os.listdir(self.path)) - self.before:
                target = self.path / name
                shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)


_claims: list[_Claim] = []


def _first_missing(path: Path) -> Path | None:
    """The outermost of `path` and its parents that does not exist yet (None when `path` exists)."""
    missing = None
    for candidate in [path, *path.parents]:
        if candidate.exists():
            break
        missing = candidate
    return missing


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _lock(out: Path, lock: Path) -> None:
    """Take `out` for this run; refuse while another live run holds it (a dead run's lock is taken over)."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except OSError as exc:
            if not isinstance(exc, FileExistsError):  # /proc, a read-only or full disk: before any work, not after
                raise InvertError(f"cannot write in {lock.parent}: {exc.strerror}; choose a writable output") from None
            try:
                holder = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                raise InvertError(f"output {out} is in use by another run (process {holder}); wait for it "
                                  "to finish or choose another output") from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return
    raise InvertError(f"cannot take output {out}: another run keeps claiming it; choose another output")


def _inputs_kept(out: Path, inputs: Iterable[str | os.PathLike | None], folder: bool) -> None:
    """Refuse an output that would write over one of the run's own inputs (even with --overwrite)."""
    for given in inputs:
        if given is None or str(given).startswith("skimage:") or not Path(given).exists():
            continue
        source = Path(given).resolve()
        target = out.resolve()
        if source == target or (folder and target in source.parents):
            where = f"inside the output folder {out}" if folder else f"the output {out}"
            raise InvertError(f"the input {given} is {where}, which this run writes; choose another output")


def keep_when(out: Path, has_results: Callable[[], bool]) -> None:
    """Keep what is in the claimed `out` after a failure when `has_results()` says it holds results."""
    for claim in _claims:
        if claim.path == out:
            claim.keeps = has_results


def prepare_output_dir(path: str, overwrite: bool, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Claim folder `path` for this run: created (or accepted empty; non-empty only with `overwrite`), writable,
    not holding one of the run's `inputs`, and locked against a concurrent run until the command ends."""
    if not path or not path.strip():
        raise InvertError("--out is empty; give a folder for the results, e.g. --out runs/denoise")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InvertError(f"--out {out} is a file, not a folder; choose another path")
    _inputs_kept(out, inputs, folder=True)
    claim = _Claim(out, "folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvertError(f"cannot create output folder {out}: {exc.strerror}; choose a writable --out") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InvertError(f"output folder {out} is not writable; choose a writable --out")
    _lock(out, claim.lock)
    _claims.append(claim)
    claim.before = set(os.listdir(out)) - {LOCK}
    if claim.before and not overwrite:
        raise InvertError(f"output folder {out} already exists and is not empty; choose another --out or add "
                          "--overwrite")
    return out


def prepare_output_file(path: str, overwrite: bool, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Claim file `path` before any work: not there (unless `overwrite`), not one of the run's `inputs`, its
    folder created if needed and writable, locked against a concurrent run writing the same file (a lock file
    beside it) until the command ends. The file itself is written atomically at the end."""
    out = Path(path)
    if out.is_dir():
        raise InvertError(f"{out} is a folder; give a file name")
    _inputs_kept(out, inputs, folder=False)
    if out.exists() and not overwrite:
        raise InvertError(f"{out} already exists; choose another name or add --overwrite")
    claim = _Claim(out, "file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvertError(f"cannot create folder {out.parent}: {exc.strerror}; choose a writable path") from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        claim.release(failed=True)
        raise InvertError(f"folder {out.parent} is not writable; choose a writable path")
    _lock(out, claim.lock)
    _claims.append(claim)
    return out


def release(failed: bool) -> None:
    """End this run's claims: unlock its folders, and when it `failed` before a result remove what it made."""
    while _claims:
        _claims.pop().release(failed)


def say(*lines: str) -> None:
    """Tell the user, on stderr, what was done for them (conversions, defaults, where results went)."""
    for line in lines:
        try:
            print(f"invert: {line}", file=sys.stderr)
        except OSError:  # a terminal that went away: the run goes on, its results are what counts
            pass
