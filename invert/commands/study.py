"""`invert study run SPEC --out DIR` and `invert study report DIR`: many cells as one resumable job."""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ..defaults import EXECUTORS
from ..errors import InvertError
from . import options
from .batch import run_spec
from .output import say


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="images × layers × priors × seeds as one resumable job, with a report",
                       **options.example("invert study run study.toml --out runs/study",
                                         "invert study report runs/study"))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    run_p = actions.add_parser("run", help="run the cells of a spec not yet done, then write the report",
                               **options.example("invert study run study.toml --out runs/study --workers 2"))
    run_p.add_argument("spec", help="the study's TOML file")
    run_p.add_argument("--out", required=True, help="the study's folder; rerun into it to resume")
    run_p.add_argument("--workers", type=options.whole(1, 64), default=1,
                       help="worker processes (default 1); the cores are shared out among them")
    run_p.add_argument("--threads", type=options.whole(1, 256), default=None,
                       help="torch threads per worker (default: the cores shared out among the workers)")
    run_p.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local worker processes, or Ray tasks (pip install 'invert[ray]')")
    run_p.add_argument("--address", default=None,
                       help="with --executor ray: a cluster to join (auto, or HOST:PORT); none starts a local one")
    run_p.add_argument("--quiet", action="store_true", help="no progress bar")
    run_p.set_defaults(run=run)
    report_p = actions.add_parser("report", help="re-make report.md and report.html from the manifest",
                                  **options.example("invert study report runs/study"))
    report_p.add_argument("out", help="the study's folder")
    report_p.set_defaults(run=report)


def run(args: argparse.Namespace) -> int:
    from .. import studies

    spec = studies.load_spec(args.spec)  # every name in the spec is checked before any cell runs
    if args.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise InvertError("--executor ray needs Ray: pip install 'invert[ray]'")
    return run_spec(spec, args.out, workers=args.workers, threads=args.threads,
                    quiet=args.quiet, executor=args.executor, address=args.address)


def report(args: argparse.Namespace) -> int:
    from .. import studies

    out = Path(args.out)
    if not (out / studies.MANIFEST).is_file():
        raise InvertError(f"{out} is not a study folder (no {studies.MANIFEST}); give the --out of `invert study run`")
    damaged: list[str] = []
    studies.read_manifest(out, damaged)
    say(*damaged)
    md, html = studies.write_report(out)
    pages = [md, html] + [out / "atlas.html"] * (out / "atlas.html").is_file()  # an atlas study's page too
    say(f"wrote {', '.join(map(str, pages[:-1]))} and {pages[-1]}")
    return 0
