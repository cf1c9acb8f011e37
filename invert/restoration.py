"""Restoration: from an image and a task to a problem (observation, energy, reference, baseline), then a
prior fitted to it (`restore`), scored against the reference when there is one.

Each builder keeps the measurement (physics) separate from the prior that will be fitted to it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from typing import Any

from . import camera as camera_pipeline
from . import energies, memory, metrics, stopping
from . import priors as prior_registry
from .energies import Energy
from .engine import Callback, FitConfig, FitResult, fit, resolve_device, stop_rule
from .errors import InvertError, SettingError
from .noises import check_camera
from .physics import Downsample, add_gaussian_noise, random_mask


@dataclass
class Problem:
    task: str
    observation: torch.Tensor  # what the fit sees (the degraded image), at its own size
    energy: Energy
    output_size: tuple[int, int]  # H, W of the restored image
    channels: int
    reference: torch.Tensor | None = None  # the clean image, when known
    baseline: torch.Tensor | None = None  # the classical answer at output size (noisy / bicubic / masked)
    notes: list[str] = field(default_factory=list)
    noise_level: float | None = None  # denoising: the noise σ (0–1 scale) given by hand, else estimated
    noise_estimate: stopping.NoiseEstimate | None = None  # denoising: estimated once, from the observation
    known: torch.Tensor | None = None  # inpainting: 1×1×H×W, 1 where the observation's pixel is known
    # what `restore` fits it with when not told: the task's default prior, and each prior's preset for the task
    # where it is not named after the task (a task's `problem` sets both)
    default_prior: str = "dip"
    presets: dict[str, str] = field(default_factory=dict)


CAMERA_PRESET = "denoise-camera"  # a prior's preset for camera noise, where it has one
CHROMA_TV_SIGMA = 30 / 255  # the noise level at which a preset's colour TV weight applies as it stands
CHROMA_TV_POWER = 2.0
MIN_SIDE = 8  # smaller images have no neighbourhoods for the noise estimate, TV or SSIM to work in


def check_size(image: torch.Tensor, what: str = "image") -> None:
    h, w = image.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise InvertError(f"the {what} is {w}×{h}; restoration needs at least {MIN_SIDE} pixels a side")


def denoise(image: torch.Tensor, sigma: float | None = None, seed: int = 0, *, camera: float | None = None,
            jpeg_quality: int | None = None, noise_level: float | None = None) -> Problem:
    """`image` is noisy, unless noise is synthesized (drawn with `seed`; `image` is then the clean one):
    white Gaussian noise of σ `sigma`, or camera noise of shot-noise level `camera` (see `invert.camera`),
    stored as JPEG of `jpeg_quality` if given. `noise_level` (σ, 0–255 scale) replaces the estimated noise
    level that auto-stop stops at."""
    check_size(image)
    notes = []
    if sigma is not None and camera is not None:
        raise SettingError("camera", "and sigma both name a synthetic noise; give one of them")
    if jpeg_quality is not None and camera is None:
        raise SettingError("jpeg_quality", "applies to synthetic camera noise only")
    if noise_level is not None and not 0 < noise_level < math.inf:
        raise SettingError("noise_level", f"must be a positive, finite σ on the 0–255 scale, got {noise_level}")
    if sigma is not None:
        if not 0 < sigma < math.inf:
            raise SettingError("sigma", f"must be a positive, finite noise level on the 0–255 scale, got {sigma}")
        noisy, reference = add_gaussian_noise(image, sigma / 255, seed), image
    elif camera is not None:
        if image.shape[1] != 3:
            raise SettingError("camera", "needs a colour image; this one has one channel (give a σ instead)")
        check_camera(camera, jpeg_quality)
        noisy, reference = camera_pipeline.camera_noise(image, camera, seed, jpeg_quality)
        notes.append(f"camera noise at shot-noise level {camera:g} (seed {seed})"
                     + (f", stored as JPEG of quality {jpeg_quality}" if jpeg_quality is not None else "")
                     + "; scored against the same pipeline without noise")
    else:
        noisy, reference = image, None
    return Problem("denoise", noisy, energies.denoising(noisy), tuple(image.shape[-2:]), image.shape[1],
                   reference, noisy, notes, None if noise_level is None else noise_level / 255,
                   stopping.estimate_noise(noisy))


def super_resolve(image: torch.Tensor, factor: int, from_hr: bool = False, kernel: str = "lanczos2") -> Problem:
    """`from_hr`: `image` is the high-resolution reference, downscaled by `factor` first."""
    if factor < 2 or int(factor) != factor:
        raise SettingError("factor", f"must be a whole number ≥ 2, got {factor}")
    h, w = image.shape[-2:]
    notes = []
    if from_hr:
        if h % factor or w % factor:
            raise SettingError("factor", f"{factor} does not divide the image size {w}×{h}; crop the image to a "
                                         f"multiple of {factor}")
        reference = image
        low = Downsample(factor, kernel, image.shape[1])(image).clamp(0, 1)
        notes.append(f"downscaled the {w}×{h} reference by {factor} with {kernel}")
    else:
        reference, low = None, image
    check_size(low, "low-resolution image")
    out = (low.shape[-2] * factor, low.shape[-1] * factor)
    # the bicubic baseline and the fit's images at the output size; a huge factor is refused here
    memory.ensure_fits(8 * out[0] * out[1] * image.shape[1] * 4, "cpu", f"a {out[1]}×{out[0]} output",
                       "choose a smaller factor or a smaller image")
    bicubic = F.interpolate(low, size=out, mode="bicubic", align_corners=False).clamp(0, 1)
    energy = energies.super_resolution(low, factor, kernel)
    return Problem("sr", low, energy, out, image.shape[1], reference, bicubic, notes)


def inpaint(image: torch.Tensor, mask: torch.Tensor | None = None, drop: float | None = None, seed: int = 0) -> Problem:
    """Fill the pixels where `mask` is 0, or a random `drop` fraction of them (drawn with `seed`). Only a drop
    synthesized here has a known clean reference (`image`); with a mask the missing pixels are unknown, and
    scores need `with_reference`."""
    check_size(image)
    if (mask is None) == (drop is None):
        raise InvertError("inpainting needs exactly one of mask and drop")
    notes = []
    if drop is not None:
        if not 0 < drop < 1:
            raise SettingError("drop", f"must be a fraction between 0 and 1, got {drop}")
        mask = random_mask(tuple(image.shape[-2:]), drop, seed)
        if not mask.any():
            raise SettingError("drop", f"= {drop} leaves no pixel of the {image.shape[-1]}×{image.shape[-2]} image "
                                       "known: there is nothing to fill from; drop a smaller fraction")
        notes.append(f"dropped {drop:.0%} of the pixels at random (seed {seed})")
    elif not mask.any():
        raise SettingError("mask", "marks no pixel as known (it is all black): there is nothing to fill from; "
                                   "white marks the known pixels")
    elif mask.all():
        raise SettingError("mask", "marks every pixel as known (it is all white): there is nothing to inpaint; "
                                   "black marks the pixels to fill")
    masked = image * mask
    return Problem("inpaint", masked, energies.inpainting(image, mask), tuple(image.shape[-2:]), image.shape[1],
                   image if drop is not None else None, masked, notes, known=mask)


def with_reference(problem: Problem, reference: torch.Tensor) -> Problem:
    """`problem` scored against `reference`, a clean image of the output's size and channels."""
    h, w = problem.output_size
    if tuple(reference.shape[-2:]) != (h, w) or reference.shape[1] != problem.channels:
        raise SettingError("reference", f"is {reference.shape[-1]}×{reference.shape[-2]} with {reference.shape[1]} "
                                        f"channel(s), but the result is {w}×{h} with {problem.channels}; give the "
                                        "clean image of the same size")
    return replace(problem, reference=reference)


def keep_known(problem: Problem, image: torch.Tensor) -> torch.Tensor:
    """`image` with the problem's known pixels put back as observed (inpainting: the generator only approximates
    them, and nothing should change what was given); other tasks know no pixel exactly and keep `image`."""
    if problem.known is None:
        return image
    return torch.where(problem.known.to(image.device).bool(), problem.observation.to(image.device), image)


def stop_residual(problem: Problem, config: FitConfig) -> float | None:
    """The residual at which auto-stop ends this fit, or None for the output-variance rule.

    Denoising stops by the discrepancy principle (noise level estimated from the input) when the shown
    output keeps up with the fit. A moving average without warm-up (the paper preset) lags hundreds of
    steps behind it, so there, as for every other task, the output variance (ES-WMV) decides. A preset that
    keeps coloured noise out of the fit (`stop_luminance`) stops on the luminance's residual and noise.
    """
    if stops_at_noise_level(problem.task, config):
        sigma = noise_level(problem)[0]
        if config.stop_luminance:
            # the luminance's share of the noise, as estimated, applied to the level (given or estimated)
            whole = problem.noise_estimate.sigma
            sigma *= stopping.noise_sigma(stopping.luminance(problem.observation)) / whole if whole else 0
            return stopping.LUMINANCE_DISCREPANCY * sigma**2 or None
        # an input with no measurable noise (a flat image) has no level to stop at
        return stopping.DISCREPANCY * sigma**2 or None
    return None


def noise_level(problem: Problem) -> tuple[float, str]:
    """The input's noise σ (0–1 scale) and where it comes from: given by hand, or estimated as white or as
    correlated (camera) noise."""
    if problem.noise_level is not None:
        return problem.noise_level, "given"
    estimate = problem.noise_estimate
    return estimate.sigma, "estimated, correlated (camera-like)" if estimate.correlated else "estimated, white"


def noise_scaled_settings(problem: Problem, prior: str, preset: str) -> dict[str, float]:
    """A preset's colour TV weight is its weight at noise σ `CHROMA_TV_SIGMA`; for this input it is scaled by
    (σ / CHROMA_TV_SIGMA)^CHROMA_TV_POWER, as a MAP weight follows the noise: strong enough against heavy
    noise's blotches, light enough to keep a cleaner photo's colour detail."""
    weight = prior_registry.preset(prior, preset).get("prior", {}).get("chroma_tv_weight")
    if not weight or problem.task != "denoise":
        return {}
    return {"chroma_tv_weight": round(weight * (noise_level(problem)[0] / CHROMA_TV_SIGMA) ** CHROMA_TV_POWER, 4)}


def preset_task(problem: Problem, prior: str) -> str:
    """The preset name `prior` fits `problem` with, where the prior has it: a camera's noise (correlated between
    pixels, coloured) gets the prior's camera-denoising preset; else the one the task names for the prior, else
    the task's own name."""
    presets = prior_registry.entry(prior).presets
    if problem.task == "denoise" and CAMERA_PRESET in presets and problem.noise_estimate.correlated:
        return CAMERA_PRESET
    if problem.task not in presets:
        return problem.presets.get(prior, problem.task)
    return problem.task


def stops_at_noise_level(task: str, config: FitConfig) -> bool:
    """Whether auto-stop uses the discrepancy principle for this task and fit (see `stop_residual`)."""
    return task == "denoise" and (config.ema == 0 or config.ema_warmup)


@dataclass
class Restoration:
    """What `restore` returns: the restored image, the fit behind it, and its record (settings, scores)."""

    image: torch.Tensor
    problem: Problem
    fit: FitResult
    record: dict[str, Any]
    raw: torch.Tensor  # the prior's own output; `image` is this with the known pixels put back (inpainting)


def scores(problem: Problem, image: torch.Tensor, border: int | None = None) -> dict[str, float]:
    """PSNR and SSIM against the clean reference, with the baseline's beside them (empty without a reference);
    for colour super-resolution also PSNR on luminance with `border` pixels shaved, as the SR papers do."""
    ref = problem.reference
    if ref is None:
        return {}
    out = {"psnr": metrics.psnr(image, ref), "ssim": metrics.ssim(image, ref)}
    if problem.baseline is not None:
        out["psnr_input"] = metrics.psnr(problem.baseline, ref)
        out["ssim_input"] = metrics.ssim(problem.baseline, ref)
    if problem.task == "sr" and problem.channels == 3:
        out["psnr_y"] = metrics.psnr_y(image, ref, border=border)
        out["psnr_y_input"] = metrics.psnr_y(problem.baseline, ref, border=border)
    return out


def restore(problem: Problem, prior: str | None = None, *, preset: str | None = None, steps: int | None = None,
            lr: float | None = None, seed: int = 0, device: str = "auto", auto_stop: bool = True,
            progress: bool = False, callbacks: tuple[Callback, ...] = ()) -> Restoration:
    """Fit `prior` (default: the problem's, its task's default prior; its preset for the task unless `preset`
    names another)
    to `problem` and score the result.

    Memory is estimated first; auto-stop ends denoising at the estimated noise level and every other task
    near the output variance's minimum (`stop_residual`). Ctrl-C ends the fit with the best result so far.
    `callbacks` watch the fit step by step (see `engine.fit`).
    """
    prior = prior or problem.default_prior
    preset = prior_registry.preset_for(prior, preset_task(problem, prior), preset)
    settings = noise_scaled_settings(problem, prior, preset)

    def build() -> torch.nn.Module:
        return prior_registry.create(prior, channels=problem.channels, size=problem.output_size, preset=preset,
                                     seed=seed, **settings)

    h, w = problem.output_size
    memory.ensure_fit_fits(build, resolve_device(device), f"fitting {prior} to a {w}×{h} image",
                           "crop or downscale it, or use a smaller prior")
    fitted_prior = build()
    config = FitConfig.build(fitted_prior.fit_defaults, steps=steps, lr=lr, seed=seed, device=device,
                             progress=progress, auto_stop=auto_stop)
    config.stop_residual = stop_residual(problem, config)
    result = fit(fitted_prior, problem.energy, config, reference=problem.reference, callbacks=callbacks,
                 stop=stop_rule(config, problem.energy))
    image = keep_known(problem, result.output)
    factor = problem.output_size[0] // problem.observation.shape[-2] if problem.task == "sr" else None
    noise_record = {}
    if problem.task == "denoise":  # the level auto-stop stops at (0–255 scale), and where it came from
        sigma, source = noise_level(problem)
        noise_record = {"noise_sigma": round(sigma * 255, 3), "noise_sigma_source": source, **settings}
    record = {
        "task": problem.task,
        "prior": prior,
        "preset": fitted_prior.preset,
        "params": fitted_prior.num_parameters(),
        "size": list(problem.output_size),
        "channels": problem.channels,
        "seed": seed,
        "device": str(resolve_device(device)),
        **result.summary(),
        **scores(problem, image, factor),
        **noise_record,
    }
    if problem.known is not None and problem.reference is not None:  # what putting the known pixels back gave
        record["psnr_raw"] = metrics.psnr(result.output, problem.reference)
    return Restoration(image, problem, result, record, result.output)
