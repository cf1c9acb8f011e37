"""`invert compare`: several priors, one layer, equal budgets — which gives the most natural pre-images?"""
from __future__ import annotations

import argparse
from collections import defaultdict

import zoo

from .. import files, report
from ..engine import FitResult
from ..images import save_image
from ..inversion import top1
from ..preimages import invert_layer
from .model_args import load_target
from .output import prepare_output_dir, say
from . import options
from .preimage import add_common, check_layers, load_judges, objective, run_cells, warn_if_stalled, write_result


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare priors on one layer with equal budgets (table + grid)",
                       description="Invert one layer with several priors and the same number of steps; report "
                                   "feature loss, SSIM, top-1 agreement, transfer to an independent model, time.")
    add_common(p, "runs/compare")
    p.add_argument("--images", type=options.names, default=None, help="comma-separated images (default: --image)")
    p.add_argument("--layer", default=None, help="layer to invert (default: the logits)")
    p.add_argument("--priors", type=options.prior_names, default="dip,tv,deep_decoder", help="comma-separated priors")
    p.set_defaults(run=run)


def summarize(records: list[dict]) -> list[dict]:
    by_prior: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_prior[r["prior"]].append(r)
    rows = []
    for prior, rs in by_prior.items():
        n = len(rs)
        row = {"prior": prior, "images": n,
               "feature_loss": sum(r["feature_loss"] for r in rs) / n,
               "ssim_to_original": sum(r["ssim_to_original"] for r in rs) / n,
               "top1_kept": sum(r["top1"] == r["top1_original"] for r in rs) / n,
               "seconds": sum(r["seconds"] for r in rs) / n}
        if "transfer_agrees" in rs[0]:
            row["transfer_rate"] = sum(r["transfer_agrees"] for r in rs) / n
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    cols = ["prior", "images", "feature_loss", "ssim_to_original", "top1_kept", "transfer_rate", "seconds"]
    cols = [c for c in cols if c in rows[0]]
    fmt = {"feature_loss": "{:.3f}", "ssim_to_original": "{:.3f}", "top1_kept": "{:.0%}", "transfer_rate": "{:.0%}",
           "seconds": "{:.1f}"}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(fmt.get(c, "{}").format(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    image_specs = args.images or [args.image]
    prior_names = args.priors
    judges = load_judges(args)
    layer = args.layer or zoo.default_layers(judges.model.model, judges.model.input_size)[-1]
    check_layers(judges, [layer])
    out = prepare_output_dir(args.out, args.overwrite)
    targets = [load_target(spec, judges.model) for spec in image_specs]  # a bad image fails before any fit
    records: list[dict] = []
    rows = []
    for index, target in enumerate(targets):
        top = top1(judges.model, target)
        rows.append([(f"original {index}\ntop1 {report.labelled(top, judges.model.class_name(top))}", target)])

    def fit_one(cell: tuple[int, str]) -> FitResult:
        index, name = cell
        spec = image_specs[index]
        say(f"{spec} · {layer} · {name}")
        image, record, result = invert_layer(judges, targets[index], layer, name, steps=args.steps, seed=args.seed,
                                             device=args.device, progress=not args.quiet, objective=objective(args),
                                             restarts=args.restarts)
        record["image"] = spec
        records.append(record)
        save_image(image, out / f"{index}__{name}.png")
        warn_if_stalled(record)
        rows[index].append((f"{'STALLED ' if record['stalled'] else ''}{name}\ntop1 "
                            f"{report.labelled(record['top1'], record['top1_name'])}", image))
        return result

    interrupted = run_cells([(i, name) for i in range(len(targets)) for name in prior_names], fit_one)
    with files.interrupts_held(deliver=False) as held:  # Ctrl-C while saving waits until every file is written
        report.grid_rows([row for row in rows if len(row) > 1], out / "grid.png")  # images that got a cell
        table = summarize(records)
        files.write_text(out / "table.md", markdown(table))
        print(markdown(table))
        write_result(args, judges, records, {"interrupted": interrupted}, out, layer=layer, priors=prior_names,
                     images=image_specs, summary=table)
    return 130 if interrupted or held else 0
