"""Running a study's cells not yet done: here one after another, in worker processes, or as Ray tasks; each
cell a plain function of its settings (`run_cell`), its files in DIR/cells/KEY/."""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

import torch

from .. import files, images, operations
from ..defaults import EXECUTORS
from ..engine import resolve_device
from ..errors import InvertError
from ..provenance import write_json
from ..threads import available_cores, set_threads, using
from .manifest import MANIFEST, append, read_manifest, record_spec, finished_cells, unfinished
from .spec import Spec, StudyError, cell_key, check_size


def run_cell(settings: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Fit one cell, write its image and record.json into `folder`, and return its record. A plain function of
    its settings: any executor can run it."""
    start = time.perf_counter()
    result = operations.get(settings["task"]).run_cell(settings)
    fit = result.fit
    folder.mkdir(parents=True, exist_ok=True)
    images.save_image(images.side_by_side(result.image), folder / "image.png")  # a batch (an atlas cell): a strip
    record = {**result.to_json(), "losses": [h["loss"] for h in fit.history], "threads": torch.get_num_threads(),
              "wall_seconds": round(time.perf_counter() - start, 2), "interrupted": bool(fit.interrupted)}
    write_json({"settings": settings, "record": record}, folder / "record.json")
    return record


def _init_worker(threads: int) -> None:
    _exit_with_parent()
    files.honour_interrupts()  # a closed terminal cuts the worker's cell as Ctrl-C does, not the worker
    set_threads(threads)


def _exit_with_parent() -> None:
    """A worker whose study was killed (its parent gone) stops within a second instead of fitting on alone."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _worker(settings: dict[str, Any], folder: str) -> dict[str, Any]:
    return run_cell(settings, Path(folder))


def _remote_cell(settings: dict[str, Any], threads: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A cell run where the study's folder may not be: its files come back as bytes for the driver to write."""
    import tempfile

    set_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        record = run_cell(settings, Path(tmp))
        return record, {p.name: p.read_bytes() for p in Path(tmp).iterdir()}


def _gpus(settings: dict[str, Any]) -> int:
    """The GPUs a cell asks Ray for: one when its device is CUDA."""
    return int(str(settings["device"]).startswith("cuda"))


def _reachable(address: str) -> None:
    """A cluster's HOST:PORT answers within 3 s, or a one-line error (Ray itself retries for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=3).close()
    except (OSError, ValueError):
        raise InvertError(f"no Ray cluster answers at {address}; start one (ray start --head) or check --address") \
            from None


def _run_on_ray(todo: list[dict[str, Any]], out: Path, threads: int, address: str | None,
                record_done: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    """The cells as Ray tasks (a local cluster when `address` is None, else the one there; "auto" joins a running
    one). Each task asks for `threads` CPUs, and a GPU when its device is CUDA; a worker process keeps the
    models it loaded for the tasks after. The driver writes every cell's files and the manifest."""
    import ray

    if address and address != "auto":
        _reachable(address)
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else available_cores(), include_dashboard=False,
                 log_to_driver=False)
    if any(_gpus(s) for s in todo) and not ray.cluster_resources().get("GPU"):
        raise InvertError("the spec's device is CUDA but the Ray cluster has no GPU; use device = \"cpu\" or "
                          "\"auto\", or join a cluster with GPUs (--address)")
    tasks = {gpus: ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=1)(_remote_cell) for gpus in (0, 1)}
    pending = {tasks[_gpus(s)].remote(s, threads): s for s in todo}
    try:
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            settings = pending.pop(ready)
            record, payload = ray.get(ready)
            folder = out / "cells" / cell_key(settings)
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in payload.items():
                files.write_bytes(folder / name, data)
            record_done(settings, record)
    finally:
        for ref in pending:  # cut short: the tasks not yet returned are dropped (they rerun next time)
            ray.cancel(ref, force=True)


def run_study(spec: Spec, out: Path, *, workers: int = 1, threads: int | None = None,
              progress: Callable[[int, int], None] | None = None, executor: str = "local",
              address: str | None = None) -> tuple[int, int, bool]:
    """Run the spec's cells not yet in the manifest, `workers` at a time (each with `threads` torch threads;
    default: the cores shared out), here ("local") or as Ray tasks ("ray", on the cluster at `address`, a
    local one without). Returns (cells run now, cells in all, whether Ctrl-C cut it short);
    `progress(done, total)` is called after each cell."""
    if executor not in EXECUTORS:
        raise InvertError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    check_size(spec, "the study")  # as read (spec_of checked it too); again below with what prepare adds
    if executor != "ray":
        resolve_device(spec.device)  # here, before any work: a CUDA spec on a machine without one is refused
    operations.get(spec.task).prepare(spec, out)  # before the cells: an atlas's accentuation cells need its examples
    check_size(spec, "the study")
    todo_all = spec.cells()
    record_spec(out, spec)  # what a report of this folder compares its cells with (INCOMPLETE until all are done)
    done = read_manifest(out)
    todo = [s for s in todo_all if cell_key(s) not in done]
    total, finished = len(todo_all), len(todo_all) - len(todo)
    threads = threads or max(1, available_cores() // max(1, workers))
    ran = 0
    (out / MANIFEST).touch()  # the folder is a study's from now on: a rerun resumes it, even after a kill

    def cut(settings: dict[str, Any]) -> tuple[int, int, bool]:
        """A cell stopped by Ctrl-C or SIGTERM: marked as cut (it runs again on resume), and the study stops."""
        append(out, {"key": cell_key(settings), "status": "cut", "settings": settings,
                      "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
        return ran, total, True

    def record_done(settings: dict[str, Any], record: dict[str, Any]) -> None:
        nonlocal ran
        append(out, {"key": cell_key(settings), "status": "done", "settings": settings,
                      "metrics": {k: v for k, v in record.items() if k != "losses" and not isinstance(v, (dict, list))},
                      "threads": threads, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
        ran += 1
        if progress is not None:
            progress(finished + ran, total)

    try:
        if executor == "ray":
            _run_on_ray(todo, out, threads, address, record_done)
        elif workers <= 1:
            with using(threads):
                for settings in todo:
                    record = run_cell(settings, out / "cells" / cell_key(settings))
                    if record["interrupted"]:
                        return cut(settings)
                    record_done(settings, record)
        else:
            context = get_context("spawn")  # fresh interpreters: no torch thread pools inherited through fork
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                     initargs=(threads,)) as pool:
                futures = {pool.submit(_worker, s, str(out / "cells" / cell_key(s))): s for s in todo}
                for future in as_completed(futures):
                    record = future.result()
                    if record["interrupted"]:
                        pool.shutdown(wait=True, cancel_futures=True)
                        return cut(futures[future])
                    record_done(futures[future], record)
    except KeyboardInterrupt:
        return ran, total, True
    return ran, total, False


def write_report(out: Path) -> tuple[Path, Path]:
    """report.md and report.html from the manifest alone (and the cells it points to)."""
    from .report import study_report

    cells = finished_cells(out)
    if not cells:
        raise StudyError(f"{out} has no finished cells yet; run the study first")
    missing = unfinished(out, cells)
    written = study_report(out, cells, missing)
    operations.get(cells[0][0]["task"]).report(out, cells, missing)
    return written
