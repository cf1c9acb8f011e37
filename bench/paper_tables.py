"""The DIP paper's restoration tables, re-run: DIP (paper presets), Deep Decoder, TV and the classical
baseline side by side, with the paper's numbers.

    python -m bench paper_tables --quick [--data ../shared/data]   # CPU-sized subset, < 30 min on 2 cores
    python -m bench paper_tables --full                             # the paper protocol (meant for a GPU)

--quick uses centre crops, fewer images and fewer steps (all stated in the output); its numbers are not
comparable one-to-one with the paper's full-image ones. Writes bench/results/paper_tables-<mode>-<device>-
<date>.json and .md.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from invert import priors
from invert import FitConfig, fit, metrics, restoration
from invert.engine import resolve_device
from invert.images import center_crop, load_image

from .common import DATA, SPLITS, save_result

SMOKE = ["--quick", "--data", "{data}", "--tables", "denoise", "--dip-steps", "2", "--crop", "32", "--images", "1"]

# The paper's numbers (recomputed from the authors' released outputs, as quoted in the project's issue).
PAPER = {
    "denoise": {"set": {"DIP": 31.29, "CBM3D": 31.42}},
    "sr4-Set5": {"set": {"DIP": 29.90, "bicubic": 28.44, "TV": 28.86}},
    "sr4-Set14": {"set": {"DIP": 27.01, "bicubic": 26.05, "TV": 26.42}},
    "sr8-Set5": {"set": {"DIP": 25.89, "bicubic": 24.37, "TV": 24.88}},
    "sr8-Set14": {"set": {"DIP": 24.15, "bicubic": 23.10, "TV": 23.49}},
    "inpaint": {"set": {"DIP": 33.44},
                "images": {"09.png": 32.18, "10.png": 33.04, "02.png": 39.00, "08.png": 36.08, "03.png": 33.06,
                           "01.png": 29.80, "12.png": 32.48, "11.png": 32.17}},
}

FULL = {"denoise": SPLITS["paper-denoise"], "sr4-Set5": SPLITS["Set5"], "sr4-Set14": SPLITS["Set14"],
        "sr8-Set5": SPLITS["Set5"], "sr8-Set14": SPLITS["Set14"], "inpaint": SPLITS["Set12-inpaint"]}

QUICK = {
    "denoise": {"images": ["denoising/F16_GT.png", "denoising/kodim01.png", "denoising/kodim03.png"], "crop": 96,
                "dip_steps": 600},
    "sr4-Set5": {"images": FULL["sr4-Set5"][:3], "crop": 128, "dip_steps": 400},
    "sr4-Set14": {"images": ["sr/Set14/baboon.png", "sr/Set14/zebra.png"], "crop": 128, "dip_steps": 400},
    "sr8-Set5": {"images": FULL["sr4-Set5"][:2], "crop": 128, "dip_steps": 400},
    "inpaint": {"images": ["inpainting/Set12/02.png", "inpainting/Set12/03.png", "inpainting/Set12/01.png"],
                "crop": 96, "dip_steps": 500},
}

DIP_PRESET = {"denoise": "paper-denoise", "sr4": "paper-sr4", "sr8": "paper-sr8", "inpaint": "paper-inpaint"}


def problem_for(table: str, image: torch.Tensor) -> tuple[restoration.Problem, int]:
    kind = table.split("-")[0]
    if kind == "denoise":
        return restoration.denoise(image, sigma=25, seed=0), 0
    if kind == "inpaint":
        return restoration.inpaint(image, drop=0.5, seed=0), 0
    factor = int(kind[2:])
    h, w = image.shape[-2:]
    image = image[..., : h - h % factor, : w - w % factor]  # the usual mod-crop
    return restoration.super_resolve(image, factor, from_hr=True), factor


def score(problem: restoration.Problem, x: torch.Tensor, factor: int) -> float:
    if factor:
        return metrics.psnr_y(x, problem.reference, border=factor)
    return metrics.psnr(x, problem.reference)


def run_prior(problem: restoration.Problem, name: str, preset: str | None, steps: int | None, factor: int,
              device: str) -> dict[str, Any]:
    prior = priors.create(name, channels=problem.channels, size=problem.output_size, preset=preset)
    config = FitConfig.build(prior.fit_defaults, steps=steps, device=device)
    start = time.perf_counter()
    result = fit(prior, problem.energy, config)
    return {"psnr": round(score(problem, result.output, factor), 2), "steps": result.steps_run,
            "seconds": round(time.perf_counter() - start, 1), "preset": prior.preset}


def run_table(table: str, images: list[str], crop: int | None, dip_steps: int | None, data: Path,
              device: str) -> list[dict[str, Any]]:
    kind = table.split("-")[0]
    rows = []
    for rel in images:
        image, _ = load_image(data / rel)
        if kind == "inpaint" and image.shape[1] == 3:
            image = image.mean(dim=1, keepdim=True)
        if crop:
            image = center_crop(image, crop)
        problem, factor = problem_for(table, image)
        row = {"image": rel, "size": list(problem.output_size),
               "baseline": round(score(problem, problem.baseline, factor), 2)}
        tv_preset = kind if kind in ("denoise", "inpaint") else "sr"
        for label, name, preset, steps in (("DIP", "dip", DIP_PRESET[kind], dip_steps),
                                           ("DeepDecoder", "deep_decoder", None, None),
                                           ("TV", "tv", tv_preset, None)):
            row[label] = run_prior(problem, name, preset, steps, factor, device)
        paper = PAPER[table].get("images", {}).get(Path(rel).name)
        if paper is not None:
            row["paper_DIP"] = paper
        rows.append(row)
        print(table, {k: (v["psnr"] if isinstance(v, dict) else v) for k, v in row.items()}, flush=True)
    return rows


def markdown(tables: dict[str, list[dict]], mode: str, settings: dict) -> str:
    out = [f"# DIP paper tables ({mode})", ""]
    for table, rows in tables.items():
        s = settings[table]
        baseline = {"denoise": "noisy", "inpaint": "masked"}.get(table.split("-")[0], "bicubic")
        out += [f"## {table}", "",
                f"{len(rows)} images, crop {s.get('crop') or 'none'}, DIP steps {s.get('dip_steps') or 'preset'}; "
                "PSNR in dB" + (" on Y, border = factor cropped" if table.startswith("sr") else ""), "",
                f"| image | {baseline} | DIP | Deep Decoder | TV | paper DIP |", "|---|---|---|---|---|---|"]
        for r in rows:
            out.append(f"| {Path(r['image']).name} | {r['baseline']:.2f} | {r['DIP']['psnr']:.2f} | "
                       f"{r['DeepDecoder']['psnr']:.2f} | {r['TV']['psnr']:.2f} | {r.get('paper_DIP', '')} |")
        mean = lambda key: sum(r[key]["psnr"] for r in rows) / len(rows)  # noqa: E731
        base = sum(r["baseline"] for r in rows) / len(rows)
        paper = ", ".join(f"{k} {v}" for k, v in PAPER[table]["set"].items())
        out += [f"| **mean** | {base:.2f} | {mean('DIP'):.2f} | {mean('DeepDecoder'):.2f} | {mean('TV'):.2f} | "
                f"set: {paper} |", ""]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tables", default=None, help="comma-separated subset of " + ",".join(FULL))
    ap.add_argument("--dip-steps", type=int, default=None, help="override every table's DIP steps")
    ap.add_argument("--crop", type=int, default=None, help="override every table's crop")
    ap.add_argument("--images", type=int, default=None, help="only the first N images of each table")
    args = ap.parse_args(argv)
    name = "quick" if args.quick else "full"
    settings = QUICK if args.quick else {t: {"images": imgs, "crop": None, "dip_steps": None} for t, imgs in FULL.items()}
    if args.tables:
        settings = {t: settings[t] for t in args.tables.split(",")}
    overrides = {"dip_steps": args.dip_steps, "crop": args.crop}
    settings = {t: {**s, **{k: v for k, v in overrides.items() if v is not None},
                    "images": s["images"][: args.images]} for t, s in settings.items()}
    tables = {t: run_table(t, s["images"], s["crop"], s["dip_steps"], args.data, args.device)
              for t, s in settings.items()}
    device = str(resolve_device(args.device))
    path = save_result(f"paper_tables-{name}", {"device": device, "mode": name, "settings": settings,
                                                "paper": PAPER, "tables": tables})
    path.with_suffix(".md").write_text(markdown(tables, name, settings))
    print(markdown(tables, name, settings))


if __name__ == "__main__":
    main()
