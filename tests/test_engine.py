import math

import pytest
import torch

from invert import priors
from invert import Energy, FitConfig, TotalVariation, fit, reconstruction
from invert.errors import InvertError, SettingError


@pytest.mark.parametrize("name", ["dip", "deep_decoder", "tv", "pixel"])
def test_loss_falls(name, photo):
    target = photo[..., :32, :32]
    p = priors.create(name, size=(32, 32))
    r = fit(p, reconstruction(target), FitConfig.build(p.fit_defaults, steps=40))
    first, last = r.history[0]["loss"], min(h["loss"] for h in r.history[-5:])
    assert last < 0.5 * first
    assert r.steps_run == 40 and r.final.shape == target.shape


def test_history_has_psnr_with_a_reference(photo):
    p = priors.create("pixel", size=(64, 64))
    r = fit(p, reconstruction(photo), FitConfig(steps=30, lr=0.05), reference=photo)
    assert r.history[-1]["psnr"] > r.history[0]["psnr"] + 5
    assert set(r.history[0]) >= {"step", "seconds", "loss", "psnr"}


def test_same_seed_same_fit(photo):
    def run():
        p = priors.create("dip", size=(32, 32), seed=1)
        return fit(p, reconstruction(photo[..., :32, :32]), FitConfig(steps=5, reg_noise_std=0.05, seed=1)).final

    assert torch.equal(run(), run())


def test_a_fit_runs_on_from_its_optimizer_state(photo):
    target = reconstruction(photo[..., :32, :32])

    def prior():
        return priors.create("pixel", size=(32, 32), seed=1)

    config = FitConfig(steps=4, lr=0.05, guard=False)
    whole = fit(prior(), target, FitConfig(steps=8, lr=0.05, guard=False)).final
    split = prior()
    first = fit(split, target, config)
    assert torch.allclose(fit(split, target, config, optimizer_state=first.optimizer_state).final, whole)
    afresh = prior()
    fit(afresh, target, config)
    assert not torch.allclose(fit(afresh, target, config).final, whole)  # a fresh Adam jolts the fit


def test_ema_is_a_moving_average(photo):
    p = priors.create("pixel", size=(64, 64))
    r = fit(p, reconstruction(photo), FitConfig(steps=20, lr=0.05, ema=0.9))
    assert not torch.equal(r.ema, r.final)
    assert r.output is r.ema


def test_energies_add_and_scale(photo):
    a, b = reconstruction(photo), TotalVariation()
    combined = 2 * a + b * 0.5 - a
    expected = 2 * a(photo * 0.9) + 0.5 * b(photo * 0.9) - a(photo * 0.9)
    assert float(combined(photo * 0.9)) == pytest.approx(float(expected), rel=1e-6)
    assert float(sum([a, b])(photo)) == pytest.approx(float(a(photo) + b(photo)))


class _Sabotaged(Energy):
    """Reconstruction, except that call number `at` goes wrong: the loss explodes, or Ctrl-C is pressed."""

    def __init__(self, target, at, explode=False):
        super().__init__()
        self.inner, self.calls, self.at, self.explode = reconstruction(target), 0, at, explode

    def forward(self, x):
        self.calls += 1
        if self.calls == self.at and not self.explode:
            raise KeyboardInterrupt
        return self.inner(x) * (1e6 if self.calls == self.at else 1.0)


def test_divergence_guard_restores_and_lowers_lr(photo):
    p = priors.create("pixel", size=(64, 64))
    r = fit(p, _Sabotaged(photo, at=30, explode=True), FitConfig(steps=40, lr=0.02, guard_every=10))
    assert r.backoffs == 1
    assert all(math.isfinite(h["loss"]) and h["loss"] < 1 for h in r.history)


def test_ctrl_c_keeps_the_best_so_far(photo):
    p = priors.create("pixel", size=(64, 64))
    r = fit(p, _Sabotaged(photo, at=12), FitConfig(steps=100, lr=0.05), reference=photo)
    assert r.interrupted and r.stopped_by == "interrupt"
    assert r.steps_run == 11
    assert r.best.shape == photo.shape


def test_callback_can_stop(photo):
    p = priors.create("pixel", size=(64, 64))
    r = fit(p, reconstruction(photo), FitConfig(steps=50), callbacks=(lambda step, loss, x, shown: step == 4,))
    assert r.steps_run == 5 and r.stopped_by == "callback"


def test_unknown_fit_setting_is_an_error():
    with pytest.raises(ValueError, match="unknown fit settings: stepz"):
        FitConfig.build({}, stepz=3)


@pytest.fixture
def unchosen(monkeypatch):
    """A process whose threads nobody chose yet (as a notebook's), with one core kept busy by another process;
    torch.set_num_threads is recorded instead of changing the tests' own threads."""
    from invert import threads

    calls = []
    monkeypatch.setattr(threads, "_choice", {})
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 1.0)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    return calls


def _tiny_fit() -> None:
    fit(priors.create("pixel", size=(8, 8)), reconstruction(torch.rand(1, 3, 8, 8)), FitConfig(steps=1))


def test_the_first_fit_applies_the_thread_policy_once(unchosen):
    from invert import threads

    _tiny_fit()
    _tiny_fit()
    policy = max(1, threads.available_cores() - 1)
    assert unchosen == [policy]
    assert threads.choice() == {"threads": policy, "cores": threads.available_cores(), "busy_elsewhere": 1.0,
                                "how": "the cores other processes left free"}


def test_set_threads_wins_over_the_policy(unchosen):
    from invert import threads

    assert threads.set_threads(3) == 3
    _tiny_fit()
    assert unchosen == [3] and threads.choice()["how"] == "asked"
    assert threads.set_threads(None) == max(1, threads.available_cores() - 1)  # the policy again, now
    with pytest.raises(SettingError, match="threads must be a whole number"):
        threads.set_threads(0)


def test_the_command_line_s_thread_choice_is_kept(unchosen, run_cli, photo_file, tmp_path):
    code, printed = run_cli("restore", "denoise", photo_file, "--prior", "tv", "--steps", "2", "--threads", "3",
                            "--out", str(tmp_path / "out"), "--quiet")
    assert code == 0, printed.err
    assert unchosen == [3]  # the command line's, and no other from the fit


def test_omp_num_threads_is_a_choice_too(unchosen, monkeypatch):
    from invert import threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    _tiny_fit()
    assert unchosen == [] and threads.choice()["how"] == "OMP_NUM_THREADS"


def test_a_prior_with_nothing_to_fit_is_the_caller_s_error():
    frozen = priors.create("pixel", size=(8, 8)).requires_grad_(False)
    with pytest.raises(InvertError, match="no trainable parameters"):
        fit(frozen, reconstruction(torch.rand(1, 3, 8, 8)), FitConfig(steps=1))


def test_a_loss_that_is_not_a_number_is_the_caller_s_error():
    """Caught as the package's errors are, and as the FloatingPointError it is."""
    target = torch.full((1, 3, 8, 8), math.nan)
    with pytest.raises(InvertError, match="not finite before the first step") as caught:
        fit(priors.create("pixel", size=(8, 8)), reconstruction(target), FitConfig(steps=2))
    assert isinstance(caught.value, FloatingPointError)
