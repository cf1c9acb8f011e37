"""`python -m bench NAME [ARGS]`: run one benchmark; `python -m bench` lists them; `--smoke` runs NAME tiny
(its SMOKE arguments, stand-in images for the papers' data, results in a temporary folder)."""
from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

from . import common

NAMES = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem not in ("__init__", "__main__", "common"))


def run(name: str, argv: list[str], smoke: bool = False) -> None:
    """Run benchmark `name` with `argv`; `smoke`: with its SMOKE arguments, stand-in data and a throw-away
    results folder."""
    if name not in NAMES:
        raise SystemExit(f"bench: unknown benchmark {name!r}; one of {', '.join(NAMES)}")
    module = importlib.import_module(f"bench.{name}")
    if not smoke:
        module.main(argv)
        return
    kept = common.DATA, common.RESULTS
    with tempfile.TemporaryDirectory() as tmp:
        data = common.fake_data(Path(tmp) / "data")
        common.DATA, common.RESULTS = data, Path(tmp) / "results"
        try:
            if hasattr(module, "smoke_setup"):  # e.g. the recorded runs a benchmark reads
                module.smoke_setup(Path(tmp))
            module.main([*(a.format(data=data, tmp=tmp) for a in module.SMOKE), *argv])
        finally:
            common.DATA, common.RESULTS = kept


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        for name in NAMES:
            doc = (importlib.import_module(f"bench.{name}").__doc__ or "").strip().splitlines()
            print(f"  {name:<18} {doc[0] if doc else ''}")
        return
    name, rest = argv[0], argv[1:]
    smoke = "--smoke" in rest
    run(name, [a for a in rest if a != "--smoke"], smoke)


if __name__ == "__main__":
    main()
