"""How many steps do deep-layer pre-images need? Top-1 kept (inverted model) and recognized
(independent model) against the step count, per prior, on natural photos the tests never use.

    python bench/preimage_steps.py [--priors dip tv] [--layer classifier] [--steps 600] [--every 100]

One fit per (image, prior) at the prior's `preimage` preset with the step budget raised to --steps;
every --every steps the current output is classified by both models. Writes
bench/results/preimage_steps-<device>-<date>.json.
"""
from __future__ import annotations

import argparse

import torch
from common import DATA, save_result
from preimage_transfer import IMAGES

import zoo
from invert.engine import resolve_device
from invert.inversion import top1
from invert.preimages import Judges, invert_layer, prepare_target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--priors", nargs="+", default=["dip", "tv"])
    ap.add_argument("--layer", default="classifier")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--name", default="preimage_steps", help="result file name: bench/results/NAME-<device>-<date>.json")
    args = ap.parse_args()
    judges = Judges(zoo.load(zoo.DEFAULT_MODEL), zoo.load("tf_efficientnet_lite2"))
    rows = []
    for rel in IMAGES:
        target, _ = prepare_target(str(DATA / rel), judges.model)
        original = (top1(judges.model, target), top1(judges.transfer, target))
        for prior in args.priors:
            checks: list[dict] = []

            def check(step: int, loss: float, raw: torch.Tensor, checks: list[dict] = checks) -> None:
                if (step + 1) % args.every == 0:
                    x = raw.clamp(0, 1).cpu()
                    checks.append({"step": step + 1, "loss": round(loss, 4), "top1": top1(judges.model, x),
                                   "top1_transfer": top1(judges.transfer, x)})

            _, record, _ = invert_layer(judges, target, args.layer, prior, steps=args.steps, callbacks=(check,))
            for c in checks:
                c["kept"], c["recognized"] = c["top1"] == original[0], c["top1_transfer"] == original[1]
            rows.append({"image": rel, "prior": prior, "top1_original": original[0],
                         "top1_transfer_original": original[1], "seconds": record["seconds"], "checks": checks})
            print(rel, prior, [(c["step"], int(c["kept"]), int(c["recognized"])) for c in checks], flush=True)
    summary = {}
    for prior in args.priors:
        mine = [r for r in rows if r["prior"] == prior]
        summary[prior] = [{"step": c["step"],
                           "kept": sum(r["checks"][i]["kept"] for r in mine),
                           "recognized": sum(r["checks"][i]["recognized"] for r in mine),
                           "images": len(mine)} for i, c in enumerate(mine[0]["checks"])]
        print(prior, [(s["step"], s["kept"], s["recognized"]) for s in summary[prior]])
    save_result(args.name, {"device": str(resolve_device("auto")), "layer": args.layer, "images": IMAGES,
                                   "steps": args.steps, "summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
