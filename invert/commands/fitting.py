"""What the commands that fit pre-images or maximize units share (preimage, maximize, compare): their
options, the judges they load, the stall warning and result.json."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable

from ..defaults import RESTARTS, STALL_RATIO
from .. import tasks
from . import options
from .model_args import add_model_args
from .output import say

if TYPE_CHECKING:
    from ..preimages import Cell, Judges


def add_common(p: argparse.ArgumentParser, restarts: bool = True) -> None:
    """The options of the commands that fit pre-images or maximize units (preimage, compare, maximize)."""
    add_model_args(p)
    p.add_argument("--steps", type=options.COUNT, default=None,
                   help="optimization steps per pre-image (default: the preset's; more at deep layers)")
    p.add_argument("--no-transfer", action="store_true", help="skip the independent model's check (saves memory)")
    options.add_settings(p, tasks.Recipe)  # the recipe's typed settings, as in a study spec
    if restarts:  # pre-images: a fit that stalls is run again
        p.add_argument("--restarts", type=options.whole(0, 100), default=RESTARTS, metavar="N",
                       help=f"run a failed pre-image (feature loss not below {STALL_RATIO:g}× a flat grey image's, or the "
                            "model's class of it not the photo's) again, up to N times: run on if it had moved, else "
                            f"from another seed (default {RESTARTS})")


def recipe(args: argparse.Namespace) -> tasks.Recipe:
    """The recipe settings the user gave (none: each prior's preset decides)."""
    return tasks.Recipe(**options.given_settings(tasks.Recipe, args))


def fit_settings(args: argparse.Namespace) -> dict:
    """The keyword arguments of `invert_layer` and `maximize` that come from the command line."""
    settings = dict(steps=args.steps, seed=args.seed, device=args.device, progress=not args.quiet,
                    objective=recipe(args).objective())
    if hasattr(args, "restarts"):
        settings["restarts"] = args.restarts
    return settings


def warn_if_failed(cell: Cell) -> None:
    record = cell.record
    if record.get("failure") is None:
        return
    why = (f"stalled (feature loss {record['feature_loss']:.3f}, a flat grey image has "
           f"{record['flat_feature_loss']:.3f})" if record["stalled"] else
           f"ended with another class ({record['top1_name']}, the photo's is {record['top1_original_name']})")
    say(f"{record['layer']} · {record['prior']}: the fit {why} after {record['restarts']} restarts; the cell shows "
        f"the best attempt, marked {record['failure'].upper()}")


def load_judges(args: argparse.Namespace) -> Judges:
    from invert import zoo

    from ..engine import resolve_device
    from ..preimages import Judges, transfer_model_name

    device = resolve_device(args.device)
    model = zoo.load(args.model, weights=args.weights)
    model.model.to(device)
    transfer = None if args.no_transfer else zoo.load(transfer_model_name(model.name))
    return Judges(model, transfer)


def check_layers(judges: Judges, layers: list[str]) -> None:
    from invert import zoo

    zoo.find_layers(judges.model.model, layers, judges.model.name)


def write_result(args: argparse.Namespace, judges: Judges, cells: list[Cell], interrupted: bool, out,
                 faithful: Callable[[Cell], dict[str, Any]] | None = None, **extra) -> None:
    """result.json; `faithful(cell)` adds each picture's faithfulness scores (invert/faithfulness.py)."""
    from .. import report
    from ..engine import resolve_device

    records = [cell.record if faithful is None else {**cell.record, "faithfulness": faithful(cell)} for cell in cells]
    report.write_json({
        **report.run_info(),
        "model": judges.model.name,
        "transfer_model": judges.transfer.name if judges.transfer else None,
        "seed": args.seed,
        "device": str(resolve_device(args.device)),
        **extra,
        "interrupted": interrupted,
        "records": records,
    }, out / "result.json")
    total = sum(r["seconds"] for r in records)
    say(f"{len(records)} pictures in {total:.0f} s of fitting; results in {out}/"
        + (" (interrupted: grid.png shows what is missing or cut short)" if interrupted else ""))
