"""The engine on a CUDA GPU (skipped without one): same fit, bf16 autocast and channels_last."""
import pytest
import torch

from invert import priors
from invert import FitConfig, fit, reconstruction
from invert.engine import stop_rule

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("variant", [{}, {"amp": True}, {"channels_last": True}, {"amp": True, "channels_last": True}])
def test_dip_fit_on_cuda_lowers_the_loss(photo, variant):
    p = priors.create("dip", preset="fast", size=(64, 64), seed=0)
    r = fit(p, reconstruction(photo), FitConfig(steps=60, lr=0.01, device="cuda", **variant))
    losses = [h["loss"] for h in r.history]
    assert losses[-1] < 0.5 * losses[0]
    assert r.output.device.type == "cpu" and r.output.dtype == torch.float32


def test_auto_stop_on_cuda_returns_the_variance_minimum(photo):
    p = priors.create("dip", preset="fast", size=(64, 64), seed=0)
    cfg = FitConfig(steps=400, lr=0.01, device="cuda", auto_stop=True, stop_window=20, stop_patience=30)
    energy = reconstruction(photo + 0.1 * torch.randn_like(photo))
    r = fit(p, energy, cfg, stop=stop_rule(cfg, energy))
    assert r.chosen_step is not None and r.chosen_step <= r.steps_run


def test_dip_with_total_variation_on_cuda_keeps_the_data_term_apart(photo):
    p = priors.create("dip", preset="denoise", size=(64, 64), seed=0)
    r = fit(p, reconstruction(photo), FitConfig.build(p.fit_defaults, steps=30, device="cuda"))
    assert all(0 < h["data"] < h["loss"] for h in r.history)  # the TV term is on the same device and adds


def test_a_preimage_and_a_diverse_batch_on_cuda_keep_the_classifier_there():
    import invert

    lite0 = invert.zoo.load("efficientnet_lite0")
    p = invert.preimage(lite0, "skimage:coffee", layer="blocks.4", prior="dip", steps=5, device="cuda", score=True)
    assert next(lite0.model.parameters()).device.type == "cuda" and p.scores.model.wanted == 967
    v = invert.visualize(lite0, "blocks.4:3", prior="fourier", steps=5, batch=2, diversity=5.0, device="cuda")
    assert v.image.shape[0] == 2 and 0 <= v.similarity <= 1
