"""Synthetic camera noise (invert.camera), the noise estimate that holds for it, and the noise grammar."""
import math

import pytest
import torch

from invert import camera, noises, restoration
from invert.errors import SettingError
from invert.physics import add_gaussian_noise
from invert.stopping import estimate_noise


def rms(a, b):
    return float((a - b).pow(2).mean().sqrt())


def neighbour_correlation(noise):
    """Correlation of each pixel's noise with its right-hand neighbour's (0 for white noise)."""
    a, b = noise[..., :, :-1].flatten(), noise[..., :, 1:].flatten()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def test_the_pipeline_without_noise_gives_the_image_back_on_smooth_content():
    y, x = torch.meshgrid(torch.linspace(0.2, 0.8, 32), torch.linspace(0.1, 0.9, 32), indexing="ij")
    smooth = torch.stack([x, y, 0.5 * (x + y)]).unsqueeze(0)
    assert rms(camera.process(camera.unprocess(smooth)), smooth) < 1e-4  # the colour steps invert each other
    _, clean = camera.camera_noise(smooth, 0.001, seed=0)
    assert rms(clean, smooth) < 2 / 255  # demosaicking a smooth image loses little; 8 bits lose the rest


def test_camera_noise_is_seeded_signal_dependent_and_correlated(photo):
    noisy, clean = camera.camera_noise(photo, 0.0025, seed=3)
    again, _ = camera.camera_noise(photo, 0.0025, seed=3)
    other, _ = camera.camera_noise(photo, 0.0025, seed=4)
    assert torch.equal(noisy, again) and not torch.equal(noisy, other)
    noise = noisy - clean
    assert neighbour_correlation(noise) > 0.3  # demosaicking spreads each sample's noise to its neighbours
    white = add_gaussian_noise(photo, 0.05, 0) - photo
    assert abs(neighbour_correlation(white)) < 0.1
    stronger, clean_too = camera.camera_noise(photo, 0.01, seed=3)
    assert torch.equal(clean, clean_too) and rms(stronger, clean) > 1.5 * rms(noisy, clean)
    # shot noise grows with the signal: in linear light a bright flat patch is noisier than a dark one
    dark, bright = torch.full((1, 3, 32, 32), 0.15), torch.full((1, 3, 32, 32), 0.85)
    lin = [camera.unprocess(camera_noise) - camera.unprocess(base)
           for base in (dark, bright) for camera_noise in [camera.camera_noise(base, 0.01, 0)[0]]]
    assert float(lin[1].std()) > 2 * float(lin[0].std())


def test_jpeg_stores_both_images_and_removes_part_of_the_noise(photo):
    plain, clean = camera.camera_noise(photo, 0.0025, seed=0)
    stored, clean_stored = camera.camera_noise(photo, 0.0025, seed=0, jpeg_quality=90)
    assert not torch.equal(clean, clean_stored)
    assert 0.3 * rms(plain, clean) < rms(stored, clean_stored) < rms(plain, clean)


def test_the_estimate_finds_white_noise_as_before_and_camera_noise_at_its_level(photo):
    white = add_gaussian_noise(photo, 25 / 255, seed=0)
    found = estimate_noise(white)
    assert not found.correlated and found.sigma == pytest.approx(rms(white, photo), rel=0.1)
    for level in (0.001, 0.0025, 0.01):
        noisy, clean = camera.camera_noise(photo, level, seed=0)
        found = estimate_noise(noisy)
        assert found.correlated, level
        # at low levels the texture of this crop adds to the estimate (up to 1.4× at level 0.001)
        assert rms(noisy, clean) < found.sigma < 1.5 * rms(noisy, clean) if level < 0.0025 else \
            found.sigma == pytest.approx(rms(noisy, clean), rel=0.25), level


def test_the_estimate_of_tiny_images_falls_back_to_the_white_one():
    assert estimate_noise(torch.rand(1, 3, 2, 30)).sigma == 0
    small = estimate_noise(torch.rand(1, 3, 6, 6))
    assert not small.correlated and small.sigma > 0


@pytest.mark.parametrize("text, settings", [
    ("25", {"sigma": 25.0}),
    ("camera", {"camera": noises.DEFAULT_CAMERA_LEVEL}),
    ("camera:0.01", {"camera": 0.01}),
    ("camera:0.001:jpeg85", {"camera": 0.001, "jpeg_quality": 85}),
])
def test_noise_grammar(text, settings):
    assert noises.parse_noise(text) == settings


@pytest.mark.parametrize("text", ["0", "-1", "300", "nan", "camera:0", "camera:1", "camera:x", "camera:0.01:q90",
                                  "camera:0.01:jpeg0", "camera:0.01:jpeg90:more", "gauss", "25:camera"])
def test_noise_grammar_refuses(text):
    with pytest.raises(SettingError):
        noises.parse_noise(text)


def test_denoise_with_camera_noise_scores_against_the_noise_free_pipeline(photo):
    problem = restoration.denoise(photo, camera=0.0025, seed=1)
    noisy, clean = camera.camera_noise(photo, 0.0025, seed=1)
    assert torch.equal(problem.observation, noisy) and torch.equal(problem.reference, clean)
    assert any("camera noise" in note for note in problem.notes)
    level, source = restoration.noise_level(problem)
    assert "correlated" in source and level == pytest.approx(rms(noisy, clean), rel=0.35)
    given = restoration.denoise(photo, camera=0.0025, seed=1, noise_level=12.0)
    assert restoration.noise_level(given) == (pytest.approx(12 / 255), "given")
    with pytest.raises(SettingError):
        restoration.denoise(photo, sigma=25, camera=0.001)
    with pytest.raises(SettingError):
        restoration.denoise(photo, noise_level=math.inf)


def test_chroma_total_variation_sees_colour_edges_only():
    from invert.priors.regularizers import WeightedTotalVariation

    grey = torch.rand(1, 1, 16, 16).expand(1, 3, 16, 16)
    tv = WeightedTotalVariation(0.0, chroma_weight=1.0)
    assert float(tv(grey)) < 1e-3  # the square root's epsilon
    coloured = grey.clone()
    coloured[:, 0, :, 8:] += 0.3
    assert float(tv(coloured)) > 10 * float(tv(grey))  # one colour edge across 16 rows


def test_the_luminance_discrepancy_ignores_colour_left_in_the_residual():
    from invert.stopping import LuminanceDiscrepancyStop

    observed = torch.rand(1, 3, 16, 16)
    colour_only = observed + torch.tensor([0.2, -0.2, 0.0]).view(1, 3, 1, 1)  # same mean over channels
    stop = LuminanceDiscrepancyStop(observed, threshold=1e-6)
    assert stop(0, 1.0, colour_only, colour_only)
    assert not LuminanceDiscrepancyStop(observed, 1e-6)(0, 1.0, observed + 0.1, observed)


def test_camera_noise_gets_the_camera_preset_and_stops_on_the_luminance(photo):
    camera_problem = restoration.denoise(photo, camera=0.01, seed=0)
    white_problem = restoration.denoise(photo, sigma=25, seed=0)
    assert restoration.preset_task(camera_problem, "dip") == restoration.CAMERA_PRESET
    assert restoration.preset_task(white_problem, "dip") == "denoise"
    assert restoration.preset_task(camera_problem, "tv") == "denoise"  # a prior without a camera preset
    done = restoration.restore(camera_problem, "dip", steps=3)
    assert done.record["preset"] == restoration.CAMERA_PRESET and done.fit.config.stop_luminance
    # the luminance's noise is a part of the whole: its threshold lies under the whole residual's
    assert 0 < done.fit.config.stop_residual < done.record["noise_sigma"] ** 2 / 255**2
