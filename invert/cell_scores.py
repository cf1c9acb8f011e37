"""What each kind of study cell scores, as typed objects: the report's columns are their fields (each field's
`column` metadata is its heading), so a new kind of study brings its own scores and the report follows."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


def column(heading: str) -> Any:
    """A scores field shown in the study report under `heading` (None: not applicable to this cell)."""
    return dataclasses.field(metadata={"column": heading})


def columns(scores: type) -> dict[str, str]:
    """A scores class's report headings by field name, in declaration order."""
    return {f.name: f.metadata["column"] for f in dataclasses.fields(scores) if "column" in f.metadata}


@dataclass(frozen=True)
class PreImageScores:
    class_kept: float = column("class kept")  # 1 when the inverted model's top-1 is the photo's
    recognized: float | None = column("recognized")  # 1 when the independent judge agrees (None without one)
    feature_loss: float = column("feature loss")
    ssim: float = column("SSIM")  # to the photo
    spectrum_db: float | None = column("spectrum dB")  # faithfulness: distance from natural photos' spectrum
    slope: float | None = column("spectral slope")  # … natural photos about −2 to −3.5 (None in older cells)
    seconds: float = column("seconds")

    @classmethod
    def of(cls, settings: dict[str, Any], record: dict[str, Any]) -> PreImageScores:
        return cls(float(record["top1"] == record["top1_original"]),
                   float(record["transfer_agrees"]) if "transfer_agrees" in record else None,
                   record["feature_loss"], record["ssim_to_original"], *faithful(record), record["seconds"])


@dataclass(frozen=True)
class MaximizeScores:
    activation: float = column("activation")  # a batch's: the mean over its images
    class_kept: float | None = column("class kept")  # for a class logit: the share of images the model calls it
    recognized: float | None = column("recognized")  # … and the independent judge
    spectrum_db: float | None = column("spectrum dB")  # faithfulness: distance from natural photos' spectrum
    slope: float | None = column("spectral slope")  # … natural photos about −2 to −3.5 (None in older cells)
    similarity: float | None = column("Gram similarity")  # a diverse batch's: how alike its images stay
    seconds: float = column("seconds")

    @classmethod
    def of(cls, settings: dict[str, Any], record: dict[str, Any]) -> MaximizeScores:
        unit = settings.get("unit")  # None for a direction
        is_class = bool(record.get("class_name"))
        return cls(record["activation"], _share(record.get("top1"), unit) if is_class else None,
                   _share(record.get("top1_transfer"), unit) if is_class else None, *faithful(record),
                   record.get("similarity"), record["seconds"])


def _share(tops: int | list[int] | None, unit: int) -> float | None:
    """The share of a cell's images whose top-1 is `unit` (one image: 1 or 0); None without a judge."""
    if tops is None:
        return None
    tops = tops if isinstance(tops, list) else [tops]
    return sum(t == unit for t in tops) / len(tops)


def faithful(record: dict[str, Any]) -> tuple[float | None, float | None]:
    """A cell's spectrum distance and slope (invert/faithfulness.py; None for cells made before). Path similarity
    is in the record but not a column: on the benchmark's pictures it separated nothing (docs/faithfulness.md)."""
    scores = record.get("faithfulness") or {}
    return scores.get("spectrum_distance_db"), scores.get("spectral_slope")


@dataclass(frozen=True)
class RestorationScores:
    psnr: float | None = column("PSNR")  # against the clean reference (None without one)
    ssim: float | None = column("SSIM")
    output_step: int = column("stop step")  # the step whose output is kept
    seconds: float = column("seconds")

    @classmethod
    def of(cls, settings: dict[str, Any], record: dict[str, Any]) -> RestorationScores:
        return cls(record.get("psnr"), record.get("ssim"), record["output_step"], record["seconds"])


@dataclass(frozen=True)
class AtlasScores:
    activation: float = column("activation")  # the mean over the cell's units, each on its own image
    recognized: float | None = column("recognized")  # class units: the share the independent judge names
    seconds: float = column("seconds")  # the cell's fit, all its units together

    @classmethod
    def of(cls, settings: dict[str, Any], record: dict[str, Any]) -> AtlasScores:
        units, judged = record["units"], record.get("top1_transfer")
        judged_classes = judged is not None and record["classes"]
        recognized = sum(j == u for j, u in zip(judged, units)) / len(units) if judged_classes else None
        return cls(sum(record["activations"]) / len(units), recognized, record["seconds"])
