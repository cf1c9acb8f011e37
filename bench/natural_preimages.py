"""Natural pre-images on every photo: DIP (and other priors) inverting Lite0's deep layers and logits on all of
the papers' photos, several seeds, each scored — class kept, the independent Lite2 agreeing, feature loss,
spectral slope, stalled or flagged.

    python -m bench natural_preimages [--layers classifier blocks.5 blocks.6] [--priors dip] [--seeds 0 1 2]
        [--images STEM ...] [--part I/N] [--steps N] [--every 100] [--fit lr=0.005] [--objective degrees=5]
        [--prior input_depth=8] [--restarts N] [--threads N] [--name NAME]
    python -m bench natural_preimages --table [the run's arguments] --name NAME   # the table of the cells so far
    python -m bench natural_preimages --figure --name NAME [OTHER ...]   # contact sheets, runs side by side

Each cell is `preimages.invert_layer`, what `invert preimage` runs, with the preset's recipe unless overridden.
Every --every steps the current output is judged by both models (how the fit got there). Cells are saved as
they finish (bench/runs/NAME/rows.jsonl, with each picture as a PNG beside it): a run cut short resumes.
Writes bench/results/NAME-<device>-<date>.json with the table per layer and prior, the failures by name, and
each cell's record; --figure writes bench/runs/NAME/sheet-LAYER-PRIOR[-vs].png (every photo beside its
pre-images in each named run).
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from invert import faithfulness, zoo
from invert.defaults import RESTARTS
from invert.images import save_image
from invert.inversion import classify, top1
from invert.preimages import Judges, invert_layer, prepare_target
from invert.threads import set_threads

from . import common
from .common import save_result, settings

SMOKE = ["--priors", "tv", "--steps", "4", "--every", "2", "--images", "zebra", "--layers", "classifier",
         "--seeds", "0", "--name", "natural_preimages_smoke", "--runs", "{tmp}/runs"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def all_photos(data: Path) -> list[str]:
    """Every picture under `data` but the inpainting masks, as paths relative to it, sorted."""
    return sorted(str(p.relative_to(data)) for p in data.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES and "mask" not in p.stem)


def judged(judges: Judges, x: torch.Tensor, original: tuple[int, int]) -> dict:
    """Both models' verdicts on `x`: the inverted model's class kept; the judge's top-1, whether it is the class it
    gives the photo, that class's probability and whether it is in the judge's top 5."""
    x = x.clamp(0, 1).cpu()
    kept = top1(judges.model, x)
    probabilities = classify(judges.transfer, x).softmax(dim=1)[0]
    top5 = probabilities.topk(5).indices.tolist()
    return {"top1": kept, "kept": kept == original[0], "top1_transfer": top5[0], "agrees": top5[0] == original[1],
            "p_transfer": round(float(probabilities[original[1]]), 4), "in_top5": original[1] in top5}


def cell_key(row: dict) -> tuple:
    return row["image"], row["layer"], row["prior"], row["seed"]


def run_cell(judges: Judges, rel: str, layer: str, prior: str, seed: int, args: argparse.Namespace,
             out: Path) -> dict:
    target, _ = prepare_target(str(common.DATA / rel), judges.model)
    original = (top1(judges.model, target), top1(judges.transfer, target))
    checks: list[dict] = []
    attempt = [-1]

    def check(step: int, loss: float, raw: torch.Tensor, shown: torch.Tensor) -> None:
        if step == 0:
            attempt[0] += 1
        if (step + 1) % args.every == 0:
            checks.append({"attempt": attempt[0], "step": step + 1, "loss": round(loss, 4),
                           **judged(judges, shown, original)})

    image, record, _ = invert_layer(judges, target, layer, prior, steps=args.steps, seed=seed, callbacks=(check,),
                                    objective=settings(args.objective), fit_settings=settings(args.fit),
                                    prior_settings=settings(args.prior), restarts=args.restarts)
    final = judged(judges, image, original)
    natural = faithfulness.natural_pool(judges.model)[1]
    scores, photo_spectrum = faithfulness.spectrum(image, natural), faithfulness.spectrum(target, natural)
    stem = Path(rel).with_suffix("").as_posix().replace("/", "_")
    save_image(image, out / f"{stem}__{layer}__{prior}__s{seed}.png")
    save_image(target, out / f"{stem}__photo.png")
    keep = ("feature_loss", "flat_feature_loss", "failure", "stalled", "restarts", "continued", "seconds",
            "steps_run", "params", "preset")
    return {"image": rel, "layer": layer, "prior": prior, "seed": seed,
            "class": judges.model.class_name(original[0]), "top1_original": original[0],
            "top1_transfer_original": original[1], "transfer_class": judges.transfer.class_name(original[1]),
            **{k: record[k] for k in keep if k in record}, "used_seed": record["seed"],
            "loss_ratio": round(record["feature_loss"] / record["flat_feature_loss"], 4),
            **final, "top1_name": judges.model.class_name(final["top1"]),
            "top1_transfer_name": judges.transfer.class_name(final["top1_transfer"]),
            "spectral_slope": scores.slope, "spectrum_distance_db": scores.distance_db,
            "photo_spectral_slope": photo_spectrum.slope, "checks": checks}


def summarize(rows: list[dict]) -> list[dict]:
    """Per layer and prior: the share of cells that keep the class, that the judge agrees on, stalls, class
    changes that neither stalled nor were flagged, median seconds."""
    table = []
    for layer, prior in sorted({(r["layer"], r["prior"]) for r in rows}):
        mine = [r for r in rows if (r["layer"], r["prior"]) == (layer, prior)]
        n = len(mine)
        flagged = [r for r in mine if r.get("stalled") or r.get("failure")]
        table.append({
            "layer": layer, "prior": prior, "cells": n, "photos": len({r["image"] for r in mine}),
            "kept": round(sum(r["kept"] for r in mine) / n, 3), "agrees": round(sum(r["agrees"] for r in mine) / n, 3),
            "in_top5": round(sum(r["in_top5"] for r in mine) / n, 3),
            "stalled": sum(bool(r.get("stalled")) for r in mine), "flagged": len(flagged),
            "unflagged_class_changes": sum(not r["kept"] and r not in flagged for r in mine),
            "median_seconds": round(statistics.median(r["seconds"] for r in mine), 1),
            "max_seconds": round(max(r["seconds"] for r in mine), 1),
            "median_loss_ratio": round(statistics.median(r["loss_ratio"] for r in mine), 4),
            "median_slope": round(statistics.median(r["spectral_slope"] for r in mine), 3),
            "not_kept": sorted(f"{r['image']}@{r['seed']}" for r in mine if not r["kept"]),
            "not_agreeing": sorted(f"{r['image']}@{r['seed']}" for r in mine if not r["agrees"]),
        })
    return table


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def figure(names: list[str], runs: Path, stems: list[str] | None = None) -> Path | None:
    """Contact sheets: per layer and prior, every photo (small) beside its pre-images in each named run, seed by
    seed, titled with the judge's class and K/J for kept and agreeing; several runs give one column each, to set
    recipes side by side; `stems` keeps only those photos. Written into the first run's folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    folders = [runs / name for name in names]
    rows = {name: read_rows(folder / "rows.jsonl") for name, folder in zip(names, folders)}
    path = None
    for layer, prior in sorted({(r["layer"], r["prior"]) for r in rows[names[0]]}):
        mine = {name: [r for r in rows[name] if (r["layer"], r["prior"]) == (layer, prior)] for name in names}
        photos = sorted({r["image"] for r in mine[names[0]] if stems is None or Path(r["image"]).stem in stems})
        columns = [(name, seed) for name in names for seed in sorted({r["seed"] for r in mine[name]})]
        per_row = max(1, 12 // (1 + len(columns)))
        lines = -(-len(photos) // per_row)
        cols = per_row * (1 + len(columns))
        fig, axes = plt.subplots(lines, cols, figsize=(1.6 * cols, 1.75 * lines), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for i, rel in enumerate(photos):
            stem = Path(rel).with_suffix("").as_posix().replace("/", "_")
            line, col = divmod(i, per_row)
            col *= 1 + len(columns)
            ax = axes[line][col]
            ax.imshow(Image.open(folders[0] / f"{stem}__photo.png"))
            first = next(r for r in mine[names[0]] if r["image"] == rel)
            ax.set_title(f"{Path(rel).stem}\n{first['class'][:16]}", fontsize=6)
            for j, (name, seed) in enumerate(columns):
                found = [r for r in mine[name] if r["image"] == rel and r["seed"] == seed]
                if not found:
                    continue
                r = found[0]
                ax = axes[line][col + 1 + j]
                ax.imshow(Image.open(runs / name / f"{stem}__{layer}__{prior}__s{seed}.png"))
                marks = ("K" if r["kept"] else "k✗") + " " + ("J" if r["agrees"] else "j✗")
                flag = " STALL" if r.get("stalled") else (" FLAG" if r.get("failure") else "")
                colour = "green" if r["kept"] and r["agrees"] else ("orange" if r["kept"] else "red")
                ax.set_title(f"{marks}{flag} {r['loss_ratio']:.2f}\n{r['top1_transfer_name'][:16]}", fontsize=6,
                             color=colour)
        fig.suptitle(f"{' | '.join(names)}: {layer}, {prior} (K: Lite0 keeps the class, J: Lite2 agrees; "
                     "loss / flat loss)", fontsize=9)
        fig.tight_layout()
        path = folders[0] / f"sheet-{layer}-{prior}{'-vs' if len(names) > 1 else ''}{'-some' if stems else ''}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        print(f"wrote {path}")
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", nargs="+", default=["classifier", "blocks.5", "blocks.6"])
    ap.add_argument("--priors", nargs="+", default=["dip"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--images", nargs="+", default=None, metavar="STEM", help="only these photos (file stems)")
    ap.add_argument("--part", default="1/1", metavar="I/N",
                    help="only the I-th of N interleaved shares of the photos, to run N processes side by side")
    ap.add_argument("--steps", type=int, default=None, help="the preset's budget unless given")
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--fit", nargs="*", default=[], help="engine overrides, e.g. lr=0.005")
    ap.add_argument("--objective", nargs="*", default=[], help="recipe overrides, e.g. degrees=5")
    ap.add_argument("--prior", nargs="*", default=[], help="the prior's settings, e.g. input_depth=8")
    ap.add_argument("--restarts", type=int, default=None, help="invert_layer's default unless given")
    ap.add_argument("--threads", type=int, default=None, help="torch's CPU threads (default: torch's)")
    ap.add_argument("--name", nargs="+", default=["natural_preimages"],
                    help="the run's name (its folder under bench/runs); with --figure, several set side by side")
    ap.add_argument("--runs", default=str(Path(__file__).resolve().parent / "runs"), help=argparse.SUPPRESS)
    ap.add_argument("--figure", action="store_true", help="only draw the contact sheets of run NAME")
    ap.add_argument("--table", action="store_true", help="only write the table of the cells run so far")
    args = ap.parse_args(argv)
    runs = Path(args.runs)
    if args.figure:
        figure(args.name, runs, args.images)
        return
    args.name = args.name[0]
    if args.threads:
        set_threads(args.threads)  # kept by every fit, unlike torch.set_num_threads
    out = runs / args.name
    out.mkdir(parents=True, exist_ok=True)
    log = out / "rows.jsonl"
    rows = read_rows(log)
    done = {cell_key(r) for r in rows}
    judges = Judges(zoo.load(zoo.DEFAULT_MODEL), zoo.load("tf_efficientnet_lite2"))
    photos = [p for p in all_photos(common.DATA) if args.images is None or Path(p).stem in args.images]
    part, parts = (int(n) for n in args.part.split("/"))
    photos = photos[part - 1::parts]
    if args.restarts is None:
        args.restarts = RESTARTS
    for rel in photos:
        for layer in args.layers:
            for prior in args.priors:
                for seed in args.seeds:
                    if (rel, layer, prior, seed) in done or args.table:
                        continue
                    row = run_cell(judges, rel, layer, prior, seed, args, out)
                    rows.append(row)
                    with log.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"{rel} {layer} {prior} s{seed}: {row['class'][:20]} -> {row['top1_name'][:20]} "
                          f"({'kept' if row['kept'] else 'CHANGED'}), judge {row['top1_transfer_name'][:20]} "
                          f"({'agrees' if row['agrees'] else 'DISAGREES'}), loss {row['loss_ratio']:.2f} of flat"
                          f"{' FLAGGED ' + row['failure'] if row.get('failure') else ''}, "
                          f"{row['seconds']:.0f} s", flush=True)
    wanted = {(rel, layer, prior, seed) for rel in photos for layer in args.layers for prior in args.priors
              for seed in args.seeds}
    rows = [r for r in rows if cell_key(r) in wanted]
    table = summarize(rows)
    for t in table:
        print({k: v for k, v in t.items() if k not in ("not_kept", "not_agreeing")})
    save_result(args.name, {"device": "cpu", "threads": torch.get_num_threads(), "layers": args.layers,
                            "priors": args.priors, "seeds": args.seeds, "images": photos, "steps": args.steps,
                            "fit": settings(args.fit), "objective": settings(args.objective),
                            "prior": settings(args.prior), "restarts": args.restarts, "summary": table,
                            "rows": rows})


if __name__ == "__main__":
    main()
