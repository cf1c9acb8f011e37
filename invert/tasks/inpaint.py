"""Inpainting: fill the pixels a mask marks as missing, or a random fraction dropped here."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError
from .base import RestorationTask, setting
from .registry import register


@register
@dataclass(frozen=True)
class Inpaint(RestorationTask):
    name = "inpaint"
    summary = "fill missing pixels (a mask, or a random fraction dropped)"
    # TV, by quality per second on the DIP paper's text and scribble masks and 50 % random drops (256²,
    # bench/inpaint_priors.py): 27.4 dB in 3.5 s, mean of four cases, where DIP needed 3 minutes to pass it
    # (27.7 dB at 800 steps, 28.6 at 1200, still rising)
    default_prior = "tv"
    synthesized_by = "drop"
    sample = {"drop": 0.5}

    mask: str | None = setting(help="mask image: white = known pixel, black = missing", metavar="FILE")
    drop: float | None = setting(help="drop this fraction of pixels at random", kind=float, least=0, most=1,
                                 above=True, below=True, metavar="FRACTION")

    def check(self) -> None:
        if (self.mask is None) == (self.drop is None):
            raise SettingError("mask or drop", "— give exactly one of them (a mask file, or a fraction to drop)")

    def problem(self, image, seed=0, source=None):
        from ..images import load_mask
        from ..restoration import inpaint

        size = source.size if source else tuple(image.shape[-2:])
        mask = load_mask(self.mask, size, source.crop if source else None) if self.mask else None
        return inpaint(image, mask, self.drop, seed)
