import numpy as np
import pytest
import torch
from PIL import Image

from invert import priors
from invert import FitConfig, fit, metrics, restoration
from invert.physics import Downsample, downsampling_kernel


@pytest.mark.slow
def test_dip_denoising_raises_psnr_clearly(photo):
    problem = restoration.denoise(photo, sigma=25, seed=0)
    p = priors.create("dip", size=problem.output_size, preset="fast")
    r = fit(p, problem.energy, FitConfig.build(p.fit_defaults, steps=250), reference=photo)
    noisy = metrics.psnr(problem.observation, photo)
    assert metrics.psnr(r.output, photo) > noisy + 3


def test_tv_denoising_raises_psnr(photo):
    problem = restoration.denoise(photo, sigma=25, seed=0)
    p = priors.create("tv", size=problem.output_size)
    r = fit(p, problem.energy, FitConfig.build(p.fit_defaults, steps=300))
    assert metrics.psnr(r.output, photo) > metrics.psnr(problem.observation, photo) + 2


@pytest.mark.slow
def test_dip_fits_the_known_pixels_it_inpaints_from(photo):
    problem = restoration.inpaint(photo, drop=0.5, seed=0)
    mask = problem.energy.operator.mask
    p = priors.create("dip", size=problem.output_size)
    r = fit(p, problem.energy, FitConfig.build(p.fit_defaults, steps=150, ema=0))
    known_error = ((r.final - photo) ** 2 * mask).sum() / (mask.sum() * 3)
    assert float(known_error) < 0.005  # PSNR > 23 dB on the known half after 150 steps
    assert metrics.psnr(r.final, photo) > metrics.psnr(problem.observation, photo) + 5


def test_restored_inpainting_keeps_the_known_pixels_exactly(photo):
    problem = restoration.inpaint(photo, drop=0.4, seed=1)
    done = restoration.restore(problem, "tv", steps=5)
    known = problem.known.bool().expand_as(photo)
    assert torch.equal(done.image[known], photo[known])
    assert not torch.equal(done.raw[known], photo[known])  # 5 steps of the prior alone do not reach them
    assert torch.equal(done.image[~known], done.raw[~known])  # the missing pixels are the prior's
    assert done.record["psnr"] > done.record["psnr_raw"]


@pytest.mark.parametrize("kernel,resample", [("bicubic", Image.BICUBIC), ("lanczos3", Image.LANCZOS)])
@pytest.mark.parametrize("factor", [2, 4])
def test_downsampler_matches_pil(photo, kernel, resample, factor):
    ours = Downsample(factor, kernel)(photo)[0].permute(1, 2, 0).numpy()
    src = Image.fromarray((photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    size = (src.width // factor, src.height // factor)
    theirs = np.asarray(src.resize(size, resample), dtype=np.float32) / 255
    inner = slice(2, -2)  # PIL renormalises the filter at the border, we replicate pixels
    assert np.abs(ours[inner, inner] - theirs[inner, inner]).max() < 2.5 / 255


def test_downsampler_kernels_are_normalised_and_keep_constants():
    for kernel in ("lanczos2", "lanczos3", "bicubic"):
        assert float(downsampling_kernel(4, kernel).sum()) == pytest.approx(1.0)
    flat = torch.full((1, 3, 32, 32), 0.3)
    assert torch.allclose(Downsample(4)(flat), torch.full((1, 3, 8, 8), 0.3), atol=1e-6)


def test_super_resolution_problem_shapes(photo):
    problem = restoration.super_resolve(photo, 4, from_hr=True)
    assert problem.observation.shape[-2:] == (16, 16)
    assert problem.output_size == (64, 64) and problem.baseline.shape == photo.shape
    assert float(problem.energy(photo)) < 1e-3  # the reference explains its own measurement


def test_psnr_y_crops_border_and_uses_luminance(photo):
    noisy = photo.clone()
    noisy[..., :4, :] = 0  # damage only the border
    assert metrics.psnr_y(noisy, photo, border=4) == float("inf")
    assert metrics.psnr_y(photo * 0.9, photo, border=0) < 40


def test_ssim_is_one_for_identical_and_lower_for_noisy(photo):
    assert metrics.ssim(photo, photo) == pytest.approx(1.0)
    noisy = restoration.denoise(photo, sigma=25).observation
    assert metrics.ssim(noisy, photo) < 0.8
