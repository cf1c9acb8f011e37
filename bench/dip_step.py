"""What a DIP step costs on this machine, piece by piece, for the `preimage` and `maximize` presets.

For each variant of the net (as before issue 26: padded to 256², fp32; at the image's size; in bfloat16;
strided downsampling as in docs/visualizations.md's c1) it times, at the preset's objective on
EfficientNet-Lite0: the net forward and backward, the classifier on the transformed image(s) forward and
backward, and a whole step through `engine.fit` (optimizer, moving average and Python included), as the
median over interleaved rounds so that a passing load hits every variant alike.

    python -m bench dip_step [--threads 2] [--steps 12] [--rounds 3]

Writes bench/results/dip_step-cpu-<date>.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from invert import priors, zoo
from invert.engine import FitConfig, fit, uses_amp
from invert.objectives import Hooked, channel, feature_match
from invert.preimages import recipe
from invert.threads import set_threads
from invert.transforms import from_recipe

from .common import save_result

# (task, layer, unit): a coarse pre-image layer and a class logit, as the overview and `invert maximize` fit them
TASKS = {"preimage": ("blocks.4", None), "maximize": ("classifier", 130)}
# variant: (prior overrides, fit overrides)
VARIANTS = {
    "before": ({"exact_size": False}, {"amp": False}),
    "exact": ({}, {"amp": False}),
    "exact+bf16": ({}, {}),
    "strided+bf16": ({"downsample": "stride", "input_depth": 8}, {}),
}
SMOKE = ["--steps", "2", "--rounds", "1", "--variants", "before,exact+bf16", "--tasks", "preimage"]


def _median_ms(f, steps: int) -> float:
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(loaded: zoo.LoadedModel, task: str, variant: str, steps: int) -> dict[str, float]:
    layer, unit = TASKS[task]
    preset, settings = recipe("dip", None, task)
    prior_kw, fit_kw = VARIANTS[variant]
    prior = priors.create("dip", size=tuple(loaded.input_size[1:]), preset=preset, **prior_kw)
    target = torch.rand(1, *loaded.input_size)
    energy = Hooked(loaded, feature_match(layer, target) if unit is None else channel(layer, unit),
                    transform=from_recipe(settings))
    cfg = FitConfig.build(prior.fit_defaults, **fit_kw, steps=steps, device="cpu")
    amp = uses_amp(cfg, torch.device("cpu"))
    net = prior.to(memory_format=torch.channels_last)

    def net_step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = net()
        out.float().sum().backward()

    image = net().detach().requires_grad_(True)

    def classifier_step() -> None:
        energy(image).backward()

    row = {"net_ms": _median_ms(net_step, steps), "classifier_ms": _median_ms(classifier_step, steps)}
    result = fit(prior, energy, cfg)
    row["step_ms"] = result.seconds / result.steps_run * 1000
    row["params"] = prior.num_parameters()
    row["bf16"] = amp
    energy.remove_hooks()
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--name", default="dip_step")
    args = ap.parse_args(argv)
    if args.threads:
        set_threads(args.threads)  # kept by every fit, unlike torch.set_num_threads
    loaded = zoo.load("efficientnet_lite0")
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.rounds):  # interleaved: a passing load hits every variant alike
        for task in args.tasks.split(","):
            for variant in args.variants.split(","):
                runs.setdefault((task, variant), []).append(measure(loaded, task, variant, args.steps))
    rows = []
    for (task, variant), measured in runs.items():
        row = {"task": task, "variant": variant, "params": measured[0]["params"], "bf16": measured[0]["bf16"]}
        for key in ("net_ms", "classifier_ms", "step_ms"):
            row[key] = round(statistics.median(m[key] for m in measured), 1)
        rows.append(row)
        print(f"{task:9s} {variant:13s} net {row['net_ms']:6.1f} ms  classifier {row['classifier_ms']:6.1f} ms  "
              f"step {row['step_ms']:6.1f} ms", flush=True)
    save_result(args.name, {"device": "cpu", "threads": torch.get_num_threads(), "load_before": os.getloadavg(),
                            "steps": args.steps, "rounds": args.rounds, "rows": rows})


if __name__ == "__main__":
    main()
