"""Total variation (Rudin, Osher & Fatemi 1992; Mahendran & Vedaldi 2015): the classic hand-made prior."""
from __future__ import annotations

from torch import nn

from .pixel import PixelPrior
from .registry import register
from .regularizers import WeightedTotalVariation


class TVPrior(PixelPrior):
    """Pixels as parameters plus weight · TV_β(x) added to the energy."""

    stops_early = False  # the minimizer of data + TV is the estimate: no noise to stop short of

    def __init__(self, channels: int, size: tuple[int, int], tv: nn.Module, init_noise: float = 0.01):
        super().__init__(channels, size, init_noise, regularizer=tv)


PRESETS = {
    # weights tuned on 96–128² natural crops (3 images): σ = 25 noise, ×4 Lanczos downsampling, 50% missing
    "denoise": {"prior": {"weight": 0.14}, "fit": {"lr": 0.01, "steps": 800}},
    "sr": {"prior": {"weight": 0.003}, "fit": {"lr": 0.01, "steps": 1000}},
    # 800 steps: on the text / scribble masks and random drops of bench/inpaint_priors.py (256²) the mean PSNR
    # stops rising there (27.43 dB, as at 1000 steps; 27.34 at 400)
    "inpaint": {"prior": {"weight": 0.003}, "fit": {"lr": 0.01, "steps": 800}},
    # feature inversion: Mahendran & Vedaldi's β = 2 TV; tuned on one photo (lr 0.05 or weights ≤ 8 leave
    # adversarial colour noise at the logits)
    "preimage": {"prior": {"weight": 30.0, "beta": 2.0}, "fit": {"lr": 0.01, "steps": 200},
                 "objective": {"transforms": True, "coarse_steps": 600}},
}


@register("tv", presets=PRESETS, default_preset="denoise")
def tv(
    channels: int,
    size: tuple[int, int],
    *,
    weight: float = 0.14,
    beta: float = 1.0,
    isotropic: bool = True,
    init_noise: float = 0.01,
) -> TVPrior:
    """Total variation: pixels plus a penalty on their gradients (isotropic or anisotropic, exponent β)."""
    return TVPrior(channels, size, WeightedTotalVariation(weight, beta, isotropic), init_noise)
