"""Writing results so that none is lost or half-written: each file appears whole or not at all, and an
interrupt that arrives while results are being saved waits until they are."""
from __future__ import annotations

import math
import os
import signal
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

# Ctrl-C, SIGTERM and a closed terminal (SIGHUP, where the system has it) all end a run keeping its result
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []))


def honour_interrupts() -> None:
    """Make SIGTERM and SIGHUP end a run as Ctrl-C does (KeyboardInterrupt: the best result so far is saved).
    A SIGHUP ignored by whoever started us (`nohup`) stays ignored."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _hung_up)


def _hung_up(signum: int, frame: Any) -> None:
    """The terminal is gone: what is still said goes nowhere, and the run ends keeping its result."""
    silence_terminal()
    raise KeyboardInterrupt


def silence_terminal() -> None:
    """Point stdout and stderr that are a terminal (one that hung up: a write to it fails) at /dev/null; a log
    file or a pipe is left as it is. A closed stream is left closed."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            try:
                if stat.S_ISCHR(os.fstat(fd).st_mode):  # isatty fails on a terminal that hung up
                    os.dup2(devnull, fd)
            except OSError:
                pass
    finally:
        os.close(devnull)


@contextmanager
def interrupts_held(deliver: bool = True) -> Iterator[list[int]]:
    """Ctrl-C, SIGTERM and SIGHUP received inside the block wait until its end (the signals are yielded as a list);
    then they are raised again for whoever handled them before, unless `deliver` is False (the caller has
    finished its work and says so itself)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield received
        return

    def hold(signum: int, _frame: Any) -> None:
        if signum == getattr(signal, "SIGHUP", None):  # the terminal is gone now: saving must not write to it
            silence_terminal()
        received.append(signum)

    previous = {s: signal.signal(s, hold) for s in INTERRUPTS}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if deliver:
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


@contextmanager
def atomic(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of `path` (same suffix, so writers pick the same format) to write into; it replaces
    `path` only when the block ends without error, and is removed otherwise."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    with interrupts_held():
        try:
            yield temporary
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic(path) as temporary:
        temporary.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode())


def finite_json(value: Any, where: str = "", replaced: list[str] | None = None) -> Any:
    """`value` with every NaN or infinite number replaced by None (strict JSON has neither); the places
    replaced are appended to `replaced`."""
    if isinstance(value, float) and not math.isfinite(value):
        if replaced is not None:
            replaced.append(where or "value")
        return None
    if isinstance(value, dict):
        return {k: finite_json(v, f"{where}.{k}" if where else str(k), replaced) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v, f"{where}[{i}]", replaced) for i, v in enumerate(value)]
    return value
