"""Typed results, one per operation: the source of every JSON this version writes.

Each result is a dataclass whose fields are the numbers a fit gives (metrics as fields, not dict keys). `to_json`
derives the record that result.json, a study cell's record.json and the reports read, with the schema version;
`from_json` reads records of this version and of earlier ones (no version: 0), keeping keys it has no field for in
`extra` so that nothing read is lost on the way back out. Tensors and the fit stay out of JSON: `save` writes the
picture beside it.

    p = invert.preimage(model, "photo.jpg", layer="blocks.4")
    p                       # PreImage(layer blocks.4, prior dip, feature_loss 0.12, …) — one line
    p.save("runs/p")        # runs/p/image.png and runs/p/result.json
    PreImage.from_json(json.loads(Path("runs/p/result.json").read_text()))
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

from .provenance import check_schema, stamp, write_json

if TYPE_CHECKING:
    import torch

    from .engine import FitResult

REPR_LIMIT = 1000

R = TypeVar("R", bound="Result")


def in_memory() -> Any:
    """A field that lives in memory only (a tensor, the fit, a judge's scores): never written to JSON."""
    return field(default=None, metadata={"json": False}, repr=False)


def optional(read: Callable[[Any], Any] | None = None) -> Any:
    """A value that only some results have (a judge's, a batch's): left out of JSON when it is None, as records
    of earlier versions left it out. `read` makes the typed value of what JSON holds (a nested record)."""
    return field(default=None, metadata={"omit_none": True, "read": read})


def _plain(value: Any) -> Any:
    """A field's value as JSON holds it."""
    if hasattr(value, "as_record"):
        return value.as_record()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(repr=False, eq=False, kw_only=True)
class Result:
    """What every operation returns: its picture and fit in memory, its numbers as fields."""

    kind: ClassVar[str]
    headline: ClassVar[tuple[str, ...]] = ()  # the fields a one-line repr shows after the kind

    image: torch.Tensor | None = in_memory()  # B×3×H×W in [0, 1]
    fit: FitResult | None = in_memory()
    extra: dict[str, Any] = field(default_factory=dict, metadata={"json": False})  # keys without a field

    @classmethod
    def json_fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.metadata.get("json", True)]

    def to_json(self) -> dict[str, Any]:
        """The record: every JSON field (an optional one only when set), the keys read without a field, and the
        schema version."""
        out: dict[str, Any] = {}
        for f in self.json_fields():
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = _plain(value)
        return stamp({**out, **self.extra})

    @classmethod
    def from_json(cls: type[R], data: dict[str, Any], **in_memory_fields: Any) -> R:
        """The result a record describes (of this version or an earlier one); `in_memory_fields` adds what JSON
        does not hold (image, fit)."""
        check_schema(data, f"a {cls.kind} record")
        readers = {f.name: f.metadata.get("read") or (lambda value: value) for f in cls.json_fields()}
        return cls(**{k: readers[k](v) for k, v in data.items() if k in readers}, **in_memory_fields,
                   extra={k: v for k, v in data.items() if k not in readers and k != "schema"})

    def save(self, folder: str | os.PathLike) -> Path:
        """image.png (a batch side by side) and result.json in `folder` (made if missing); returns the folder.
        Files already there are replaced, each atomically."""
        from . import images

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.image is not None:
            images.save_image(images.side_by_side(self.image), folder / "image.png")
        write_json(self.to_json(), folder / "result.json")
        return folder

    def _repr_png_(self) -> bytes | None:  # a notebook shows the picture
        from . import images

        return None if self.image is None else images.png_bytes(self.image)

    def __repr__(self) -> str:
        def shown(value: Any) -> str:
            return f"{value:.4g}" if isinstance(value, float) else str(value)

        parts = [f"{name} {shown(getattr(self, name))}" for name in self.headline if getattr(self, name) is not None]
        if self.image is not None:
            parts.append("image " + "×".join(str(d) for d in self.image.shape))
        text = f"{type(self).__name__}({', '.join(parts)})"
        return text if len(text) <= REPR_LIMIT else text[:REPR_LIMIT - 2] + "…)"
