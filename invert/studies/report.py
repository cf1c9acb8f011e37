"""A study's report: report.md and a self-contained report.html from its finished cells — a row per prior and
experiment with each operation's score columns (mean and interval over images and seeds), and its grids."""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, Sequence

import torch

from .. import files, operations
from ..report import curves_by_run, grid_rows

def _study_task(settings: dict[str, Any]) -> operations.Operation:
    return operations.get(settings["task"])


# settings that vary within one spec's cells without making them different experiments (or that the row shows)
SAME_EXPERIMENT = {"seed", "image", "prior", "task", "layer", "unit", "units", "direction", "restore", "objective",
                   "from_image"}


def varying(cells: Sequence[tuple[dict, ...]]) -> list[str]:
    """The settings whose values differ between cells although one spec would not vary them (steps, a recipe
    weight): cells of two specs in one folder. Rows show them, so that such cells are never averaged together."""
    keys = sorted({k for c in cells for k in c[0]} - SAME_EXPERIMENT)
    return [k for k in keys if len({json.dumps(c[0].get(k), sort_keys=True) for c in cells}) > 1]


def _row_of(settings: dict[str, Any], apart: Sequence[str] = ()) -> str:
    """What a table row and a grid row stand for besides the prior: the layer, the unit or the restoration, and
    the settings in `apart` (see `varying`)."""
    return _study_task(settings).row(settings) + "".join(f" {k}={settings.get(k)}" for k in apart)


def study_table(cells: Sequence[tuple[dict, dict]]) -> list[dict[str, Any]]:
    """Per (prior, layer / unit / restoration): each metric's mean and 95 % CI over images and seeds."""
    from ..metrics import mean_ci

    from ..cell_scores import columns

    scores = _study_task(cells[0][0]).scores
    apart = varying(cells)
    groups: dict[tuple[str, str], list] = {}
    for settings, record in cells:
        groups.setdefault((settings["prior"], _row_of(settings, apart)), []).append(scores.of(settings, record))
    rows = []
    for (prior, what), members in sorted(groups.items()):
        row: dict[str, Any] = {"prior": prior, "row": what, "cells": len(members)}
        for name, heading in columns(scores).items():
            values = [v for v in (getattr(m, name) for m in members) if v is not None]
            # a 95 % interval from fewer than 3 values is wider than most quantities' range: none is given
            row[heading] = None if not values else mean_ci(values) if len(values) >= 3 else (mean_ci(values)[0], None)
        rows.append(row)
    return rows


def _mean_ci_text(value: tuple[float, float | None] | None) -> str:
    if value is None:
        return "—"
    return f"{value[0]:.3g} (n < 3: no interval)" if value[1] is None else f"{value[0]:.3g} ± {value[1]:.2g}"


def _shown_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The score columns of a study table that some row has a value in (a diverse batch's Gram similarity is
    not shown for studies without one)."""
    return [c for c in rows[0] if c not in ("prior", "row", "cells") and any(r[c] is not None for r in rows)]


def _table_markdown(rows: list[dict[str, Any]]) -> str:
    columns = _shown_columns(rows)
    lines = ["| prior | layer / unit / task | cells | " + " | ".join(columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    for r in rows:
        lines.append(f"| {r['prior']} | {r['row']} | {r['cells']} | " + " | ".join(_mean_ci_text(r[c]) for c in columns)
                     + " |")
    return "\n".join(lines) + "\n"


def _original_like(name: str, cell_image: torch.Tensor) -> torch.Tensor:
    """The study's input image, centre-cropped square and resized to a cell image's size, to show beside it."""
    import torch.nn.functional as F

    from ..images import center_crop, load_image

    image = load_image(name)[0]
    image = center_crop(image, min(image.shape[-2:]))
    image = F.interpolate(image, size=tuple(cell_image.shape[-2:]), mode="bilinear", antialias=True,
                          align_corners=False).clamp(0, 1)
    return image.expand(-1, cell_image.shape[1], -1, -1) if image.shape[1] == 1 else image


def study_report(out: Path, cells: Sequence[tuple[dict, dict, Path]], missing: str | None = None) -> tuple[Path, Path]:
    """report.md and a self-contained report.html (images inlined) for a study's finished cells (settings,
    record, image path): per image a grid (rows: layers, units or the restoration; columns: priors; the first
    seed), the table per prior × row with 95 % confidence intervals, and the loss curves. `missing` (see
    `studies.unfinished`) heads the pages and the grids of a study not yet finished."""
    import base64

    from ..images import load_image

    task = cells[0][0]["task"]
    apart = varying(cells)
    priors = list(dict.fromkeys(s["prior"] for s, _, _ in cells))
    first_seed = min(s["seed"] for s, _, _ in cells)
    figures: list[tuple[str, Path]] = []
    by_image: dict[str, list] = {}
    for settings, record, image in cells:
        if settings["seed"] == first_seed:
            by_image.setdefault(settings.get("image", "units"), []).append((settings, record, image))
    for index, (name, members) in enumerate(by_image.items()):
        rows: dict[str, list] = {}
        for settings, record, image in members:
            rows.setdefault(_row_of(settings, apart), {})[settings["prior"]] = (record, image)
        grid_png = out / f"report_grid_{index}.png"
        shows = _study_task(cells[0][0]).shows_original
        first = [("original", _original_like(name, load_image(members[0][2])[0]))] if shows else []
        grid_rows([first + [(f"{what} · {p}", load_image(row[p][1])[0]) if p in row else (f"{what} · {p}", None)
                            for p in priors] for what, row in rows.items()], grid_png, panel_inches=2.0,
                  headline=missing and missing.split(";")[0])
        figures.append((f"{Path(name).name}: rows {', '.join(rows)}; columns {', '.join(priors)} (seed {first_seed})",
                        grid_png))
    curves_png = out / "report_curves.png"
    curves_by_run({f"{_row_of(s, apart)} · {s['prior']} · {Path(str(s.get('image', ''))).stem} · seed {s['seed']}":
                   [{"step": i, "loss": v} for i, v in enumerate(r["losses"])] for s, r, _ in cells},
                  curves_png, f"{task} study: loss per cell")
    figures.append(("loss curves, every cell", curves_png))
    rows = study_table([(s, r) for s, r, _ in cells])
    table = _table_markdown(rows)
    title = f"# {task} study: {len(cells)} cells, priors {', '.join(priors)}\n\n" + (f"**{missing}**\n\n" if missing else "")
    note = ("Each entry: the mean over images and seeds ± the half-width of its 95 % confidence interval (Student's t; "
            "none for fewer than 3 cells).\n\n")
    md = title + note + table + "\n" + "".join(f"![{caption}]({path.name})\n\n{caption}\n\n" for caption, path in figures)
    files.write_text(out / "report.md", md)
    inline = "".join(f'<figure><img src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
                     f"<figcaption>{escape(caption)}</figcaption></figure>" for caption, p in figures)
    html_table = _table_html(rows)
    task = escape(task)  # names from a spec and file names are text, not markup
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{task} study</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:4px 8px}img{max-width:100%}</style></head><body>"
            f"<h1>{task} study: {len(cells)} cells</h1>"
            + (f"<p style='color:#b00;font-weight:bold'>{escape(missing)}</p>" if missing else "")
            + f"<p>{note.strip()}</p>{html_table}{inline}</body></html>")
    files.write_text(out / "report.html", html)
    return out / "report.md", out / "report.html"


def _table_html(rows: list[dict[str, Any]]) -> str:
    columns = _shown_columns(rows)
    head = "".join(f"<th>{escape(c)}</th>" for c in ["prior", "layer / unit / task", "cells", *columns])
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in [r["prior"], r["row"], r["cells"]] + [
        _mean_ci_text(r[c]) for c in columns]) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
