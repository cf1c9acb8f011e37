"""CPU threads for torch that hold up when several processes share the cores.

torch's CPU kernels run on GNU OpenMP, whose idle threads spin for a while (300,000 rounds, milliseconds)
before they sleep. Two or three `invert` processes on two cores then burn each other's time slices spinning,
and every one of them crawls (18–30× slower instead of 2–3×). Two changes, chosen by measurement
(bench/results/thread_policy_probe*.json, docs/speed.md):

- `prepare`, before torch loads (at `import invert`, so at the command line's start too): idle threads spin
  briefly (GOMP_SPINCOUNT) instead of for milliseconds.
  Not at all (OMP_WAIT_POLICY=PASSIVE) made two threads slower than one even alone: waking a sleeping
  thread costs more than the work between two parallel regions here.
- `choose`: as many threads as there are cores that other processes left free, measured while this process
  starts (CPU time of the whole machine less this process's own, over the seconds torch takes to import).

The command line chooses at start (`set_threads` with its --threads); the library chooses at its first fit
(`apply`, from `invert.fit`), once per process, unless a choice was made already: by `set_threads`, by the
command line or the tests (`choose`), or by the OMP_NUM_THREADS variable. A bare `torch.set_num_threads` is
not seen (torch does not say whether its count was set or is its default): call `set_threads` instead.

This module imports nothing heavy: the command line calls it before torch is imported.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Any, Iterator

from .errors import SettingError

# libgomp reads these once, when torch loads it; a user's own setting of either is kept
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
SPIN_COUNT = "10000"
# below this the start-up window says little about the machine's load: sample for this long instead
MIN_WINDOW = 0.2
# above this the window (from `import invert` in a notebook to its first fit, say) says more about the past than
# about now: sample afresh
MAX_WINDOW = 60.0

_start: tuple[float, float, float] | None = None  # (wall, machine busy CPU, own CPU) seconds
_choice: dict[str, Any] = {}


def _busy_seconds() -> float | None:
    """CPU seconds the machine has spent busy, summed over its CPUs (None where unknown)."""
    try:
        with open("/proc/stat") as stat:
            fields = [float(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle and waiting for I/O
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest time is counted in user)
    return (total - idle) / ticks


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _snapshot() -> tuple[float, float, float] | None:
    busy = _busy_seconds()
    return None if busy is None else (time.monotonic(), busy, _own_seconds())


def prepare() -> None:
    """Before torch loads: a short OpenMP spin (unless the user set one), and the start of the load window."""
    global _start
    if not any(name in os.environ for name in WAIT_VARIABLES):
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    if _start is None:  # `import invert` prepares; a later call (the command line's) keeps that window
        _start = _snapshot()


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy_elsewhere() -> float | None:
    """How many cores other processes kept busy since `prepare` (or over the last MIN_WINDOW seconds when that
    window is too short or too old)."""
    start = _start
    if start is None or not MIN_WINDOW <= time.monotonic() - start[0] <= MAX_WINDOW:
        start = _snapshot()
        time.sleep(MIN_WINDOW)
    end = _snapshot()
    if start is None or end is None or end[0] <= start[0]:
        return None
    others = (end[1] - start[1]) - (end[2] - start[2])  # busy CPU seconds, less this process's own
    return max(0.0, others / (end[0] - start[0]))


def choose(requested: int | None = None) -> int:
    """The thread count: the one asked for, else the cores this process may use that others leave free."""
    global _choice
    cores = available_cores()
    if requested:
        _choice = {"threads": requested, "cores": cores, "how": "asked"}
        return requested
    busy = busy_elsewhere()
    threads = cores if busy is None else max(1, min(cores, round(cores - busy)))
    _choice = {"threads": threads, "cores": cores, "busy_elsewhere": None if busy is None else round(busy, 2),
               "how": "the cores other processes left free"}
    return threads


def choice() -> dict[str, Any]:
    """How this process's threads were chosen (for result.json): threads, cores, the load seen, how; {} before."""
    return dict(_choice)


def set_threads(threads: int | None) -> int:
    """Run torch's CPU work on `threads` threads from now on, or None: on the cores other processes leave free
    now (the command line's policy). Fits keep this choice. Returns the count."""
    import torch

    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise SettingError("threads", f"must be a whole number, at least 1, or None for the policy, got {threads!r}")
    count = choose(threads)
    torch.set_num_threads(count)
    return count


@contextmanager
def using(threads: int) -> Iterator[None]:
    """`threads` threads for the block (a study's cells), then the count and the recorded choice as they were."""
    import torch

    before, previous = dict(_choice), torch.get_num_threads()
    set_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        _choice.clear()
        _choice.update(before)


def apply() -> None:
    """The policy, at a fit: once per process, and not where threads were chosen already (`set_threads`,
    `choose`, OMP_NUM_THREADS). Without it a notebook beside a busy process runs on torch's default of every
    core and crawls (66 s instead of 2.1 s for a small fit on 2 shared cores)."""
    global _choice
    if _choice:
        return
    if os.environ.get("OMP_NUM_THREADS"):
        import torch

        _choice = {"threads": torch.get_num_threads(), "cores": available_cores(), "how": "OMP_NUM_THREADS"}
        return
    set_threads(None)
