"""Image quality: PSNR, SSIM (scikit-image's) and the super-resolution protocol of the DIP paper."""
from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import structural_similarity


def _numpy(x: torch.Tensor) -> np.ndarray:
    """1×C×H×W or C×H×W tensor → H×W×C float64 array clipped to [0, 1]."""
    a = x.detach().float().cpu().clamp(0, 1)
    if a.dim() == 4:
        a = a[0]
    return a.permute(1, 2, 0).numpy().astype(np.float64)


def psnr(x: torch.Tensor, reference: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    mse = float(np.mean((_numpy(x) - _numpy(reference)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def ssim(x: torch.Tensor, reference: torch.Tensor) -> float:
    """Structural similarity (Wang et al. 2004) over all channels, via scikit-image."""
    a, b = _numpy(x), _numpy(reference)
    win = min(7, a.shape[0], a.shape[1])
    win -= 1 - win % 2  # odd window that fits small images
    return float(structural_similarity(a, b, channel_axis=2, data_range=1.0, win_size=win))


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Y of ITU-R BT.601 YCbCr (range 16–235 scaled to [0, 1] as MATLAB's rgb2ycbcr) for 1×3×H×W."""
    if x.shape[-3] == 1:
        return x
    r, g, b = x.clamp(0, 1).unbind(dim=-3)
    return ((16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255).unsqueeze(-3)


def psnr_y(x: torch.Tensor, reference: torch.Tensor, border: int) -> float:
    """The SR protocol: PSNR on the Y channel after cropping `border` pixels on every side."""
    def crop(t: torch.Tensor) -> torch.Tensor:
        return t[..., border : t.shape[-2] - border, border : t.shape[-1] - border] if border else t

    return psnr(crop(luminance(x)), crop(luminance(reference)))
