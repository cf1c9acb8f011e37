"""What the commands that fit pre-images or maximize units share (preimage, maximize, compare): their
options, the judges they load, the stall warning and result.json."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..defaults import RESTARTS, STALL_RATIO
from .. import tasks
from . import options
from .model_args import add_model_args
from .output import say

if TYPE_CHECKING:
    import torch

    from ..engine import FitResult
    from ..preimages import Cell, Judges
    from ..results import Result


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
    """The keyword arguments of the pre-image and maximize operations' `run` that come from the command line."""
    settings = dict(steps=args.steps, seed=args.seed, device=args.device, progress=not args.quiet,
                    recipe=recipe(args))
    if hasattr(args, "restarts"):
        settings["restarts"] = args.restarts
    return settings


def cell_of(result: Result) -> tuple[torch.Tensor, dict, FitResult]:
    """An operation's result as a grid's cell holds it: the image, the record result.json lists, the fit."""
    return result.image, result.to_json(), result.fit


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
                 **extra) -> None:
    """result.json: how the run was made, and each cell's record."""
    from ..engine import resolve_device
    from ..provenance import run_info, write_json

    records = [cell.record for cell in cells]
    write_json({
        **run_info(),
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
