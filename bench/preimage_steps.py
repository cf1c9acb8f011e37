"""How many steps do deep-layer pre-images need? Top-1 kept (inverted model) and recognized
(independent model) against the step count, per prior, on natural photos the tests never use.

    python -m bench preimage_steps [--priors dip tv] [--layer classifier] [--steps 600] [--every 100]
                                   [--split heldout|design] [--fit lr=0.005] [--objective tv=0.05] [--average 0.99]

One fit per (image, prior) at the prior's `preimage` preset with the step budget raised to --steps;
every --every steps the current output is classified by both models (and, with --average, the
moving average of the outputs with that decay, warm-up as in FitConfig.ema_warmup, as well).
Settings are chosen on the `design` images and measured on the `heldout` ones, which tests never use.
Writes bench/results/preimage_steps-<device>-<date>.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from invert import zoo
from invert.engine import FitConfig, resolve_device, update_ema
from invert.inversion import top1
from invert.preimages import Judges, invert_layer, prepare_target

from . import common
from .common import PREIMAGE_PHOTOS, save_result, settings

SMOKE = ["--priors", "tv", "--steps", "4", "--every", "2", "--images", "zebra"]
def judged(step: int, loss: float, x: torch.Tensor, judges: Judges, original: tuple[int, int]) -> dict:
    x = x.clamp(0, 1).cpu()
    kept, recognized = top1(judges.model, x), top1(judges.transfer, x)
    return {"step": step, "loss": round(loss, 4), "top1": kept, "top1_transfer": recognized,
            "kept": kept == original[0], "recognized": recognized == original[1]}
def tally(rows: list[dict], key: str) -> list[dict]:
    return [{"step": c["step"], "kept": sum(r[key][i]["kept"] for r in rows),
             "recognized": sum(r[key][i]["recognized"] for r in rows), "images": len(rows)}
            for i, c in enumerate(rows[0][key])]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--priors", nargs="+", default=["dip", "tv"])
    ap.add_argument("--layer", default="classifier")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--name", default="preimage_steps", help="result file name: bench/results/NAME-<device>-<date>.json")
    ap.add_argument("--split", choices=sorted(PREIMAGE_PHOTOS), default="heldout")
    ap.add_argument("--images", nargs="+", default=None, metavar="STEM", help="only these images of the split")
    ap.add_argument("--fit", nargs="*", default=[], help="engine overrides, e.g. lr=0.005")
    ap.add_argument("--objective", nargs="*", default=[], help="recipe overrides, e.g. tv=0.05")
    ap.add_argument("--average", type=float, default=0.0, help="also judge the outputs' moving average (decay)")
    args = ap.parse_args(argv)
    fit_settings, objective = settings(args.fit), settings(args.objective)
    average_cfg = FitConfig(ema=args.average, ema_warmup=True)
    judges = Judges(zoo.load(zoo.DEFAULT_MODEL), zoo.load("tf_efficientnet_lite2"))
    rows = []
    paths = [p for p in PREIMAGE_PHOTOS[args.split] if args.images is None or Path(p).stem in args.images]
    for rel in paths:
        target, _ = prepare_target(str(common.DATA / rel), judges.model)
        original = (top1(judges.model, target), top1(judges.transfer, target))
        for prior in args.priors:
            row: dict = {"image": rel, "prior": prior, "top1_original": original[0],
                         "top1_transfer_original": original[1], "checks": [], "average_checks": []}
            average: list[torch.Tensor | None] = [None]

            def check(step: int, loss: float, raw: torch.Tensor, shown: torch.Tensor, row: dict = row,
                      average: list = average, original: tuple[int, int] = original) -> None:
                average[0] = update_ema(average[0], raw, average_cfg, step)
                if (step + 1) % args.every == 0:
                    row["checks"].append(judged(step + 1, loss, raw, judges, original))
                    if average[0] is not None:
                        row["average_checks"].append(judged(step + 1, loss, average[0], judges, original))

            # one fit per row: the checks step by step are what is measured (restarts would append more)
            _, record, _ = invert_layer(judges, target, args.layer, prior, steps=args.steps, callbacks=(check,),
                                        objective=objective, fit_settings=fit_settings, restarts=0)
            row["seconds"] = record["seconds"]
            rows.append(row)
            for key in ("checks", "average_checks"):
                if row[key]:
                    print(rel, prior, key, [(c["step"], int(c["kept"]), int(c["recognized"])) for c in row[key]],
                          flush=True)
    summary = {}
    for prior in args.priors:
        mine = [r for r in rows if r["prior"] == prior]
        summary[prior] = tally(mine, "checks")
        if args.average:
            summary[f"{prior}-average"] = tally(mine, "average_checks")
    for name, tallies in summary.items():
        print(name, [(t["step"], t["kept"], t["recognized"]) for t in tallies])
    save_result(args.name, {"device": str(resolve_device("auto")), "layer": args.layer, "split": args.split,
                            "images": paths, "steps": args.steps, "fit": fit_settings,
                            "objective": objective, "average": args.average, "summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
