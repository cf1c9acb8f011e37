"""Faithfulness scores (invert/faithfulness.py) of every prior's pictures beside lucent's: path similarity,
natural spectrum, seed agreement, beside the judges' verdicts and seconds.

    python -m bench faithfulness [--run bench/results/visualizations-cpu-2026-11-27.json]
                                 [--cells bench/runs/visualizations] [--agreement-class 980] [--seeds 3]

Part 1 scores the pictures a `bench visualizations` run saved (its 12 benchmark classes, on which no recipe
was tuned, and its 6 held-out photos' logits pre-images, for every method): the scores are computed here, the
judges' verdicts and seconds are the run's own. Part 2 renders one class under fourier, maco, dip and lucent
from `--seeds` seeds each, now, for seed agreement. Natural reference: the 19 photos scikit-image ships; the
units' drivers are the top 3 of them by the unit, the others the bottom 3. Writes
bench/results/faithfulness-<device>-<date>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from invert import faithfulness, zoo
from invert.images import load_image
from invert.preimages import Judges, maximize, prepare_target

from . import common

SMOKE = ["--smoke-classes", "1", "--seeds", "2", "--steps", "2", "--methods", "fourier"]
LOGITS = "classifier"
PRIORS = ["fourier", "maco", "dip", "lucent"]


def scored(loaded: zoo.LoadedModel, image: torch.Tensor, unit: int | None = None,
           photo: torch.Tensor | None = None) -> dict:
    """The library's scores of a logits picture (`faithfulness.score_picture`), under this table's keys."""
    scores = faithfulness.score_picture(loaded, LOGITS, image, unit=unit, photo=photo)
    return {"path": scores.path.summary, "path_layers": scores.path.layers,
            "spectrum_db": scores.spectrum.distance_db, "slope": scores.spectrum.slope}


def saved_pictures(loaded, run: dict, cells: Path, limit: int | None) -> list[dict]:
    rows = []
    classes = run["classes"][:limit] if limit else run["classes"]
    for record in run["records"]:
        if record["task"] == "class" and record["class"] in classes:
            path = cells / f"class{record['class']}__{record['method']}.png"
            photo = None
        elif record["task"] == "preimage" and not limit:
            stem = Path(record["image"]).stem
            path = cells / f"{stem}__{record['method']}.png"
            photo = prepare_target(str(common.DATA / record["image"]), loaded)[0]  # against the packaged photos
        else:
            continue
        if not path.is_file():
            continue
        image = load_image(path)[0]
        unit = record.get("class")
        row = {"task": record["task"], "unit": unit if unit is not None else record["image"],
               "method": record["method"], "seconds": record["seconds"],
               "judges": {name: {"top1_is_class": v["top1_hit"], "p": v["probability"]}
                          for name, v in record["judges"].items()}}
        row.update(scored(loaded, image, unit, photo))
        rows.append(row)
    return rows


def natural_rows(loaded, run: dict) -> list[dict]:
    """The held-out photos themselves: where natural images lie on the spectrum score."""
    _, natural = faithfulness.natural_pool(loaded)
    rows = []
    for name in dict.fromkeys(r["image"] for r in run["records"] if r["task"] == "preimage"):
        photo = prepare_target(str(common.DATA / name), loaded)[0]
        spec = faithfulness.spectrum(photo, natural)
        rows.append({"photo": name, "spectrum_db": spec.distance_db, "slope": spec.slope})
    return rows


def agreement(judges: Judges, unit: int, seeds: int, methods: list[str], steps: int | None) -> list[dict]:
    from .visualizations import lucent_render

    rows = []
    for method in methods:
        images, seconds = [], []
        for seed in range(seeds):
            start = time.perf_counter()
            if method == "lucent":
                image, _ = lucent_render(judges.model, lambda logits: -logits[:, unit].mean(), seed)
            else:
                image, _, _ = maximize(judges, LOGITS, unit, method, steps=steps, seed=seed)
            seconds.append(time.perf_counter() - start)
            images.append(image.cpu())
        batch = torch.cat(images)
        agree = faithfulness.seed_agreement(judges.transfer, batch, unit)
        per_seed = [scored(judges.model, image, unit) for image in images]
        rows.append({"method": method, "class": unit, "seeds": seeds, "recognized": agree.recognized,
                     "spread": agree.spread, "seconds_mean": round(statistics.mean(seconds), 1),
                     "path_mean": round(statistics.mean(r["path"] for r in per_seed), 4),
                     "spectrum_db_mean": round(statistics.mean(r["spectrum_db"] for r in per_seed), 2)})
        print(rows[-1], flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    """Per method and task: mean path, spectrum distance, slope, judges' recognition and seconds."""
    out: dict = {}
    for task in ("class", "preimage"):
        for method in dict.fromkeys(r["method"] for r in rows):
            members = [r for r in rows if r["task"] == task and r["method"] == method]
            if not members:
                continue
            entry = {k: round(statistics.mean(r[k] for r in members), 3) for k in ("path", "spectrum_db", "slope",
                                                                                   "seconds")}
            for judge in members[0]["judges"]:
                entry[f"{judge}_recognized"] = sum(bool(r["judges"][judge]["top1_is_class"]) for r in members)
                probabilities = [r["judges"][judge]["p"] for r in members if r["judges"][judge]["p"] is not None]
                entry[f"{judge}_p"] = round(statistics.mean(probabilities), 3) if probabilities else None
            entry["n"] = len(members)
            out[f"{task}/{method}"] = entry
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench faithfulness")
    ap.add_argument("--run", default=str(common.RESULTS / "visualizations-cpu-2026-11-27.json"))
    ap.add_argument("--cells", default=str(Path(__file__).resolve().parent / "runs" / "visualizations"))
    ap.add_argument("--agreement-class", type=int, default=980)  # volcano: a benchmark class, no recipe tuned on it
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=None, help="steps for part 2 (default: each recipe's)")
    ap.add_argument("--methods", default=",".join(PRIORS))
    ap.add_argument("--smoke-classes", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    loaded = zoo.load("efficientnet_lite0")
    judges = Judges(loaded, zoo.load("tf_efficientnet_lite2"))
    payload: dict = {"threads": torch.get_num_threads(), "load_average_before": [round(v, 2) for v in os.getloadavg()],
                     "natural_pool": faithfulness.PACKAGED_PHOTOS}
    run_path = Path(args.run)
    if run_path.is_file() and Path(args.cells).is_dir():
        run = json.loads(run_path.read_text())
        rows = saved_pictures(loaded, run, Path(args.cells), args.smoke_classes)
        payload.update({"saved_run": str(run_path), "pictures": rows, "summary": summary(rows),
                        "natural_photos": natural_rows(loaded, run) if not args.smoke_classes else []})
    payload["agreement"] = agreement(judges, args.agreement_class, args.seeds,
                                     args.methods.split(","), args.steps)
    payload["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    common.save_result("faithfulness", payload)
