"""Image quality: PSNR, SSIM (scikit-image's) and the super-resolution protocol of the DIP paper."""
from __future__ import annotations

import math

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


# two-sided 95 % quantiles of Student's t by degrees of freedom (1.96 beyond 30)
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % confidence interval (Student's t; 0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, (_T95[n - 2] if n - 1 <= len(_T95) else 1.96) * sd / math.sqrt(n)
