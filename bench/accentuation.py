"""Feature accentuation (invert/accentuation.py) on Lite0's units: does the accentuated image raise the unit well
above its photo's activation while staying recognisably that photo, where a plain visualization does not?

    python -m bench accentuation [--layers blocks.4 blocks.5] [--channels 0-7] [--logits 4] [--priors fourier]
        [--steps N] [--weights W ...] [--fit lr=0.05] [--objective crops=3] [--data DIR] [--threads N]
        [--figure docs/accentuation.jpg] [--name accentuation]

Units: `--channels` of each layer (fixed before any result, not picked by them) and the top-1 class of `--logits`
photos drawn with seed 0; each unit's photo is the one of `--data` where its channel mean (its logit) is highest.
Per unit and prior: the photo's activation; for every weight, the accentuated image's activation and SSIM to
the photo; a plain visualization (`maximize_objective` from the prior's usual start, same steps) and its SSIM
to the same photo. Writes bench/results/NAME-<device>-<date>.json and the figure (photo | accentuated |
plain | 4× the accentuation's change) for a few units. The machine may be shared: the load is recorded.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

import torch

from invert import objectives, zoo
from invert.accentuation import STEPS, WEIGHT, accentuate
from invert.metrics import ssim
from invert.preimages import Judges, maximize_objective, prepare_target
from invert.threads import set_threads
from invert.zoo import FeatureExtractor

from . import common
from .natural_preimages import all_photos

SMOKE = ["--layers", "blocks.5", "--channels", "0-1", "--logits", "0", "--steps", "2",
         "--figure", "{tmp}/accentuation.jpg", "--name", "accentuation_smoke"]
LOGITS = "classifier"
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "accentuation.jpg"
# the bar a unit passes: activation over 1.5× the photo's (a positive one), SSIM to the photo over 0.5
RATIO_BAR, SSIM_BAR = 1.5, 0.5


def channel_range(text: str) -> list[int]:
    """"0-7" or "3" or "0,5,9" as a list of channels."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(c) for c in text.split(",")]


def photo_means(loaded: zoo.LoadedModel, photos: dict[str, torch.Tensor], layers: list[str]) -> dict[str, torch.Tensor]:
    """Per layer, photos × channels: each channel's mean over positions (each logit) on each photo."""
    with torch.no_grad(), FeatureExtractor(loaded.model, layers, loaded.name) as extract:
        rows = [extract(loaded.preprocess(x)) for x in photos.values()]
    return {layer: torch.cat([r[layer].flatten(2).mean(-1) if r[layer].dim() == 4 else r[layer] for r in rows])
            for layer in layers}


def choose_units(loaded: zoo.LoadedModel, photos: dict[str, torch.Tensor], layers: list[str], channels: list[int],
                 logits: int) -> list[dict]:
    """The units (layer, channel) and each one's top photo among `photos`."""
    names = list(photos)
    means = photo_means(loaded, photos, [*layers, LOGITS])
    drawn = random.Random(0).sample(names, min(logits, len(names)))
    classes = dict.fromkeys(int(means[LOGITS][names.index(n)].argmax()) for n in drawn)
    units = [(layer, c) for layer in layers for c in channels] + [(LOGITS, c) for c in classes]
    return [{"layer": layer, "channel": c, "photo": names[int(means[layer][:, c].argmax())],
             "class_name": loaded.class_name(c) if layer == LOGITS else None} for layer, c in units]


def run_unit(judges: Judges, unit: dict, photo: torch.Tensor, prior: str, args: argparse.Namespace
             ) -> tuple[dict, dict[str, torch.Tensor]]:
    """One unit under one prior: the plain visualization, then the accentuation at every weight."""
    goal = objectives.channel(unit["layer"], unit["channel"])
    start = time.perf_counter()
    plain, record, _ = maximize_objective(judges, goal, prior, steps=args.steps or STEPS, fit_settings=args.fit or None)
    row = {**unit, "prior": prior, "load_average": [round(v, 2) for v in os.getloadavg()],
           "plain": {"activation": record["activation"], "ssim_to_photo": ssim(plain, photo),
                     "seconds": round(time.perf_counter() - start, 2)}, "accentuated": []}
    images = {"plain": plain}
    for weight in args.weights:
        start = time.perf_counter()
        image, record, _ = accentuate(judges, goal, photo, prior, weight=weight, steps=args.steps or STEPS,
                                      objective=args.objective or None, fit_settings=args.fit or None)
        row["photo_activation"] = record["photo_activation"]
        row["accentuated"].append({"weight": weight, "activation": record["activation"],
                                   "ratio": ratio(record["activation"], record["photo_activation"]),
                                   "ssim_to_photo": record["ssim_to_photo"], "top1_name": record["top1_name"],
                                   "seconds": round(time.perf_counter() - start, 2)})
        images[weight] = image
    return row, images


def ratio(activation: float, photo_activation: float) -> float | None:
    """Accentuated over photo activation; None where the photo's is not positive (no ratio means a raise)."""
    return round(activation / photo_activation, 3) if photo_activation > 0 else None


def passes(entry: dict) -> bool:
    return entry["ratio"] is not None and entry["ratio"] > RATIO_BAR and entry["ssim_to_photo"] > SSIM_BAR


def summary(rows: list[dict]) -> list[dict]:
    """Per prior and weight: medians of the activation ratio and of SSIM (accentuated, plain), and which units
    pass the bar and which fail it."""
    out = []
    for prior in dict.fromkeys(r["prior"] for r in rows):
        members = [r for r in rows if r["prior"] == prior]
        for i, weight in enumerate(e["weight"] for e in members[0]["accentuated"]):
            entries = [(r, r["accentuated"][i]) for r in members]
            ratios = [e["ratio"] for _, e in entries if e["ratio"] is not None]
            out.append({"prior": prior, "weight": weight, "units": len(entries),
                        "median_ratio": round(statistics.median(ratios), 3) if ratios else None,
                        "nonpositive_photo_activation": len(entries) - len(ratios),
                        "median_ssim_accentuated": round(statistics.median(e["ssim_to_photo"] for _, e in entries), 3),
                        "median_ssim_plain": round(statistics.median(r["plain"]["ssim_to_photo"] for r in members), 3),
                        "median_seconds": round(statistics.median(e["seconds"] for _, e in entries), 2),
                        "passed": [f"{r['layer']}:{r['channel']}" for r, e in entries if passes(e)],
                        "failed": [f"{r['layer']}:{r['channel']}" for r, e in entries if not passes(e)]})
    return out


def figure(rows: list[dict], images: dict, photos: dict[str, torch.Tensor], path: Path, per_layer: int = 2) -> None:
    """A few units (the first `per_layer` of each layer): photo | accentuated (first weight) | plain | change."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for layer in dict.fromkeys(r["layer"] for r in rows)
             for r in [r for r in rows if r["layer"] == layer][:per_layer]]
    fig, axes = plt.subplots(len(shown), 4, figsize=(8, 2.1 * len(shown)), squeeze=False)
    for ax_row, row in zip(axes, shown):
        photo = photos[row["photo"]]
        cell = images[(row["layer"], row["channel"], row["prior"])]
        accent, entry = cell[row["accentuated"][0]["weight"]], row["accentuated"][0]
        unit = f"{row['layer']}:{row['channel']}" + (f" ({row['class_name']})" if row["class_name"] else "")
        panels = [(photo, f"{unit}\n{Path(row['photo']).stem}: {row['photo_activation']:.2f}"),
                  (accent, f"accentuated: {entry['activation']:.2f}\nSSIM {entry['ssim_to_photo']:.2f}"),
                  (cell["plain"], f"plain: {row['plain']['activation']:.2f}\nSSIM {row['plain']['ssim_to_photo']:.2f}"),
                  ((0.5 + 4 * (accent - photo)).clamp(0, 1), "change ×4")]
        for ax, (image, title) in zip(ax_row, panels):
            ax.imshow(image[0].permute(1, 2, 0).cpu().numpy())
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, pil_kwargs={"quality": 80})
    plt.close(fig)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench accentuation")
    ap.add_argument("--layers", nargs="+", default=["blocks.4", "blocks.5"])
    ap.add_argument("--channels", default="0-7", help="channels of each layer: 0-7, or 1,5,9")
    ap.add_argument("--logits", type=int, default=4, help="class logits: the top-1 class of this many photos")
    ap.add_argument("--priors", nargs="+", default=["fourier"])
    ap.add_argument("--steps", type=int, default=None, help="steps of both fits (default: accentuate's STEPS)")
    ap.add_argument("--weights", nargs="+", type=float, default=[WEIGHT])
    ap.add_argument("--fit", nargs="*", default=[], help="engine settings of both fits, e.g. lr=0.05")
    ap.add_argument("--objective", nargs="*", default=[], help="accentuate's objective settings, e.g. crops=3")
    ap.add_argument("--data", default=None, help="the photos (default: ../shared/data)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--figure", default=str(FIGURE))
    ap.add_argument("--name", default="accentuation")
    args = ap.parse_args(argv)
    args.fit, args.objective = common.settings(args.fit), common.settings(args.objective)
    if args.threads:
        set_threads(args.threads)
    data = Path(args.data) if args.data else common.DATA
    loaded = zoo.load("efficientnet_lite0")
    judges = Judges(loaded)
    photos = {rel: prepare_target(str(data / rel), loaded)[0] for rel in all_photos(data)}
    units = choose_units(loaded, photos, args.layers, channel_range(args.channels), args.logits)
    payload: dict = {"device": "cpu", "threads": torch.get_num_threads(),
                     "load_average_before": [round(v, 2) for v in os.getloadavg()], "data": str(data),
                     "steps": args.steps or STEPS, "weights": args.weights, "fit": args.fit,
                     "objective": args.objective,
                     "bar": {"ratio": RATIO_BAR, "ssim": SSIM_BAR}}
    rows, images = [], {}
    for prior in args.priors:
        for unit in units:
            row, images[(unit["layer"], unit["channel"], prior)] = run_unit(judges, unit, photos[unit["photo"]],
                                                                            prior, args)
            rows.append(row)
            print({k: row[k] for k in ("layer", "channel", "photo", "photo_activation")}, row["plain"],
                  row["accentuated"], flush=True)
    payload.update(load_average_after=[round(v, 2) for v in os.getloadavg()], summary=summary(rows), rows=rows)
    common.save_result(args.name, payload)
    figure(rows, images, photos, Path(args.figure))
