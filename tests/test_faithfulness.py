"""Faithfulness scores: each measures what it says on pictures whose answer is known."""
import json
import math

import pytest
import torch

from invert import faithfulness, zoo


@pytest.fixture(scope="module")
def lite0():
    return zoo.load("efficientnet_lite0")


def power_law_image(exponent: float, size: int = 128, seed: int = 0) -> torch.Tensor:
    """Grey noise whose power falls as 1/f^exponent, scaled into [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.fftfreq(size)[None, :]
    f = (fy ** 2 + fx ** 2).sqrt().clamp_min(1 / size)
    spectrum = torch.complex(torch.randn(size, size, generator=g), torch.randn(size, size, generator=g))
    x = torch.fft.ifft2(spectrum * f ** (-exponent / 2)).real
    x = (x - x.min()) / (x.max() - x.min())
    return x.expand(3, -1, -1)[None]


def test_spearman_is_one_for_the_same_order_and_minus_one_for_the_reverse():
    a = torch.tensor([[1.0, 5.0, 2.0, 9.0]])
    b = torch.tensor([[0.1, 7.0, 3.0, 8.0], [9.0, 1.0, 5.0, 0.0]])
    assert faithfulness.spearman(a, b).tolist()[0] == pytest.approx([1.0, -1.0])


@pytest.mark.parametrize("exponent", [0.0, 2.0])
def test_the_spectral_slope_is_the_power_law_s(exponent):
    image = power_law_image(exponent)
    reference = faithfulness.radial_log_power(image)
    scores = faithfulness.spectrum(image, reference)
    assert scores.slope == pytest.approx(-exponent, abs=0.3) and scores.distance_db == pytest.approx(0, abs=1e-3)
    other = faithfulness.spectrum(power_law_image(2.0 - exponent, seed=1), reference)
    assert other.distance_db > 5  # a different law is far from it


def test_a_picture_that_is_one_of_the_drivers_travels_their_path(lite0):
    photos, _ = faithfulness.natural_pool(lite0)
    drivers, others = photos[:3], photos[-3:]
    near = faithfulness.path_similarity(lite0, "blocks.3", photos[:1], drivers, others)
    far = faithfulness.path_similarity(lite0, "blocks.3", photos[-1:], drivers, others)
    assert list(near.layers) == faithfulness.probe_layers(lite0, "blocks.3") and "blocks.3" not in near.layers
    assert near.summary > 0 > far.summary
    both = faithfulness.path_similarities(lite0, "blocks.3", torch.cat([photos[:1], photos[-1:]]), drivers, others)
    assert [p.summary for p in both] == pytest.approx([near.summary, far.summary], abs=2e-4)  # one forward, same scores


def test_seed_agreement_counts_recognized_seeds_and_their_spread(lite0):
    photos, _ = faithfulness.natural_pool(lite0)
    same = faithfulness.seed_agreement(lite0, photos[:1].repeat(3, 1, 1, 1))
    assert same.spread == pytest.approx(0, abs=1e-4) and same.recognized is None and same.seeds == 3
    top = int(lite0.model(lite0.preprocess(photos[:1])).argmax())
    mixed = faithfulness.seed_agreement(lite0, photos[:3], wanted=top)
    assert mixed.spread > 0.1 and 1 <= mixed.recognized <= 3


def test_maximize_writes_the_scores_into_result_json(run_cli, tmp_path):
    code, printed = run_cli("maximize", "--layer", "blocks.2", "--channel", "3", "--prior", "tv", "--steps", "2",
                            "--no-transfer", "--out", str(tmp_path / "m"), "--quiet")
    assert code == 0, printed.err
    scores = json.loads((tmp_path / "m" / "result.json").read_text())["records"][0]["faithfulness"]
    assert math.isfinite(scores["path_similarity"]) and math.isfinite(scores["spectrum_distance_db"])
    assert list(scores["path_by_layer"])[-1] == "blocks.1"  # the layers below the unit's


@pytest.mark.slow
def test_a_batch_of_seeds_gets_its_agreement_and_the_facade_its_scores(run_cli, tmp_path, lite0):
    import invert

    code, printed = run_cli("maximize", "--class", "volcano", "--prior", "tv", "--steps", "2", "--batch", "2",
                            "--out", str(tmp_path / "m"), "--quiet")
    assert code == 0, printed.err
    agreement = json.loads((tmp_path / "m" / "result.json").read_text())["records"][0]["faithfulness"]["seed_agreement"]
    assert agreement["seeds"] == 2 and 0 <= agreement["recognized"] <= 2 and agreement["spread"] >= 0
    v = invert.visualize(lite0, "blocks.2:3", prior="tv", steps=2, score=True)
    assert v.faithfulness.path_similarity is not None and math.isfinite(v.faithfulness.spectral_slope)
    assert invert.visualize(lite0, "blocks.2:3", prior="tv", steps=2).faithfulness is None  # scoring only when asked
