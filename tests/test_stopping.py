"""Auto-stop (ES-WMV with a tolerance) and the moving-average warm-up."""
import pytest
import torch

from invert import priors
from invert import FitConfig, denoising, fit
from invert.commands.restore import stop_reason
from invert.engine import ema_decay, stop_rule
from invert.stopping import DISCREPANCY, DiscrepancyStop, VarianceStop, noise_sigma


def outputs_with_spread(spreads, seed=0):
    """A sequence of 1×1×8×8 'outputs' around a fixed image whose step-to-step spread follows `spreads`."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 1, 8, 8, generator=g)
    return [base + s * torch.randn(1, 1, 8, 8, generator=g) for s in spreads]


def test_stops_after_the_variance_minimum_and_keeps_that_output():
    spreads = [1.0] * 10 + [0.1] * 10 + [1.0] * 30  # quiet in the middle, noisy again later
    stop = VarianceStop(window=5, patience=8, warmup=0)
    fired_at = None
    for step, x in enumerate(outputs_with_spread(spreads)):
        if stop.update(step, x, x * 0 + step):  # "shown" carries its step number
            fired_at = step
            break
    assert 14 <= stop.chosen_step <= 20  # a window wholly inside the quiet stretch
    assert fired_at == stop.chosen_step + 8
    assert float(stop.image.mean()) == stop.chosen_step


def test_tolerance_keeps_the_latest_output_near_the_minimum():
    strict, tolerant = VarianceStop(2, 100, 0.0, warmup=0), VarianceStop(2, 100, 0.05, warmup=0)
    for step, v in enumerate([5.0, 1.0, 1.04, 1.02, 3.0]):
        strict.observe(step, v)
        tolerant.observe(step, v)
    assert strict.chosen_step == 1 and tolerant.chosen_step == 3


def test_warmup_ignores_the_early_dip():
    stop = VarianceStop(2, 100, warmup=3)
    for step, v in enumerate([5.0, 0.1, 4.0, 2.0, 1.0, 3.0]):
        stop.observe(step, v)
    assert stop.chosen_step == 4 and stop.best_variance == 1.0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="window"):
        VarianceStop(window=1, patience=10)


def test_fit_auto_stops_on_noise_and_reports_why(photo):
    torch.manual_seed(0)
    noisy = (photo[..., :32, :32] + 0.1 * torch.randn(1, 3, 32, 32)).clamp(0, 1)
    p = priors.create("dip", preset="fast", size=(32, 32), seed=0)
    cfg = FitConfig.build(p.fit_defaults, steps=400, auto_stop=True, stop_window=10, stop_patience=20)
    energy = denoising(noisy)
    r = fit(p, energy, cfg, stop=stop_rule(cfg, energy))
    assert r.stopped_by == "auto" and r.steps_run < 400
    assert r.output is r.chosen and r.chosen_step == r.steps_run - 1 - 20
    s = r.summary()
    assert s["stopped_at"] == r.steps_run and s["output_step"] == r.chosen_step
    assert "variance" in stop_reason(r) and str(r.chosen_step) in stop_reason(r)
    assert all("variance" in h for h in r.history[cfg.stop_window:])


def test_without_auto_stop_every_step_runs(photo):
    p = priors.create("dip", preset="fast", size=(32, 32), seed=0)
    r = fit(p, denoising(photo[..., :32, :32]), FitConfig.build(p.fit_defaults, steps=5))
    assert r.stopped_by == "steps" and r.chosen is None and stop_reason(r) == "ran all steps"


def test_ema_warmup_lets_early_outputs_fade():
    cfg = FitConfig(ema=0.99, ema_warmup=True)
    assert ema_decay(cfg, 0) == pytest.approx(0.1) and ema_decay(cfg, 10_000) == 0.99
    assert ema_decay(FitConfig(ema=0.99), 0) == 0.99


def test_noise_sigma_estimates_added_noise():
    torch.manual_seed(0)
    flat = torch.full((1, 3, 64, 64), 0.5)
    for sigma in (10 / 255, 25 / 255):
        assert noise_sigma(flat + sigma * torch.randn_like(flat)) == pytest.approx(sigma, rel=0.05)


def test_discrepancy_stop_fires_at_the_first_residual_under_the_threshold():
    stop = DiscrepancyStop(0.01)
    residuals = [0.05, 0.02, 0.009, 0.005]
    fired = next(step for step, loss in enumerate(residuals) if stop.update(step, loss, torch.full((1,), float(step))))
    assert fired == stop.chosen_step == 2 and float(stop.image) == 2.0


def test_discrepancy_stop_can_run_on_past_the_threshold():
    stop = DiscrepancyStop(0.01, extend=2.0)
    residuals = [0.05, 0.02, 0.009, 0.02, 0.005, 0.004]
    fired = next(step for step, loss in enumerate(residuals) if stop.update(step, loss, torch.full((1,), float(step))))
    assert stop.reached_step == 2 and fired == stop.chosen_step == 4 and float(stop.image) == 4.0
    with pytest.raises(ValueError, match="at least 1"):
        DiscrepancyStop(0.01, extend=0.5)


def discrepancy_threshold(noisy):
    """The residual the library stops denoising at when the noise level is estimated (restoration.stop_residual)."""
    return DISCREPANCY * noise_sigma(noisy) ** 2


@pytest.mark.slow
def test_fit_stops_denoising_by_the_discrepancy_principle(photo):
    torch.manual_seed(0)
    noisy = (photo[..., :32, :32] + 0.1 * torch.randn(1, 3, 32, 32)).clamp(0, 1)
    p = priors.create("dip", preset="fast", size=(32, 32), seed=0)
    cfg = FitConfig.build(p.fit_defaults, steps=600, auto_stop=True, stop_residual=discrepancy_threshold(noisy))
    energy = denoising(noisy)
    r = fit(p, energy, cfg, stop=stop_rule(cfg, energy))
    assert r.stopped_by == "auto" and r.chosen_step == r.steps_run - 1
    assert r.history[-1]["loss"] <= cfg.stop_residual < r.history[-2]["loss"] or r.steps_run == 1
    assert "discrepancy" in stop_reason(r)


@pytest.mark.slow
def test_discrepancy_rule_watches_the_data_term_not_the_regularizer(photo):
    torch.manual_seed(0)
    noisy = (photo[..., :32, :32] + 0.1 * torch.randn(1, 3, 32, 32)).clamp(0, 1)
    p = priors.create("dip", preset="denoise", size=(32, 32), seed=0, tv_weight=0.05)
    cfg = FitConfig.build(p.fit_defaults, steps=600, auto_stop=True, stop_residual=discrepancy_threshold(noisy))
    energy = denoising(noisy)
    r = fit(p, energy, cfg, stop=stop_rule(cfg, energy))
    last = r.history[-1]
    assert r.stopped_by == "auto"
    assert last["data"] <= cfg.stop_residual < last["loss"]  # the total with TV is still above it
    assert last["data"] == pytest.approx(float(torch.mean((r.final - noisy) ** 2)), rel=1e-4)
    assert r.noise_level_step < r.chosen_step == r.steps_run - 1  # the preset runs on past the noise level
    assert "ran on to 1.25×" in stop_reason(r)


@pytest.mark.slow
def test_a_run_on_cut_short_by_the_budget_is_reported(photo):
    torch.manual_seed(0)
    noisy = (photo[..., :32, :32] + 0.1 * torch.randn(1, 3, 32, 32)).clamp(0, 1)
    p = priors.create("dip", preset="denoise", size=(32, 32), seed=0, tv_weight=0.05)
    cfg = FitConfig.build(p.fit_defaults, steps=600, auto_stop=True, stop_residual=discrepancy_threshold(noisy),
                          stop_extend=100.0)
    energy = denoising(noisy)
    r = fit(p, energy, cfg, stop=stop_rule(cfg, energy))
    assert r.stopped_by == "steps" and r.steps_run == 600 and r.noise_level_step is not None
    assert "cut short" in stop_reason(r) and r.summary()["noise_level_step"] == r.noise_level_step
    with pytest.raises(ValueError, match="stop_extend"):
        FitConfig(stop_extend=0.5)


def test_tv_runs_its_budget_since_its_minimum_is_the_answer(photo):
    noisy = (photo[..., :32, :32] + 0.1 * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    p = priors.create("tv", size=(32, 32), seed=0)
    cfg = FitConfig.build(p.fit_defaults, steps=60, auto_stop=True, stop_residual=discrepancy_threshold(noisy))
    energy = denoising(noisy)
    r = fit(p, energy, cfg, stop=stop_rule(cfg, energy))
    assert r.stopped_by == "steps" and r.steps_run == 60
    assert r.history[-1]["data"] < cfg.stop_residual  # the data term passed the threshold, and it went on
