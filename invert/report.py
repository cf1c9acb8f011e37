"""What people look at: PNG grids and learning curves, next to machine-readable JSON."""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from matplotlib.figure import Figure  # figures without pyplot: a notebook's backend is left as it is
import torch

from . import files
from .provenance import run_info, write_json
from .images import save_image, to_uint8

if TYPE_CHECKING:
    from .preimages import Cell
    from .operations import Restored
    from .zoo import LoadedModel


def labelled(index: int, name: str | None) -> str:
    """A class as people read it: `282 tiger cat`, or the bare index when the model's labels are not known."""
    return f"{index} {name}" if name else str(index)


def _figure(rows: int = 1, columns: int = 1, *, figsize: tuple[float, float], squeeze: bool = True,
            width_ratios: Sequence[float] | None = None):
    """A figure and its axes, drawn off-screen whatever backend the process uses."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, columns, squeeze=squeeze, width_ratios=width_ratios)


def _save(fig: Figure, path: str | os.PathLike) -> None:
    with files.atomic(path) as temporary:
        fig.savefig(temporary, dpi=100)


# a panel whose image is None is a picture that was not made (the run was interrupted before it)
Panel = tuple[str, "torch.Tensor | None"]


def grid(panels: Sequence[Panel], path: str | os.PathLike, columns: int | None = None,
         panel_inches: float = 2.6, headline: str | None = None) -> None:
    """Images side by side with a title each, wrapped into rows of `columns`."""
    columns = columns or len(panels)
    grid_rows([list(panels[i : i + columns]) for i in range(0, len(panels), columns)], path, panel_inches,
              headline=headline)


def grid_rows(rows: Sequence[Sequence[Panel]], path: str | os.PathLike, panel_inches: float = 2.6,
              row_labels: Sequence[str] | None = None, headline: str | None = None) -> None:
    """Rows of titled images at a common display size (nearest-neighbour upscaling); rows may be ragged;
    `row_labels` are written beside the rows. A panel without an image says "not made yet"; `headline`, in red
    above the grid, says what makes the picture unfinished (an interrupted run)."""
    columns = max(len(r) for r in rows)
    top = 0.45 if headline else 0
    # a column of strips (a batch's images side by side) is as much wider as they are: no image is squeezed
    widths = [max([1.0] + [row[c][1].shape[-1] / row[c][1].shape[-2] for row in rows
                           if c < len(row) and row[c][1] is not None]) for c in range(columns)]
    fig, axes = _figure(len(rows), columns, figsize=(panel_inches * sum(widths), panel_inches * len(rows) + 0.3 + top),
                        squeeze=False, width_ratios=widths)
    for ax in axes.flat:
        ax.axis("off")
    for r, label in enumerate(row_labels or []):
        axes[r][0].axis("on")
        axes[r][0].set_xticks([])
        axes[r][0].set_yticks([])
        for spine in axes[r][0].spines.values():
            spine.set_visible(False)
        axes[r][0].set_ylabel(label, fontsize=9)
    for r, row in enumerate(rows):
        for c, (title, image) in enumerate(row):
            if image is None:
                axes[r][c].text(0.5, 0.5, "not made yet", ha="center", va="center", fontsize=9,
                                color="tab:red", transform=axes[r][c].transAxes)
            else:
                a = to_uint8(image)
                axes[r][c].imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
            axes[r][c].set_title(title, fontsize=8)
    if headline:
        fig.suptitle(headline, color="tab:red", fontsize=10, fontweight="bold")
    fig.tight_layout()
    _save(fig, path)


def unfinished(cells: Sequence["Cell"], planned: int) -> str | None:
    """A grid's headline when its run was interrupted (pictures missing, or the last one cut short), else None."""
    cut = [c for c in cells if c.fit.interrupted]
    if len(cells) == planned and not cut:
        return None
    return (f"INTERRUPTED: {len(cells)} of {planned} pictures" + (" (the last cut short)" if cut else "")
            + "; not a finished run")


def _state(cell: "Cell") -> str:
    """What a picture's title says first when its fit did not finish (cut short: at which step) or failed (stalled,
    or its class changed)."""
    if cell.fit.interrupted:
        planned = cell.fit.config.steps if cell.fit.config is not None else None
        return f"CUT at step {cell.fit.steps_run}" + (f" of {planned}" if planned else "") + "\n"
    return f"{cell.record['failure'].upper()} " if cell.record.get("failure") else ""


def curves_by_run(histories: dict[str, Sequence[dict[str, float]]], path: str | os.PathLike, title: str = "",
                  log: bool = False, level: float | None = None, reached: dict[str, int | None] | None = None) -> None:
    """One loss curve per named run on one plot; `log` puts both axes on log scales (the DIP paper's Fig. 2).
    `level` draws a loss level as a dashed line, and `reached` marks the step each run first got there."""
    fig, ax = _figure(figsize=(6.5, 4))
    for label, history in histories.items():
        line, = ax.plot([h["step"] for h in history], [h["loss"] for h in history], lw=1, label=label)
        step = (reached or {}).get(label)
        if step is not None:
            ax.plot([step], [history[step - 1]["loss"]], "o", ms=5, color=line.get_color())
    if level is not None:
        ax.axhline(level, color="gray", ls="--", lw=0.8)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("step")
    ax.set_ylabel("energy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    _save(fig, path)


def learning_curves(history: Sequence[dict[str, float]], path: str | os.PathLike, title: str = "",
                    output_step: int | None = None) -> None:
    """Loss (log scale) against step, with the data term beside it when a regularizer adds to the loss
    (auto-stop watches the data term), and PSNR on a second axis when a reference was known; a dotted
    line marks `output_step`, the step auto-stop took the output from."""
    steps = [h["step"] for h in history]
    fig, ax = _figure(figsize=(6, 3.6))
    ax.plot(steps, [h["loss"] for h in history], color="tab:blue", lw=1, label="loss")
    if history and "data" in history[0]:
        ax.plot(steps, [h["data"] for h in history], color="tab:cyan", lw=1, ls="--", label="data term")
        ax.legend(loc="center right", fontsize=8)
    if output_step is not None:
        ax.axvline(output_step, color="gray", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss", color="tab:blue")
    if history and "psnr" in history[0]:
        ax2 = ax.twinx()
        ax2.plot(steps, [h["psnr"] for h in history], color="tab:red", lw=1, label="PSNR (output)")
        if "psnr_ema" in history[0]:
            ax2.plot(steps, [h["psnr_ema"] for h in history], color="tab:orange", lw=1, label="PSNR (average)")
        ax2.set_ylabel("PSNR (dB)", color="tab:red")
        ax2.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def write_restoration(done: "Restored", out: Path, extra: dict[str, Any]) -> None:
    """restored.png, degraded.png, grid.png (input, result, reference when known), curves.png, result.json;
    for inpainting also restored_raw.png, the prior's output before the known pixels were put back."""
    problem, result, record = done.problem, done.fit, done.record
    save_image(done.image, out / "restored.png")
    if problem.known is not None:
        save_image(done.raw, out / "restored_raw.png")
    save_image(problem.observation.clamp(0, 1), out / "degraded.png")
    shown = problem.baseline if problem.task == "sr" else problem.observation
    label = f"{record['prior']} ({record['preset']})"
    panels = [("bicubic" if problem.task == "sr" else "input", shown), (label, done.image)]
    if "psnr" in record:
        panels = [(f"{panels[0][0]} {record['psnr_input']:.2f} dB", shown),
                  (f"{label} {record['psnr']:.2f} dB", done.image),
                  ("reference", problem.reference)]
    planned = f" of {result.config.steps}" if result.config is not None else ""
    cut = f"INTERRUPTED at step {result.steps_run}{planned}; not the finished restoration" if result.interrupted else None
    grid(panels, out / "grid.png", headline=cut)
    learning_curves(result.history, out / "curves.png", f"{problem.task} · {label}"
                    + (f" · INTERRUPTED at step {result.steps_run}" if cut else ""),
                    output_step=result.chosen_step)
    write_json({**record, **extra, **run_info(), "history": result.history}, out / "result.json")


def preimage_grid(cells: Sequence["Cell"], model: "LoadedModel", target: torch.Tensor, layers: Sequence[str],
                  prior_names: Sequence[str], out: Path, attribution: bool = False) -> None:
    """grid.png (a row per layer: the original, then each prior's pre-image; with `attribution`, Integrated
    Gradients maps beside them) and curves.png (every cell's loss)."""
    from .attribution import attribution_map
    from .inversion import top1

    by_key = {cell.key: cell for cell in cells}
    top = top1(model, target)
    original = labelled(top, model.class_name(top))
    rows = []
    for layer in layers:
        row = [(f"original · {layer}\ntop1 {original}", target)]
        if attribution:
            row.append(("IG original", attribution_map(model, target, target)))
        for name in prior_names:
            cell = by_key.get((layer, name))
            if cell is None:
                row += [(name, None)] + [(f"IG {name}", None)] * attribution
                continue
            rec = cell.record
            row.append((f"{_state(cell)}{name}: loss {rec['feature_loss']:.2f}\n"
                        f"top1 {labelled(rec['top1'], rec['top1_name'])}", cell.image))
            if attribution:
                row.append((f"IG {name}", attribution_map(model, target, cell.image)))
        rows.append(row)
    grid_rows(rows, out / "grid.png", headline=unfinished(cells, len(layers) * len(prior_names)))
    curves_by_run({f"{c.key[0]} · {c.key[1]}": c.fit.history for c in cells}, out / "curves.png")


def maximize_grid(cells: Sequence["Cell"], layer: str, unit: str, prior_names: Sequence[str], out: Path) -> None:
    """grid.png (each prior's image with its activation and top-1) and curves.png; `unit` names what was
    maximized in `layer` (a channel or class number, a direction)."""
    by_key = {cell.key: cell for cell in cells}
    planned = [(name, by_key.get(name)) for name in prior_names]  # a prior not reached has no cell
    headline = unfinished(cells, len(prior_names))
    if all(len(c.image) == 1 for c in cells):
        grid([(f"{_state(c)}{c.key}: act {c.record['activation']:.2f}\n"
               f"top1 {labelled(c.record['top1'], c.record['top1_name'])}", c.image) if c else (name, None)
              for name, c in planned], out / "grid.png", headline=headline)
    else:  # a row per prior, labelled with its activation (and the batch's similarity); each image's top-1 above it
        rows = [[(f"top1 {labelled(t, n)}", c.image[i:i + 1])
                 for i, (t, n) in enumerate(zip(c.record["top1"], c.record["top1_name"]))] if c else [("", None)]
                for _, c in planned]
        labels = [f"{_state(c)}{c.key}\nact {c.record['activation']:.2f}" + (
            f"\nGram sim. {c.record['similarity']:.2f}" if "similarity" in c.record else "") if c else name
            for name, c in planned]
        grid_rows(rows, out / "grid.png", row_labels=labels, headline=headline)
    name = cells[0].record["class_name"]
    curves_by_run({c.key: c.fit.history for c in cells}, out / "curves.png",
                  f"maximize {layer}[{unit}{' ' + name if name else ''}]")


def markdown_table(rows: list[dict]) -> str:
    """The comparison table (from `summarize_comparison`) as Markdown."""
    cols = ["prior", "images", "feature_loss", "ssim_to_original", "top1_kept", "transfer_rate", "seconds"]
    cols = [c for c in cols if c in rows[0]]
    fmt = {"feature_loss": "{:.3f}", "ssim_to_original": "{:.3f}", "top1_kept": "{:.0%}", "transfer_rate": "{:.0%}",
           "seconds": "{:.1f}"}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(fmt.get(c, "{}").format(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def comparison(cells: Sequence["Cell"], model: "LoadedModel", targets: Sequence[torch.Tensor], prior_names: Sequence[str],
               table: list[dict], out: Path) -> None:
    """grid.png (a row per image: the original, then each prior's pre-image) and table.md."""
    from .inversion import top1

    by_key = {cell.key: cell for cell in cells}
    rows = []
    for index, target in enumerate(targets):
        top = top1(model, target)
        row = [(f"original {index}\ntop1 {labelled(top, model.class_name(top))}", target)]
        for name in prior_names:
            cell = by_key.get((index, name))
            row.append((f"{_state(cell)}{name}\ntop1 {labelled(cell.record['top1'], cell.record['top1_name'])}",
                        cell.image) if cell else (name, None))
        rows.append(row)
    grid_rows(rows, out / "grid.png", headline=unfinished(cells, len(targets) * len(prior_names)))
    files.write_text(out / "table.md", markdown_table(table))


def summarize_comparison(records: list[dict]) -> list[dict]:
    """Per prior, the mean over images of feature loss, SSIM to the original, top-1 kept, transfer and time."""
    by_prior: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_prior[r["prior"]].append(r)
    rows = []
    for prior, rs in by_prior.items():
        n = len(rs)
        row = {"prior": prior, "images": n,
               "feature_loss": sum(r["feature_loss"] for r in rs) / n,
               "ssim_to_original": sum(r["ssim_to_original"] for r in rs) / n,
               "top1_kept": sum(r["top1"] == r["top1_original"] for r in rs) / n,
               "seconds": sum(r["seconds"] for r in rs) / n}
        if "transfer_agrees" in rs[0]:
            row["transfer_rate"] = sum(r["transfer_agrees"] for r in rs) / n
        rows.append(row)
    return rows
