"""Denoising: white Gaussian or camera noise, in the photo or synthesized on a clean one."""
from __future__ import annotations

from dataclasses import dataclass

from ..noises import parse_noise
from .base import RestorationTask, setting
from .registry import register


@register
@dataclass(frozen=True)
class Denoise(RestorationTask):
    name = "denoise"
    summary = "remove noise (white Gaussian, or a camera's)"
    default_prior = "dip"
    synthesized_by = "noise"
    sample = {"noise": "25"}
    aliases = {"sigma": "noise", "camera": "noise", "jpeg_quality": "noise"}

    noise: str | None = setting(
        help="IMAGE is clean: add white Gaussian noise of σ SIGMA (0–255 scale), or camera noise (Poisson–Gaussian "
             "on the sensor's mosaic, then demosaicked and gamma-corrected; LEVEL: shot noise from 0.0001 to 0.012, "
             "default 0.0025; jpegQ: store as JPEG of quality Q), and report metrics against the clean image",
        check=parse_noise, flag="--add-noise", metavar="SIGMA|camera[:LEVEL][:jpegQ]")
    noise_level: float | None = setting(
        help="the input's noise σ (0–255 scale) for auto-stop, instead of estimating it",
        kind=float, least=0, most=255, above=True, metavar="SIGMA")

    def problem(self, image, seed=0, source=None):
        from ..restoration import denoise

        synthetic = parse_noise(self.noise) if self.noise else {}
        return denoise(image, seed=seed, noise_level=self.noise_level, **synthetic)
