"""The Ray executor: the same cells on a local Ray cluster give the same records as the local executor, and a
killed driver resumes like a local study. Skipped where Ray is not installed (CI installs it: `.[test,ray]`)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

ray = pytest.importorskip("ray")

from invert import studies  # noqa: E402
from invert.errors import InvertError  # noqa: E402

from test_studies import SPEC, run_to_report, write  # noqa: E402

pytestmark = pytest.mark.slow  # a Ray cluster starts for these: the full suite runs them, not -m "not slow"

TIMINGS = {"seconds", "wall_seconds"}


@pytest.fixture
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def records(out):
    return {key: {k: v for k, v in json.loads((out / "cells" / key / "record.json").read_text())["record"].items()
                  if k not in TIMINGS}
            for key in studies.read_manifest(out)}


def test_ray_gives_the_local_executors_records_cell_by_cell(tmp_path, local_cluster):
    spec = studies.load_spec(write(tmp_path, SPEC))
    here, there = tmp_path / "local", tmp_path / "ray"
    here.mkdir()
    there.mkdir()
    assert studies.run_study(spec, here, threads=1)[:2] == (16, 16)
    assert studies.run_study(spec, there, threads=1, executor="ray")[:2] == (16, 16)
    local, remote = records(here), records(there)
    assert local.keys() == remote.keys() and len(local) == 16
    assert all(local[k] == remote[k] for k in local), [k for k in local if local[k] != remote[k]]
    assert all(r["threads"] == 1 for r in remote.values())


def test_a_cuda_spec_on_a_cluster_without_gpus_is_refused_before_any_cell(tmp_path, local_cluster):
    spec = studies.load_spec(write(tmp_path, SPEC.replace("transfer = false", 'transfer = false\ndevice = "cuda"')))
    out = tmp_path / "study"
    out.mkdir()
    with pytest.raises(InvertError, match="the Ray cluster has no GPU"):
        studies.run_study(spec, out, threads=1, executor="ray")
    assert not studies.read_manifest(out)


def test_an_atlas_runs_on_ray_like_any_study(tmp_path, local_cluster):
    """Its cells (batches of units) run as Ray tasks; the examples' index is built here, before them."""
    out = run_to_report(tmp_path, 'task = "atlas"\nlayers = ["blocks.1"]\nchannels = [0, 1, 2, 3]\nbatch = 2\n'
                                  'priors = ["tv"]\nsteps = 2\nimages = ["skimage:coffee", "skimage:astronaut"]\n'
                                  'top = 1\n', threads=1, executor="ray")
    assert len(studies.read_manifest(out)) == 2
    data = json.loads((out / "atlas.json").read_text())
    assert [u["unit"] for u in data["units"]] == [0, 1, 2, 3] and all(len(u["examples"]) == 1 for u in data["units"])


def test_a_killed_ray_driver_resumes(tmp_path):
    spec = write(tmp_path, SPEC.replace("steps = 2", "steps = 40"))
    out = tmp_path / "study"
    command = [sys.executable, "-m", "invert.cli", "study", "run", str(spec), "--out", str(out), "--executor", "ray",
               "--threads", "1", "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    driver = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600  # generous: a busy machine is slow, never a failure
    while len(studies.read_manifest(out)) < 3 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.5)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local cluster it started
    driver.wait()
    before = {key: (out / "cells" / key / "record.json").stat().st_mtime_ns for key in studies.read_manifest(out)}
    assert 3 <= len(before) < 16
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    after = studies.read_manifest(out)
    assert len(after) == 16
    assert all((out / "cells" / key / "record.json").stat().st_mtime_ns == t for key, t in before.items())


def test_an_address_where_nothing_listens_is_one_line():
    with pytest.raises(InvertError, match="no Ray cluster answers at 127.0.0.1:1"):  # not Ray's minutes of retries
        studies.runner._reachable("127.0.0.1:1")
