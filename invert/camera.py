"""Synthetic camera noise with a known clean image: the "unprocessing" pipeline of Brooks et al.,
"Unprocessing Images for Learned Raw Denoising" (CVPR 2019), with its parameters fixed instead of drawn.

An sRGB image is taken back to what a sensor recorded (inverse tone curve, inverse gamma, inverse colour
correction, inverse white balance, Bayer mosaic), Poisson–Gaussian noise is drawn there, and the camera's
processing runs forward again (bilinear demosaic, white balance, colour correction, gamma, tone curve,
8-bit, optionally JPEG). The noise that comes out depends on the signal, differs per channel and is
correlated across neighbouring pixels — what a photo's noise looks like, unlike white Gaussian noise.

The clean reference is the same pipeline run without noise, so that a denoiser is scored on the noise alone
and not on the demosaicking every camera does anyway.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import SettingError

# XYZ → camera matrices of four cameras (Brooks et al.); their mean, as sRGB → camera, normalized per row
_XYZ_TO_CAMS = torch.tensor([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
])
_RGB_TO_XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                            [0.0193339, 0.1191920, 0.9503041]])
_rgb_to_cam = _XYZ_TO_CAMS.mean(0) @ _RGB_TO_XYZ
RGB_TO_CAM = _rgb_to_cam / _rgb_to_cam.sum(1, keepdim=True)
# white-balance gains (red, green, blue) in the middle of the paper's ranges, and its mean brightness gain
GAINS = torch.tensor([2.15, 1.0, 1.7]) / 0.8
GAMMA = 2.2


def read_noise(shot: float) -> float:
    """The read-noise variance that goes with a shot-noise level: the paper's line fitted to real cameras,
    log read = 2.18 · log shot + 1.20 (without its random scatter)."""
    return math.exp(2.18 * math.log(shot) + 1.20)


def _bayer_masks(h: int, w: int) -> torch.Tensor:
    """1×3×H×W masks of an RGGB mosaic: which colour each photosite records."""
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    red = (y % 2 == 0) & (x % 2 == 0)
    blue = (y % 2 == 1) & (x % 2 == 1)
    return torch.stack([red, ~(red | blue), blue]).float().unsqueeze(0)


def demosaic(raw: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaicking: each colour's missing samples are the mean of its nearest recorded ones."""
    weights = F.conv2d(F.pad(masks, (1, 1, 1, 1), mode="reflect"), _BILINEAR, groups=3)
    sums = F.conv2d(F.pad(raw * masks, (1, 1, 1, 1), mode="reflect"), _BILINEAR, groups=3)
    return sums / weights


# red and blue from their 2, 4 or 1 nearest samples; green (recorded on a checkerboard) from its cross
_CORNERS, _CROSS = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]), torch.tensor([[0.0, 1, 0], [1, 4, 1], [0, 1, 0]])
_BILINEAR = torch.stack([_CORNERS, _CROSS, _CORNERS]).unsqueeze(1)


def unprocess(image: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] → the linear camera-space intensities the sensor saw (before the mosaic)."""
    linear = (0.5 - torch.sin(torch.asin(1 - 2 * image.clamp(0, 1)) / 3)).clamp_min(1e-8) ** GAMMA
    cam = torch.einsum("ij,bjhw->bihw", RGB_TO_CAM, linear)
    return (cam / GAINS.view(1, 3, 1, 1)).clamp(0, 1)


def process(cam: torch.Tensor) -> torch.Tensor:
    """Camera-space intensities → sRGB in [0, 1]: white balance, colour correction, gamma, tone curve."""
    balanced = (cam * GAINS.view(1, 3, 1, 1)).clamp(0, 1)
    rgb = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(RGB_TO_CAM), balanced).clamp(0, 1)
    rgb = rgb.clamp_min(1e-8) ** (1 / GAMMA)
    return 3 * rgb**2 - 2 * rgb**3


def _quantize(image: torch.Tensor, jpeg_quality: int | None) -> torch.Tensor:
    """8 bits per channel, as a camera stores them, through JPEG when `jpeg_quality` is given."""
    pixels = (image * 255).round().clamp(0, 255).to(torch.uint8)
    if jpeg_quality is not None:
        from torchvision.io import decode_jpeg, encode_jpeg

        pixels = decode_jpeg(encode_jpeg(pixels[0], quality=jpeg_quality)).unsqueeze(0)
    return pixels.float() / 255


def camera_noise(image: torch.Tensor, level: float, seed: int,
                 jpeg_quality: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean): a 1×3×H×W sRGB image through the camera pipeline with shot-noise `level` (variance
    per unit of linear signal; the paper draws it from 1e-4 to 0.012) and without noise."""
    if image.shape[1] != 3 or not 0 < level < math.inf:
        raise SettingError("level", f"= {level} on an image of {image.shape[1]} channel(s): camera noise needs an RGB "
                                    "image and a positive level")
    masks = _bayer_masks(*image.shape[-2:])
    raw = (unprocess(image) * masks).sum(1, keepdim=True)
    g = torch.Generator().manual_seed(seed)
    # Poisson–Gaussian: photon counts at `level` per unit of signal, then read noise of the paper's variance
    photons = torch.poisson(raw / level, generator=g)
    noisy_raw = photons * level + math.sqrt(read_noise(level)) * torch.randn(raw.shape, generator=g)
    noisy = process(demosaic(noisy_raw.clamp(0, 1), masks))
    clean = process(demosaic(raw, masks))
    return _quantize(noisy, jpeg_quality), _quantize(clean, jpeg_quality)
