"""Deblurring: undo a Gaussian blur of known σ, in the photo or applied here to a sharp one."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError
from .base import RestorationTask, setting
from .registry import register


@register
@dataclass(frozen=True)
class Deblur(RestorationTask):
    name = "deblur"
    summary = "undo a Gaussian blur of known σ"
    # on the sample (chelsea 128², σ 2, 8-bit): TV with the light weight of its `sr` preset (0.003, 1000 steps)
    # 27.99 -> 29.09 dB in 2.9 s; its denoising weight (0.14) 26.71 dB; DIP's fast preset 28.62 dB in 97 s
    default_prior = "tv"
    presets = {"tv": "sr"}
    synthesized_by = "add_blur"
    sample = {"add_blur": 2.0}

    blur: float | None = setting(help="IMAGE is blurred by a Gaussian of σ S pixels: undo it", kind=float, least=0,
                                 most=32, above=True, metavar="S")
    add_blur: float | None = setting(help="IMAGE is sharp: blur it by a Gaussian of σ S pixels (stored as 8-bit, as a "
                                          "photo is), undo that, and report metrics against the sharp image",
                                     kind=float, least=0, most=32, above=True, metavar="S")

    def check(self) -> None:
        if (self.blur is None) == (self.add_blur is None):
            raise SettingError("blur or add_blur", "— give exactly one of them (the photo's blur, or a blur to add)")

    def problem(self, image, seed=0, source=None):
        from ..energies import DataFidelity
        from ..physics import GaussianBlur
        from ..restoration import Problem, check_size

        check_size(image)
        blur = GaussianBlur(self.blur or self.add_blur, image.shape[1])
        if self.add_blur is None:
            observed, reference, notes = image, None, []
        else:
            observed, reference = (blur(image).clamp(0, 1) * 255).round() / 255, image
            notes = [f"blurred by a Gaussian of σ {self.add_blur:g} px and stored as 8-bit; scored against the sharp image"]
        return Problem(self.name, observed, DataFidelity(blur, observed), tuple(image.shape[-2:]), image.shape[1],
                       reference, observed, notes)
