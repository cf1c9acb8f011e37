"""atlas.html: one self-contained page (opens offline, from one file) with a row per unit — its visualizations
under each prior, its dataset examples, the numbers — a search box, and images decoded only as rows come into
view, so that a layer of hundreds of units stays usable. atlas.json beside it holds every number shown."""
from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from . import files
from .atlas import Unit

STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
header{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd;z-index:1}
.incomplete{color:#b00;font-weight:bold}
input{font-size:15px;padding:.3em .5em;width:18em}
.unit{display:flex;gap:1.2em;align-items:flex-start;padding:.8em 0;border-bottom:1px solid #eee;
      content-visibility:auto;contain-intrinsic-size:auto 190px}
.label{width:8em;flex:none}.label b{font-size:16px}
.group{display:flex;gap:.4em}.group h4{margin:0 0 .2em;font-weight:600;color:#555;font-size:12px}
figure{margin:0;text-align:center;font-size:12px}
figure img{display:block;background:#eee;image-rendering:auto}
.viz img{width:150px;height:150px}.crop img{width:96px;height:96px}
.no{color:#b00}.yes{color:#070}.muted{color:#777}
"""

SCRIPT = """
const data = JSON.parse(document.getElementById('images').textContent);
function show(row){row.querySelectorAll('img[data-src]').forEach(img=>{img.src=data[img.dataset.src];
  img.removeAttribute('data-src');});}
const seen = new IntersectionObserver(es=>es.forEach(e=>{if(e.isIntersecting){show(e.target);seen.unobserve(e.target);}}),
  {rootMargin:'400px'});
const rows = Array.from(document.querySelectorAll('.unit'));
rows.forEach(r=>seen.observe(r));
const count = document.getElementById('count');
document.getElementById('search').addEventListener('input', ev=>{
  const q = ev.target.value.trim().toLowerCase();
  let shown = 0;
  rows.forEach(r=>{const hit = !q || r.dataset.unit === q || r.dataset.name.includes(q);
    r.style.display = hit ? '' : 'none'; shown += hit;});
  count.textContent = shown + ' of ' + rows.length + ' units';
});
"""


def number(value: float | None) -> str:
    """How the page shows an activation (3 significant digits); atlas.json keeps the full value."""
    return "–" if value is None else f"{value:.3g}"


def times(value: float | None) -> str:
    """How the page shows a multiple of the best real image's activation."""
    return "–" if value is None else f"×{value:.2f}"


def _data_uri(path: Path) -> str:
    """The image inside the page: a JPEG as it is, a PNG (a visualization, 100-150 kB) as a JPEG of quality 90
    (about a fifth of that), so that a page of a thousand units stays small enough to open."""
    data = path.read_bytes()
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        with Image.open(io.BytesIO(data)) as image:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=90)
            data = buffer.getvalue()
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


def _row(unit: Unit, crops: Sequence[str], images: dict[str, str], folder: Path) -> str:
    name = unit.name or ""
    label = f"<b>unit {unit.unit}</b>" + (f"<br>{escape(name)}" if name else "")
    if unit.best_real is not None:
        label += f"<br><span class='muted'>best real <span class='best'>{number(unit.best_real)}</span></span>"
    figures = []
    for picture in unit.pictures:
        key = picture.image
        images[key] = _data_uri(folder / picture.image)
        verdict = ""
        if picture.recognized is not None:
            verdict = (f"<br><span class='{'yes' if picture.recognized else 'no'} judge'>judge: "
                       f"{escape(picture.judge or '')}</span>")
        figures.append(f"<figure class='viz' data-prior='{escape(picture.prior)}'><img alt='{escape(picture.prior)}' "
                       f"data-src='{escape(key)}'><figcaption>{escape(picture.prior)}<br>"
                       f"<span class='activation'>{number(picture.activation)}</span> "
                       f"<span class='multiple'>{times(picture.multiple)}</span><br>"
                       f"<span title='spectral slope (natural photos: about −2 to −3.5)'>slope "
                       f"<span class='slope'>{number(picture.spectral_slope)}</span></span> · "
                       f"<span class='spectrum'>{number(picture.spectrum_db)}</span> dB"
                       f"{verdict}</figcaption></figure>")
    examples = []
    for example, crop in zip(unit.examples, crops):
        images[crop] = _data_uri(folder / crop)
        examples.append(f"<figure class='crop' title='{escape(example.image)}'><img alt='example' "
                        f"data-src='{escape(crop)}'><figcaption><span class='multiple'>{times(example.multiple)}"
                        f"</span></figcaption></figure>")
    crops_html = (f"<div class='group'>{''.join(examples)}</div>" if examples else "")
    return (f"<section class='unit' data-unit='{unit.unit}' data-name='{escape(name.lower())}'>"
            f"<div class='label'>{label}</div><div class='group'>{''.join(figures)}</div>{crops_html}</section>")


def write(folder: Path, units: Sequence[Unit], crops: dict[int, list[str]], about: dict[str, Any],
          incomplete: str | None = None) -> Path:
    """atlas.html in `folder` for `units`; `crops[unit]` are the unit's example crops (paths relative to
    `folder`, in the order of `unit.examples`); `about` (model, layer, priors …) heads the page, and
    `incomplete` below it in red (an atlas whose run was interrupted)."""
    images: dict[str, str] = {}
    rows = "".join(_row(u, crops.get(u.unit, []), images, folder) for u in units)
    facts = ", ".join(f"{escape(str(k))}: {escape(str(v))}" for k, v in about.items() if not isinstance(v, (list, dict)))
    title = f"{about.get('model', '')} {about.get('layer', '')} atlas"
    blob = json.dumps(images).replace("</", "<\\/")  # no "</script>" inside the script element
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{STYLE}</style>"
            f"</head><body><header><h1>{escape(title)}</h1>"
            + (f"<p class='incomplete'>{escape(incomplete)}</p>" if incomplete else "")
            + f"<p class='muted'>{facts}. Each picture: the unit's "
            f"activation it reached and that as a multiple of the best real image's, its spectral slope (natural "
            f"photos: about −2 to −3.5; flatter is noisier) and its spectrum's distance from natural photos' in dB; "
            f"each crop: where a real image drives the unit most, its activation as a multiple of the best.</p>"
            f"<input id='search' type='search' placeholder='unit number or class name' aria-label='search units'> "
            f"<span id='count'>{len(units)} of {len(units)} units</span></header>"
            f"<main>{rows}</main><script type='application/json' id='images'>{blob}</script>"
            f"<script>{SCRIPT}</script></body></html>")
    path = folder / "atlas.html"
    files.write_text(path, html)
    return path
