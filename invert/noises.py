"""Synthetic noise as the CLI and study specs name it, parsed without torch (before anything heavy loads).

"25" is white Gaussian noise of σ 25 on the 0–255 scale; "camera", "camera:LEVEL" and "camera:LEVEL:jpegQ"
are camera noise (`invert.camera`) of a shot-noise level, optionally stored as JPEG of quality Q.
"""
from __future__ import annotations

import math

from .errors import SettingError

CAMERA_LEVELS = (1e-4, 1.2e-2)  # Brooks et al.'s range of shot-noise levels (linear signal, [0, 1])
JPEG_QUALITIES = (1, 100)  # the qualities JPEG is stored at
DEFAULT_CAMERA_LEVEL = 0.0025  # a dim indoor photo: about σ 12–16 (0–255) once processed
USAGE = "give a σ from 0 to 255 (e.g. 25) or camera[:LEVEL][:jpegQUALITY] (e.g. camera:0.0025:jpeg90)"


def parse_noise(text: str) -> dict[str, float | int]:
    """The keyword arguments of `restoration.denoise` that synthesize the noise `text` names."""
    kind, *rest = str(text).strip().split(":")
    if kind != "camera":
        if rest:
            raise SettingError("noise", f"{text!r} names no noise; {USAGE}")
        try:
            sigma = float(kind)
        except ValueError:
            raise SettingError("noise", f"{text!r} names no noise; {USAGE}") from None
        if not 0 < sigma <= 255:
            raise SettingError("noise", f"σ must be more than 0 and at most 255, got {text}")
        return {"sigma": sigma}
    if len(rest) > 2:
        raise SettingError("noise", f"{text!r} has too many parts; {USAGE}")
    level, quality = (rest + [None, None])[:2]
    settings: dict[str, float | int] = {"camera": DEFAULT_CAMERA_LEVEL}
    if level:
        try:
            settings["camera"] = float(level)
        except ValueError:
            raise SettingError("noise", f"camera level {level!r} is not a number; {USAGE}") from None
    if quality is not None:
        if not (quality.startswith("jpeg") and quality[4:].isdigit()):
            raise SettingError("noise", f"{quality!r}: the JPEG quality is written jpegQ, Q from 1 to 100 "
                                        "(e.g. jpeg90)")
        settings["jpeg_quality"] = int(quality[4:])
        if not JPEG_QUALITIES[0] <= settings["jpeg_quality"] <= JPEG_QUALITIES[1]:
            raise SettingError("noise", f"{quality}: the JPEG quality Q of jpegQ must be from {JPEG_QUALITIES[0]} to "
                                        f"{JPEG_QUALITIES[1]} (e.g. jpeg90)")
    try:
        check_camera(settings["camera"], settings.get("jpeg_quality"))
    except SettingError as error:
        raise SettingError("noise", str(error)) from None
    return settings


def check_camera(level: float, jpeg_quality: int | None = None) -> None:
    """A camera noise's shot-noise level within the paper's range, and a JPEG quality from 1 to 100."""
    lo, hi = CAMERA_LEVELS
    if not (math.isfinite(level) and lo <= level <= hi):
        raise SettingError("camera", f"level must be a shot-noise level from {lo:g} to {hi:g}, got {level:g}")
    low, high = JPEG_QUALITIES
    if jpeg_quality is not None and not low <= jpeg_quality <= high:
        raise SettingError("jpeg_quality", f"must be from {low} to {high}, got {jpeg_quality}")
