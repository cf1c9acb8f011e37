"""Dataset examples: the real images that drive each unit of a layer most, and the crop where each fires.

One pass over a folder of photos records, per image and unit, the unit's activation measured as a
visualization maximizes it (the channel's mean over positions; a logit at the classifier) and the position
where the channel is largest. The top K images per unit are cropped around that position to the layer's
effective receptive field (Luo et al. 2016: the square that holds 90 % of the input gradient's mass), so that
a visualization's activation reads as a multiple of the best real image's. The index is cached and reused.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image

from . import files, images
from .errors import InvertError
from .preimages import prepare_target
from .zoo import FeatureExtractor, LoadedModel

INDEX_VERSION = 1
CROP_PIXELS = 96  # the side of a stored crop
BATCH = 8  # images per forward in the pass


@dataclass
class ExampleIndex:
    """A layer's dataset examples: `activations[i, u]` is unit u's activation on image i, `where[i, u]` the
    (row, column) in the image where the unit fires most; `crops[u]` the top images' crops (JPEG bytes)."""

    model: str
    layer: str
    images: list[str]
    activations: torch.Tensor  # images × units
    where: torch.Tensor  # images × units × 2, pixel coordinates in the model-sized image
    receptive_field: int  # the crop side, in pixels of the model-sized image
    top: int
    crops: dict[int, list[bytes]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # "path: why", one per image left out

    @property
    def units(self) -> int:
        return self.activations.shape[1]

    def order(self, unit: int) -> list[int]:
        """Every image, from the one that drives `unit` most to the one that drives it least."""
        return self.activations[:, unit].argsort(descending=True).tolist()

    def ranking(self, unit: int) -> list[int]:
        """The images that drive `unit` most, best first (at most `top`)."""
        return self.order(unit)[: self.top]

    def best(self, unit: int) -> float:
        """The best real image's activation for `unit`: what a visualization's activation is a multiple of."""
        return float(self.activations[:, unit].max())

    def quantiles(self, unit: int, q: Sequence[float] = (0.5, 0.9, 0.99)) -> dict[str, float]:
        """Where the real images' activations lie for `unit` (the distribution a visualization is read against)."""
        values = torch.quantile(self.activations[:, unit].float(), torch.tensor(list(q)))
        return {f"q{round(p * 100)}": float(v) for p, v in zip(q, values)}


def _fingerprint(paths: Sequence[str]) -> str:
    """Which images, as they are now: names, sizes and modification times."""
    parts = []
    for p in paths:
        try:
            stat = os.stat(p)
            parts.append(f"{p}:{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:  # skimage:NAME and friends
            parts.append(p)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cache_path(folder: Path, loaded: LoadedModel, layer: str, paths: Sequence[str]) -> Path:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{loaded.name}__{layer}")
    return folder / f"examples__{safe}__{_fingerprint(paths)}.pt"


def receptive_field(loaded: LoadedModel, layer: str, mass: float = 0.9) -> int:
    """The side of the centred square of the input that holds `mass` of the gradient of the layer's centre
    position (all channels): the effective receptive field. The whole image for a layer without positions."""
    size = tuple(loaded.input_size[1:])
    device = next(loaded.model.parameters()).device
    x = (0.5 + 0.1 * torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))).to(device)
    x.requires_grad_(True)
    with torch.enable_grad(), FeatureExtractor(loaded.model, [layer], loaded.name) as extractor:
        f = extractor(loaded.preprocess(x))[layer]
        if f.dim() != 4:
            return min(size)
        f[0, :, f.shape[-2] // 2, f.shape[-1] // 2].sum().backward()
    g = x.grad.abs().sum(dim=(0, 1))
    total = float(g.sum())
    if total == 0:
        return min(size)
    cy, cx = (int(round((f.shape[-2] // 2 + 0.5) * size[0] / f.shape[-2])),
              int(round((f.shape[-1] // 2 + 0.5) * size[1] / f.shape[-1])))
    for half in range(4, max(size)):
        window = g[max(0, cy - half): cy + half, max(0, cx - half): cx + half]
        if float(window.sum()) >= mass * total:
            return min(2 * half, min(size))
    return min(size)


def _crop(image: torch.Tensor, centre: tuple[int, int], side: int) -> bytes:
    """A JPEG of the `side`-pixel square around `centre`, moved inside the image, at CROP_PIXELS."""
    h, w = image.shape[-2:]
    side = min(side, h, w)
    top = min(max(0, centre[0] - side // 2), h - side)
    left = min(max(0, centre[1] - side // 2), w - side)
    square = Image.fromarray(images.to_uint8(image[..., top: top + side, left: left + side]))
    buffer = io.BytesIO()
    square.resize((CROP_PIXELS, CROP_PIXELS), Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


@torch.no_grad()
def build(loaded: LoadedModel, layer: str, paths: Sequence[str], top: int = 6, *,
          progress: Callable[[int, int], None] | None = None,
          skipped: Callable[[str, str], None] | None = None) -> ExampleIndex:
    """One pass over `paths` (files or skimage:NAME): each unit's activation on each image and where it fires,
    then the top `top` images' crops per unit. An image that cannot be read (broken, a decompression bomb) is
    left out and reported to `skipped(path, why)` (`why` names the file); `progress(done, total)` follows the pass."""
    device = next(loaded.model.parameters()).device
    kept: list[str] = []
    left_out: list[str] = []
    activations, where = [], []
    with FeatureExtractor(loaded.model, [layer], loaded.name) as extractor:
        batch: list[torch.Tensor] = []

        def flush() -> None:
            f = extractor(loaded.preprocess(torch.cat(batch).to(device)))[layer].float().cpu()
            if f.dim() == 4:
                h, w = f.shape[-2:]
                flat = f.flatten(2).argmax(dim=2)
                rows = ((flat // w).float() + 0.5) * loaded.input_size[1] / h
                cols = ((flat % w).float() + 0.5) * loaded.input_size[2] / w
                activations.append(f.mean(dim=(2, 3)))
                where.append(torch.stack([rows, cols], dim=2).round().short())
            else:  # logits: the whole image
                activations.append(f)
                centre = torch.tensor([loaded.input_size[1] // 2, loaded.input_size[2] // 2], dtype=torch.int16)
                where.append(centre.expand(*f.shape, 2).clone())
            batch.clear()

        for i, path in enumerate(paths):
            try:
                target, _ = prepare_target(str(path), loaded)
            except (InvertError, OSError, ValueError) as error:
                why = str(error) if str(path) in str(error) else f"{path}: {error}"  # one line that names the file
                left_out.append(why)
                if skipped is not None:
                    skipped(str(path), why)
            else:
                batch.append(target)
                kept.append(str(path))
                if len(batch) == BATCH:
                    flush()
            if progress is not None:
                progress(i + 1, len(paths))
        if batch:
            flush()
    if not kept:
        raise InvertError(f"none of the {len(paths)} images could be read; give --images a folder or glob of photos")
    index = ExampleIndex(loaded.name, layer, kept, torch.cat(activations), torch.cat(where),
                         receptive_field(loaded, layer), top, skipped=left_out)
    _add_crops(index, loaded)
    return index


def _add_crops(index: ExampleIndex, loaded: LoadedModel) -> None:
    """The top images' crops for every unit, reading each image needed once."""
    wanted: dict[int, list[int]] = {}
    for unit in range(index.units):
        for i in index.ranking(unit):
            wanted.setdefault(i, []).append(unit)
    index.crops = {unit: [] for unit in range(index.units)}
    pieces: dict[tuple[int, int], bytes] = {}
    for i, units in wanted.items():
        image, _ = prepare_target(index.images[i], loaded)
        for unit in units:
            row, col = (int(v) for v in index.where[i, unit])
            pieces[(unit, i)] = _crop(image, (row, col), index.receptive_field)
    for unit in range(index.units):
        index.crops[unit] = [pieces[(unit, i)] for i in index.ranking(unit)]


# the index this process read or wrote last, by its file's identity: an atlas run asks for it three times (its
# examples pass, the study's prepare hook, the report), and reads the file once
_last: tuple[tuple, ExampleIndex] | None = None


def _identity(path: Path, model: str, layer: str, top: int) -> tuple:
    """The file as it is now (a rewrite changes its time or size) and the question asked of it."""
    stat = path.stat()
    return str(path.resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_size, model, layer, top


def save(index: ExampleIndex, path: Path) -> None:
    """Written whole or not at all; a JSON header says what it holds, for a reader to check."""
    global _last
    header = {"version": INDEX_VERSION, "model": index.model, "layer": index.layer, "images": index.images,
              "receptive_field": index.receptive_field, "top": index.top, "skipped": index.skipped}
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic(path) as temporary:
        torch.save({"header": json.dumps(header), "activations": index.activations, "where": index.where,
                    "crops": {u: list(c) for u, c in index.crops.items()}}, temporary)
    _last = _identity(path, index.model, index.layer, index.top), index


def load(path: Path, loaded: LoadedModel, layer: str, top: int) -> ExampleIndex | None:
    """The cached index at `path` when it is whole and answers this question (model, layer, at least `top`
    examples); None otherwise (it is then built again)."""
    global _last
    try:
        identity = _identity(path, loaded.name, layer, top)
    except OSError:
        return None
    if _last is not None and _last[0] == identity:
        return _last[1]
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        header = json.loads(stored["header"])
        activations, where, crops = stored["activations"], stored["where"], stored["crops"]
        whole = (header["version"] == INDEX_VERSION and header["model"] == loaded.name and header["layer"] == layer
                 and header["top"] >= top and activations.shape == where.shape[:2]
                 and activations.shape[0] == len(header["images"]) and bool(torch.isfinite(activations).all())
                 and len(crops) == activations.shape[1])
    except Exception:  # missing, cut or foreign files share no exception base: build the index again
        return None
    if not whole:
        return None
    index = ExampleIndex(header["model"], layer, header["images"], activations, where, header["receptive_field"],
                         top, {int(u): c[:top] for u, c in crops.items()}, header["skipped"])
    _last = identity, index
    return index
