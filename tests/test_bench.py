"""Every benchmark runs end to end in its smoke form (`python -m bench NAME --smoke`): its SMOKE arguments, stand-in
images for the papers' data, results in a temporary folder. What needs a GPU or an optional package skips, and
says which."""
import importlib.util

import pytest
import torch

from bench import __main__ as bench_main


def _missing(requirement: str) -> str | None:
    if requirement == "cuda":
        return None if torch.cuda.is_available() else "needs a CUDA GPU"
    if importlib.util.find_spec(requirement) is None:
        return f"needs {requirement} (pip install '.[bench]')"
    return None


@pytest.mark.slow
@pytest.mark.parametrize("name", bench_main.NAMES)
def test_benchmark_runs_in_its_smoke_form(name, monkeypatch, capsys):
    module = importlib.import_module(f"bench.{name}")
    for requirement in getattr(module, "REQUIRES", []):
        if (reason := _missing(requirement)) is not None:
            pytest.skip(f"bench {name} {reason}")
    monkeypatch.setattr("sys.argv", ["bench", name, "--smoke"])
    bench_main.run(name, [], smoke=True)
    assert "wrote " in capsys.readouterr().out or name == "trajectories"


def test_every_benchmark_has_a_smoke_form():
    for name in bench_main.NAMES:
        assert isinstance(importlib.import_module(f"bench.{name}").SMOKE, list), name
