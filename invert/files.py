"""Writing results so that none is lost or half-written: each file appears whole or not at all, and an
interrupt that arrives while results are being saved waits until they are."""
from __future__ import annotations

import math
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_held(deliver: bool = True) -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM received inside the block wait until its end (the signals are yielded as a list);
    then they are raised again for whoever handled them before, unless `deliver` is False (the caller has
    finished its work and says so itself)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield received
        return
    previous = {s: signal.signal(s, lambda signum, _frame: received.append(signum)) for s in INTERRUPTS}
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
