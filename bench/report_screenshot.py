"""A picture of a study's report.html as a page renders it, for docs/ (no browser here: WeasyPrint lays out the
HTML and CSS, pypdfium2 rasterizes the page).

    python -m bench report_screenshot runs/study --out docs/study_report.png

Needs `pip install weasyprint pypdfium2` beside the project (not a dependency: only docs use it). It also
checks that every number in the report's table is the manifest's: the page shows what the cells measured.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from invert import studies

SMOKE = ["{tmp}/study", "--out", "{tmp}/report.png"]
REQUIRES = ["weasyprint", "pypdfium2"]


def smoke_setup(tmp: Path) -> None:
    """A two-cell study to render."""
    spec_path = tmp / "study.toml"
    spec_path.write_text('task = "restore"\nimages = ["skimage:camera"]\npriors = ["tv", "pixel"]\nsteps = 2\n'
                         "crop = 32\n")
    (tmp / "study").mkdir()
    studies.run_study(studies.load_spec(spec_path), tmp / "study")
    studies.write_report(tmp / "study")


def check_numbers(out: Path) -> int:
    """Every mean in report.md's table recomputed from the manifest's cells; returns how many were checked."""
    cells = studies.finished_cells(out)
    text = (out / "report.md").read_text()
    checked = 0
    for row in studies.study_table([(s, r) for s, r, _ in cells]):
        line = next(l for l in text.splitlines() if l.startswith(f"| {row['prior']} | {row['row']} |"))
        for value in (v for k, v in row.items() if isinstance(v, tuple)):
            assert studies.report._mean_ci_text(value) in line, (line, value)
            checked += 1
    return checked


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=Path, help="a study's folder (with report.html)")
    ap.add_argument("--out", type=Path, required=True, help="the PNG to write")
    ap.add_argument("--width", type=int, default=1100, help="pixels across")
    args = ap.parse_args(argv)
    import pypdfium2
    import weasyprint

    print(f"report table: {check_numbers(args.study)} numbers match the manifest")
    pdf = weasyprint.HTML(filename=str(args.study / "report.html")).write_pdf()
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=args.width / page.get_width()).to_pil().convert("RGB")
    image.save(args.out, optimize=True)
    print(f"wrote {args.out} ({image.width}×{image.height})")


if __name__ == "__main__":
    main()
