"""MACO, magnitude-constrained optimization (Fel et al., NeurIPS 2023): only the phase of the image's
spectrum is optimized; its magnitude is fixed to the mean amplitude spectrum of natural images.

Feature visualizations of deep networks drift to high-frequency patterns that no photo has; fixing the
magnitude keeps every image's energy spread over frequencies as a photo's is, and leaves the optimizer
the phase, which is where the structure of an image lives (Oppenheim & Lim 1981).

The original downloads a spectrum averaged over ImageNet. Here it is computed from the natural photos
that ship with the declared dependencies (`natural_spectrum`) and cached: see its docstring.
"""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Prior
from .color import decorrelate, recorrelate
from .registry import register

SPECTRUM_VERSION = 1  # part of the cache file name: bump it when the recipe below changes


def _photos() -> list[np.ndarray]:
    """H×W×3 uint8 photos installed with scikit-image and matplotlib (no download)."""
    import matplotlib.cbook
    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        photos.append(np.asarray(img.convert("RGB")))
    return photos


def _cache_dir() -> Path:
    """`$INVERT_CACHE`, else `~/.cache/invert` (where the zoo keeps converted weights too)."""
    return Path(os.environ.get("INVERT_CACHE") or Path.home() / ".cache" / "invert")


def _compute_spectrum(height: int, width: int) -> torch.Tensor:
    """Mean |rfft2| of 25 Hann-windowed crops (each photo enlarged 1.25× past covering height × width; its
    centre and four corners), in decorrelated colour: 3 × height × (width // 2 + 1)."""
    total = torch.zeros(3, height, width // 2 + 1, dtype=torch.float64)
    # a Hann window: without it the jump between opposite borders puts a cross of energy on the axes,
    # which shows as horizontal and vertical streaks in every image made with the spectrum
    window = torch.outer(torch.hann_window(height, periodic=False, dtype=torch.float64),
                         torch.hann_window(width, periodic=False, dtype=torch.float64))
    window = window / window.pow(2).mean().sqrt()
    count = 0
    for photo in _photos():
        x = torch.from_numpy(np.array(photo)).permute(2, 0, 1)[None].double() / 255
        factor = 1.25 * max(height / x.shape[-2], width / x.shape[-1])
        size = (max(height, round(x.shape[-2] * factor)), max(width, round(x.shape[-1] * factor)))
        x = decorrelate(F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False))
        dy, dx = size[0] - height, size[1] - width
        for top, left in ((dy // 2, dx // 2), (0, 0), (0, dx), (dy, 0), (dy, dx)):
            crop = x[..., top : top + height, left : left + width]
            total += torch.fft.rfft2((crop - crop.mean(dim=(-2, -1), keepdim=True)) * window).abs()[0]
            count += 1
    return (total / count).float()


@functools.lru_cache(maxsize=8)
def natural_spectrum(height: int, width: int) -> torch.Tensor:
    """The mean amplitude spectrum of natural photos at height × width, in decorrelated colour.

    Made from the five colour photos the dependencies ship (scikit-image's astronaut, chelsea, coffee and
    rocket; matplotlib's grace_hopper): each enlarged to cover the size with a quarter to spare, its centre
    and four corner crops, colours decorrelated, mean removed, a Hann window, |rfft2| averaged over the 25
    crops. Cached in
    `$INVERT_CACHE` (else ~/.cache/invert) per size; computing it takes well under a second.
    """
    path = _cache_dir() / f"maco_spectrum_v{SPECTRUM_VERSION}_{height}x{width}.pt"
    with torch.device("cpu"):  # also when the prior is built on the meta device for a memory estimate
        if path.is_file():
            try:
                cached = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # a damaged cache file (unpickling, zip errors share no base): compute it again
                cached = None
            # a file that is not this spectrum (edited, another size, NaN) is computed again, not used
            if (isinstance(cached, torch.Tensor) and cached.shape == (3, height, width // 2 + 1)
                    and cached.dtype == torch.float32 and bool(torch.isfinite(cached).all()) and bool((cached >= 0).all())):
                return cached
        spectrum = _compute_spectrum(height, width)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(spectrum, partial)
        partial.replace(path)  # atomic: concurrent runs never read half a file
    except OSError:  # an unwritable cache only costs the recomputation next time
        pass
    return spectrum


def standardize(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean()) / (x.std() + 1e-4)


class MacoPrior(Prior):
    """x = sigmoid(C · standardize(irfft2(m · e^{iφ}))): the phase φ is the only parameter."""

    def __init__(self, channels: int, size: tuple[int, int], contrast: float = 1.0):
        super().__init__(channels, size)
        self.contrast = contrast
        magnitude = natural_spectrum(*self.size)[:channels]  # one channel: the luminance component
        self.register_buffer("magnitude", magnitude[None].to(torch.get_default_device()))
        # uniform phases: a stationary random texture with the photos' spectrum. (Horama draws N(0, 1) phases
        # and standardizes them at every step, which keeps a coherent zero-phase part: bright corners.)
        self.phase = nn.Parameter(math.pi * (2 * torch.rand(1, channels, *magnitude.shape[-2:]) - 1))

    def render(self, input_noise_std: float, generator: torch.Generator | None) -> torch.Tensor:
        phase = self.phase
        spectrum = torch.complex(self.magnitude * torch.cos(phase), self.magnitude * torch.sin(phase))
        image = self.contrast * standardize(torch.fft.irfft2(spectrum, s=self.size))
        return torch.sigmoid(recorrelate(image))


PRESETS = {
    # restoration can only move the phase: the magnitude stays that of the average photo
    "default": {"prior": {}, "fit": {"lr": 0.05, "steps": 500}},
    # Horama's optimizer (NAdam) and transform (random crops with noise, here 3 per step at ½–1 of the image,
    # which is the model's input size, not 1280² as there); twice the contrast before the sigmoid (Horama maps
    # to a range a little past the model's). Chosen on four design classes (bench/visualizations.py --split
    # design): Adam at 0.05 left the pickup truck a grey blur and unrecognized; NAdam at 0.2 with contrast 2
    # drew a readable truck and kept tarantula, lion and pizza recognized; 3 crops × 300 steps did as well as
    # 4 × 256 in about the same time
    "maximize": {"prior": {"contrast": 2.0}, "fit": {"lr": 0.2, "optimizer": "nadam", "steps": 300},
                 "objective": {"transforms": True, "jitter_px": 0, "degrees": 0.0, "scale": 0.0,
                               "crops": 3, "crop_scale": [0.5, 1.0], "crop_noise": 0.02}},
    # pre-images match the whole image's features, which a half-size crop need not have: with the crops above
    # the toucan's logits pre-image stayed at a flat image's feature loss from three seeds
    # (bench/results/visualizations-cpu-2026-11-27.json); nearly whole crops without noise fit it (0.16)
    "preimage": {"prior": {"contrast": 2.0}, "fit": {"lr": 0.2, "optimizer": "nadam", "steps": 300},
                 "objective": {"transforms": True, "jitter_px": 0, "degrees": 0.0, "scale": 0.0,
                               "crops": 3, "crop_scale": [0.8, 1.0], "crop_noise": 0.0, "coarse_steps": 300}},
}


@register("maco", presets=PRESETS)
def maco(channels: int, size: tuple[int, int], *, contrast: float = 1.0) -> MacoPrior:
    """MACO: the phase of a spectrum whose magnitude is fixed to natural photos' mean (Fel et al. 2023)."""
    return MacoPrior(channels, size, contrast)
