"""`invert preimage`: what a classifier keeps of an image, layer by layer, under several priors."""
from __future__ import annotations

import argparse
from typing import Callable, Iterable, TypeVar

import torch

import zoo

from .. import files, report
from ..engine import FitResult, resolve_device
from ..images import save_image
from ..inversion import top1
from ..preimages import RESTARTS, STALL_RATIO, Judges, invert_layer
from .attribution import attribution_map
from . import options
from .model_args import add_model_args, load_target, transfer_model_name
from .output import prepare_output_dir, say

T = TypeVar("T")
DEFAULT_PRIORS = "dip,tv"
OVERVIEW_STEPS = 200  # with no --layers: every cell gets this, so the whole grid takes under 5 minutes


def add_common(p: argparse.ArgumentParser, default_out: str, image: bool = True) -> None:
    add_model_args(p, image)
    p.add_argument("--steps", type=options.COUNT, default=None,
                   help="optimization steps per pre-image (default: the preset's; more at deep layers)")
    p.add_argument("--seed", type=options.SEED, default=0)
    p.add_argument("--device", type=options.device, default="auto", help="auto, cpu, cuda[:N] or mps")
    p.add_argument("--out", default=default_out, help=f"output folder (default {default_out})")
    p.add_argument("--overwrite", action="store_true", help="write into an existing, non-empty output folder")
    p.add_argument("--no-transfer", action="store_true", help="skip the independent model's check (saves memory)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--tv", type=options.WEIGHT, default=None, metavar="W",
                   help="add W · TV (β = 2) to the energy, whatever the prior (Mahendran & Vedaldi)")
    p.add_argument("--alpha-norm", type=options.WEIGHT, default=None, metavar="W", help="add W · α-norm (α = 6) to the energy")
    p.add_argument("--no-transforms", action="store_true", help="no random jitter/rotation/scale at coarse layers")
    p.add_argument("--statistics", type=options.WEIGHT, default=None, metavar="W",
                   help="weight of the BatchNorm statistics prior (DeepInversion; 0 turns it off)")
    if image:  # pre-images: a fit that stalls is run again
        p.add_argument("--restarts", type=options.whole(0, 100), default=RESTARTS, metavar="N",
                       help=f"run a stalled pre-image (feature loss not below {STALL_RATIO:g}× a flat grey image's) "
                            f"again, up to N times: run on if it had moved, else from another seed (default {RESTARTS})")


def objective(args: argparse.Namespace) -> dict:
    """The recipe overrides the user asked for (empty: each prior's preset decides)."""
    extra: dict = {}
    if args.tv is not None:
        extra["tv"] = args.tv
    if args.alpha_norm is not None:
        extra["alpha"] = args.alpha_norm
    if args.no_transforms:
        extra["transforms"] = False
    if args.statistics is not None:
        extra["statistics"] = args.statistics
    return extra


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preimage", help="pre-images of a classifier's layers under several priors",
                       description="Invert a pretrained classifier: find images whose features at a layer match "
                                   "the target image's, under each prior.")
    add_common(p, "runs/preimage")
    p.add_argument("--layers", type=options.names, default=None, help="comma-separated layer names (default: 3 stages and the logits; "
                                                  "see `invert layers MODEL`)")
    p.add_argument("--priors", type=options.prior_names, default=DEFAULT_PRIORS, help=f"comma-separated priors (default {DEFAULT_PRIORS})")
    p.add_argument("--attribution", action="store_true",
                   help="add captum Integrated Gradients maps (original's top class) beside every image")
    p.set_defaults(run=run)


def warn_if_stalled(record: dict) -> None:
    if record["stalled"]:
        say(f"{record['layer']} · {record['prior']}: the fit stalled (feature loss {record['feature_loss']:.3f}, a flat "
            f"grey image has {record['flat_feature_loss']:.3f}) after {record['restarts']} restarts; the cell shows "
            "the best attempt, marked STALLED")


def load_judges(args: argparse.Namespace) -> Judges:
    device = resolve_device(args.device)
    model = zoo.load(args.model, weights=args.weights)
    model.model.to(device)
    transfer = None if args.no_transfer else zoo.load(transfer_model_name(model.name))
    return Judges(model, transfer)


def check_layers(judges: Judges, layers: list[str]) -> None:
    zoo.find_layers(judges.model.model, layers, judges.model.name)


def run_cells(cells: Iterable[T], fit_one: Callable[[T], FitResult]) -> bool:
    """`fit_one` each cell in turn (it saves its own result) until a fit is interrupted (its best so far kept)
    or Ctrl-C arrives between fits; returns whether the run was cut short. Cut short before any cell was
    done, the interrupt goes on: there is no result to keep."""
    done = 0
    try:
        for cell in cells:
            result = fit_one(cell)
            done += 1
            if result.interrupted:
                return True
    except KeyboardInterrupt:
        if not done:
            raise
        return True
    return False


def run_grid(args: argparse.Namespace, judges: Judges, target: torch.Tensor, layers: list[str],
             prior_names: list[str], out) -> tuple[dict, bool]:
    """Fit every (layer, prior) pair and save each cell's image; Ctrl-C keeps the cells done (and says so)."""
    (out / "cells").mkdir(exist_ok=True)
    cells: dict[tuple[str, str], tuple[torch.Tensor, dict, list]] = {}

    def fit_one(cell: tuple[str, str]) -> FitResult:
        layer, name = cell
        say(f"{layer} · {name}")
        image, record, result = invert_layer(judges, target, layer, name, steps=args.steps, seed=args.seed,
                                             device=args.device, progress=not args.quiet, objective=objective(args),
                                             restarts=args.restarts)
        save_image(image, out / "cells" / f"{layer}__{name}.png")
        warn_if_stalled(record)
        cells[cell] = (image, record, result.history)
        return result

    interrupted = run_cells([(layer, name) for layer in layers for name in prior_names], fit_one)
    return cells, interrupted


def draw_grid(args: argparse.Namespace, judges: Judges, target: torch.Tensor, layers: list[str],
              prior_names: list[str], cells: dict, out) -> list[dict]:
    """The grid (layers × priors, the original first) and the curves; returns the cells' records."""
    top = top1(judges.model, target)
    original = report.labelled(top, judges.model.class_name(top))
    rows = []
    for layer in layers:
        row = [(f"original · {layer}\ntop1 {original}", target)]
        if args.attribution:
            row.append(("IG original", attribution_map(judges.model, target, target)))
        for name in prior_names:
            if (layer, name) in cells:
                image, rec, _ = cells[(layer, name)]
                stalled = "STALLED " if rec["stalled"] else ""
                row.append((f"{stalled}{name}: loss {rec['feature_loss']:.2f}\n"
                            f"top1 {report.labelled(rec['top1'], rec['top1_name'])}", image))
                if args.attribution:
                    row.append((f"IG {name}", attribution_map(judges.model, target, image)))
        rows.append(row)
    report.grid_rows(rows, out / "grid.png")
    report.curves_by_run({f"{l} · {p}": h for (l, p), (_, _, h) in cells.items()}, out / "curves.png")
    return [rec for _, rec, _ in cells.values()]


def run(args: argparse.Namespace) -> int:
    prior_names = args.priors
    judges = load_judges(args)
    target = load_target(args.image, judges.model)
    layers = args.layers or zoo.default_layers(judges.model.model, judges.model.input_size)
    check_layers(judges, layers)
    out = prepare_output_dir(args.out, args.overwrite)
    if args.layers is None and args.steps is None:
        args.steps = OVERVIEW_STEPS
        say(f"an overview: {OVERVIEW_STEPS} steps per pre-image (about 4 minutes on 2 CPU cores); name --layers "
            "or --steps for the presets' full budgets (deep layers fit slower and get more steps)")
    cells, interrupted = run_grid(args, judges, target, layers, prior_names, out)
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        records = draw_grid(args, judges, target, layers, prior_names, cells, out)
        write_result(args, judges, records, {"interrupted": interrupted}, out, layers=layers, priors=prior_names)
    return 130 if interrupted or held else 0


def write_result(args, judges: Judges, records: list[dict], status: dict, out, **extra) -> None:
    report.write_json({
        "command": report.command_line(),
        "model": judges.model.name,
        "transfer_model": judges.transfer.name if judges.transfer else None,
        "image": args.image,
        "seed": args.seed,
        "device": str(resolve_device(args.device)),
        **extra,
        **status,
        "records": records,
        "versions": report.versions(),
    }, out / "result.json")
    total = sum(r["seconds"] for r in records)
    say(f"{len(records)} pre-images in {total:.0f} s of fitting; results in {out}/")
