import json

import pytest
import torch
from PIL import Image
from skimage import data

from invert import priors
from invert import zoo
from invert import FitConfig, fit
from invert.attribution import attribution_map
from invert.errors import InvertError
from invert.inversion import AlphaNorm, top1
from invert.objectives import STATISTICS, Hooked, bn_statistics, channel, feature_match, top_hinge
from invert.preimages import MAXIMIZE, RESTART_SEED_STEP, STALL_RATIO, Judges, invert_layer, is_coarse, recipe
from invert.transforms import copies, crops, from_recipe, jitter, padded, standard


@pytest.fixture(scope="module")
def lite0():
    return zoo.load(zoo.DEFAULT_MODEL)


@pytest.fixture(scope="module")
def coffee(lite0):
    return lite0.prepare_image(Image.fromarray(data.coffee()))


def test_feature_loss_is_zero_at_the_target_and_normalized(lite0, coffee):
    with Hooked(lite0, feature_match(["blocks.2", "classifier"], coffee)) as energy:
        assert float(energy(coffee)) == pytest.approx(0.0, abs=1e-6)
        grey = torch.full_like(coffee, 0.5)
        errors = energy.errors(grey)
    assert set(errors) == {"blocks.2", "classifier"}
    assert all(0.05 < e < 10 for e in errors.values())


def test_pixel_preimage_of_a_shallow_layer_approaches_the_target(lite0, coffee):
    prior = priors.create("pixel", size=(224, 224))
    with Hooked(lite0, feature_match("blocks.0", coffee)) as energy:
        result = fit(prior, energy, FitConfig(steps=25, lr=0.05))
    assert result.history[-1]["loss"] < 0.5 * result.history[0]["loss"]


def test_invert_layer_records_what_the_report_needs(lite0, coffee):
    hooks = sum(len(m._forward_hooks) for m in lite0.model.modules())
    image, record, result = invert_layer(Judges(lite0), coffee, "blocks.1", "tv", steps=4, objective={"statistics": 1e-4},
                                         restarts=0)
    assert image.shape == coffee.shape and 0 <= float(image.min()) and float(image.max()) <= 1
    for key in ("layer", "prior", "feature_loss", "top1", "top1_original", "ssim_to_original", "seconds",
                "flat_feature_loss", "stalled", "restarts"):
        assert key in record
    assert record["top1_original"] == 967 and record["top1_original_name"] == "espresso"
    assert record["steps_run"] == 4 and record["restarts"] == 0
    # the model is shared by later fits: the energy's hooks (features, BatchNorm statistics) are gone with it
    assert sum(len(m._forward_hooks) for m in lite0.model.modules()) == hooks


@pytest.mark.slow
def test_coarse_layers_get_the_presets_larger_budget(lite0, coffee):
    recipe = {"coarse_steps": 3}  # stands in for the preset's 600
    *_, fine = invert_layer(Judges(lite0), coffee, "blocks.1", "tv", objective={**recipe, "transforms": False})
    *_, coarse = invert_layer(Judges(lite0), coffee, "classifier", "tv", objective=recipe, restarts=0)
    assert fine.steps_run == 200 and coarse.steps_run == 3  # tv's preimage preset: 200 steps
    _, record, _ = invert_layer(Judges(lite0), coffee, "classifier", "tv", steps=2, objective=recipe, restarts=0)
    assert record["steps_run"] == 2  # an explicit budget wins


def test_a_stalled_preimage_is_restarted_from_another_seed(lite0, coffee, monkeypatch):
    from invert import preimages

    monkeypatch.setattr(preimages, "CONTINUE_RATIO", 0.0)  # never run on: a new seed each time
    calls = []

    def stop_the_first_attempt_at_once(step, loss, x, shown):
        calls.append(step)
        return len(calls) == 1  # the first attempt ends after one step, still a near-grey image

    _, record, _ = invert_layer(Judges(lite0), coffee, "blocks.0", "pixel", steps=25, fit_settings={"lr": 0.05},
                                callbacks=(stop_the_first_attempt_at_once,))
    assert record["restarts"] == 1 and record["seed"] == RESTART_SEED_STEP and not record["stalled"]
    assert record["feature_loss"] < STALL_RATIO * record["flat_feature_loss"]
    assert record["steps_run"] == 1 + 25  # the cell's cost counts both attempts


def test_a_preimage_that_stays_stuck_says_so(lite0, coffee):
    _, record, _ = invert_layer(Judges(lite0), coffee, "blocks.0", "pixel", steps=3, fit_settings={"lr": 0.0},
                                restarts=1)
    assert record["stalled"] and record["restarts"] == 1 and record["steps_run"] == 6
    assert record["feature_loss"] >= STALL_RATIO * record["flat_feature_loss"]


def test_failure_names_a_stall_before_a_changed_class():
    from invert.preimages import CLASS_CHANGED, STALLED, failure

    assert failure(0.9, 1.0, top=3, top_original=3) == STALLED
    assert failure(0.9, 1.0, top=4, top_original=3) == STALLED  # not below half the flat loss: the fit never got going
    assert failure(0.2, 1.0, top=4, top_original=3) == CLASS_CHANGED
    assert failure(0.2, 1.0, top=3, top_original=3) is None


def test_a_preimage_the_model_reads_as_another_class_runs_on_and_says_so(lite0, coffee, monkeypatch):
    from invert import preimages

    real = preimages.top1
    # the photo keeps its class (espresso); every fitted image reads as class 1, however well it matches
    monkeypatch.setattr(preimages, "top1", lambda model, x: real(model, x) if x is coffee else 1)
    _, record, _ = invert_layer(Judges(lite0), coffee, "blocks.0", "pixel", steps=5, fit_settings={"lr": 0.05},
                                restarts=1)
    assert record["failure"] == "class changed" and not record["stalled"]
    assert record["restarts"] == 1 and record["continued"] == 1 and record["steps_run"] == 10
    assert record["top1"] == 1 and record["top1_original"] == 967


def test_an_attempt_that_did_not_fail_is_kept_over_a_lower_loss_that_did(lite0, coffee, monkeypatch):
    from invert import preimages

    monkeypatch.setattr(preimages, "CONTINUE_RATIO", 0.0)  # a restart starts afresh, from another seed
    verdicts = iter(["class changed", None])  # the first attempt fails, the restart does not
    monkeypatch.setattr(preimages, "failure", lambda *args: next(verdicts))
    images, steps = [], []

    def restart_stops_after_one_step(step, loss, x, shown):
        steps.append(step)
        if step == 0 and len(steps) > 1:  # the restart: one step, so its loss stays above the first attempt's
            images.append(x)
            return True
        return False

    image, record, _ = invert_layer(Judges(lite0), coffee, "blocks.0", "pixel", steps=8, fit_settings={"lr": 0.05},
                                    restarts=1, callbacks=(restart_stops_after_one_step,))
    assert record["restarts"] == 1 and record["failure"] is None and record["seed"] == RESTART_SEED_STEP
    assert torch.allclose(image, images[0].clamp(0, 1))


@pytest.mark.parametrize("when", ["before its first step", "during its steps"])
def test_a_restart_cut_by_ctrl_c_makes_the_cell_interrupted_not_stalled(lite0, coffee, monkeypatch, when):
    from invert import preimages

    real, fits, calls = preimages._fit, [], []

    def second_fit_cut_at_start(*args, **kwargs):
        fits.append(1)
        if len(fits) == 2:
            raise KeyboardInterrupt  # while the restart builds its prior: no step, no result of its own
        return real(*args, **kwargs)

    def cut_during_the_restart(step, loss, x, shown):
        calls.append(step)
        if len(calls) == 5:  # the first attempt (lr 0, it stalls) has 3 steps; the restart is cut at its second
            raise KeyboardInterrupt
        return False

    if when == "before its first step":
        monkeypatch.setattr(preimages, "_fit", second_fit_cut_at_start)
    _, record, result = invert_layer(Judges(lite0), coffee, "blocks.0", "pixel", steps=3, fit_settings={"lr": 0.0},
                                     restarts=2, callbacks=(cut_during_the_restart,))
    assert record["interrupted"] and not record["stalled"] and result.interrupted
    assert record["restarts"] == (0 if when == "before its first step" else 1)  # the attempts that have a result


@pytest.mark.parametrize("continue_ratio, continued", [(10.0, 1), (0.0, 0)])
def test_a_stall_that_moved_runs_on_and_one_that_did_not_starts_afresh(lite0, coffee, monkeypatch,
                                                                       continue_ratio, continued):
    from invert import preimages

    monkeypatch.setattr(preimages, "STALL_RATIO", 1e-9)  # every attempt counts as stalled
    monkeypatch.setattr(preimages, "CONTINUE_RATIO", continue_ratio)
    losses = []

    def keep_losses(step, loss, x, shown):
        losses.append(loss)

    _, record, _ = invert_layer(Judges(lite0), coffee, "blocks.0", "pixel", steps=5, fit_settings={"lr": 0.05},
                                restarts=1, callbacks=(keep_losses,))
    assert record["continued"] == continued and record["restarts"] == 1 and record["steps_run"] == 10
    if continued:  # the same image run on: same prior seed, and the second fit starts where the first ended
        assert record["seed"] == 0 and losses[5] < 0.75 * losses[0]
    else:  # a fresh prior from the next seed starts from its own noise again
        assert abs(losses[5] - losses[0]) < 0.1 * losses[0]


def test_transforms_only_at_coarse_layers(lite0, coffee):
    assert not is_coarse(["blocks.1"], lite0)  # 56×56 of 224
    assert is_coarse(["blocks.4"], lite0)  # 14×14
    assert is_coarse(["classifier"], lite0)
    assert not is_coarse(["blocks.1", "classifier"], lite0)  # every layer must be coarse


def test_statistics_prior_pulls_towards_the_models_feature_statistics(lite0, coffee):
    prior = priors.create("pixel", size=(224, 224))
    x0 = prior().detach()
    with Hooked(lite0, feature_match("blocks.4", coffee) + 0.01 * bn_statistics()) as energy:
        def distance(x):
            return float(energy._measure(x, transformed=False)[STATISTICS])

        start = distance(x0)
        assert float(energy(x0)) == pytest.approx(energy.errors(x0)["blocks.4"] + 0.01 * start, rel=1e-4)
        result = fit(prior, energy, FitConfig(steps=10, lr=0.02))
        assert distance(result.final) < 0.9 * start


def test_activation_maximization_raises_the_activation(lite0):
    prior = priors.create("pixel", size=(224, 224))
    with Hooked(lite0, channel("blocks.2", 5)) as energy:
        start = float(energy.activation(prior().detach()))
        result = fit(prior, energy, FitConfig(steps=15, lr=0.01))
        assert float(energy.activation(result.final)) > start + 5


def test_activation_maximization_checks_the_unit(lite0):
    with pytest.raises(InvertError, match="out of range.*0–999"):
        Hooked(lite0, channel("classifier", 1000))
    with pytest.raises(InvertError, match="outside"):
        Hooked(lite0, channel("blocks.2", 0, position=(99, 0)))


def test_transforms_keep_shape_and_are_seeded():
    x = torch.rand(1, 3, 32, 32)
    torch.manual_seed(0)
    a = standard()(x)
    torch.manual_seed(0)
    b = standard()(x)
    assert a.shape == x.shape and torch.equal(a, b)
    assert torch.equal(jitter(0)(x), x)


def test_lucid_padding_keeps_the_size_and_fills_with_grey():
    x = torch.zeros(1, 3, 20, 20)
    shifted = padded(lambda v: torch.roll(v, shifts=(6, 6), dims=(-2, -1)), pixels=8)(x)
    assert shifted.shape == x.shape
    assert torch.all(shifted[..., :6, :] == 0.5) and torch.all(shifted[..., 6:, 6:] == 0)


def test_maco_crops_are_a_seeded_batch_of_zoomed_views():
    x = torch.linspace(0, 1, 40).repeat(1, 3, 40, 1)  # a horizontal ramp
    torch.manual_seed(1)
    a = crops(4, scale=(0.5, 0.5))(x)
    torch.manual_seed(1)
    b = crops(4, scale=(0.5, 0.5))(x)
    assert a.shape == (4, 3, 40, 40) and torch.equal(a, b)
    # half the image stretched to the full width: the ramp's slope doubles, its range halves
    span = a[:, 0, 20].amax(dim=-1) - a[:, 0, 20].amin(dim=-1)
    assert torch.allclose(span, torch.full((4,), 0.5), atol=0.05)
    torch.manual_seed(1)
    noisy = crops(4, scale=(0.5, 0.5), noise=0.1)(x)
    assert 0.05 < float((noisy - a).std()) < 0.15


def test_a_recipe_turns_transforms_on_and_off():
    assert from_recipe({"transforms": False, "pad": 12}) is None
    x = torch.rand(1, 3, 32, 32)
    torch.manual_seed(0)
    lucid = from_recipe({"transforms": True, "pad": 12, "jitter_after": 4, "degrees": 10.0, "scale": 0.1})(x)
    torch.manual_seed(0)
    maco = from_recipe({"transforms": True, "jitter_px": 0, "degrees": 0, "scale": 0, "crops": 3})(x)
    assert lucid.shape == x.shape and maco.shape == (3, 3, 32, 32)


def test_maximize_uses_a_priors_own_recipe_where_it_has_one():
    assert recipe("dip", task=MAXIMIZE) == ("maximize", priors.preset("dip", "maximize")["objective"])
    assert recipe("dip")[0] == "preimage" and "crops" not in recipe("dip")[1]
    assert recipe("tv", task=MAXIMIZE)[0] == "preimage"  # no maximize preset: the pre-image one
    assert recipe("dip", "fast", task=MAXIMIZE)[0] == "fast"  # a preset the caller names wins


def test_copies_average_the_feature_error_over_independent_draws(lite0, coffee):
    x = torch.rand(1, 3, 32, 32)
    batch = copies(jitter(4), 3)(x)
    assert batch.shape == (3, 3, 32, 32) and not torch.equal(batch[0], batch[1])
    # the energy of three copies is the mean of the three copies' energies
    scales = iter([1.0, 0.5, 0.25])
    match = feature_match("blocks.2", coffee)
    with Hooked(lite0, match, copies(lambda v: v * next(scales), 3)) as tripled, Hooked(lite0, match) as single:
        expected = sum(float(single(coffee * s)) for s in (1.0, 0.5, 0.25)) / 3
        assert float(tripled(coffee)) == pytest.approx(expected, rel=1e-4)


def test_keep_top_pushes_only_when_another_class_comes_near_the_top(lite0, coffee):
    hinge = top_hinge
    target = torch.tensor([[3.0, 1.0, 0.0, 0.0]])  # top unit 0, margin 2, ‖target‖² 10
    assert float(hinge(torch.tensor([[5.0, 1.0, 0.0, 0.0]]), target)) == 0  # leads by more than the margin
    assert float(hinge(torch.tensor([[1.0, 3.0, 0.0, 0.0]]), target)) == pytest.approx(4 ** 2 / 10)
    # in the energy it counts at the logits only, and adds nothing at the target itself
    grey = torch.full_like(coffee, 0.5)
    with Hooked(lite0, feature_match("classifier", coffee)) as plain, \
            Hooked(lite0, feature_match("classifier", coffee, keep_top=1.0)) as kept:
        assert float(kept(coffee)) == pytest.approx(0, abs=1e-6) and float(kept(grey)) > float(plain(grey))
    with Hooked(lite0, feature_match("blocks.2", coffee, keep_top=1.0)) as spatial, \
            Hooked(lite0, feature_match("blocks.2", coffee)) as unkept:
        assert float(spatial(grey)) == float(unkept(grey))


def test_alpha_norm_is_zero_at_grey_and_one_at_the_extremes():
    assert float(AlphaNorm()(torch.full((1, 3, 4, 4), 0.5))) == 0
    assert float(AlphaNorm()(torch.ones(1, 3, 4, 4))) == pytest.approx(1.0)


def test_attribution_map_is_a_heat_map(lite0, coffee):
    heat = attribution_map(lite0, coffee, coffee, steps=4)
    assert heat.shape == coffee.shape and 0 <= float(heat.min()) and float(heat.max()) <= 1
    assert top1(lite0, coffee) == 967


@pytest.mark.slow
def test_preimage_command_writes_grid_cells_and_records(run_cli, tmp_path):
    out = tmp_path / "pre"
    code, cap = run_cli("preimage", "--image", "skimage:coffee", "--layers", "blocks.0,classifier",
                        "--priors", "tv,pixel", "--steps", "2", "--out", str(out), "--quiet", "--attribution",
                        "--restarts", "0")
    assert code == 0, cap.err
    result = json.loads((out / "result.json").read_text())
    # two steps fit nothing: every cell is reported as stalled, on the terminal and in the records
    assert all(r["stalled"] and r["restarts"] == 0 for r in result["records"])
    assert cap.err.count("the fit stalled") == 4
    assert result["model"] == zoo.DEFAULT_MODEL and result["transfer_model"] == "tf_efficientnet_lite2"
    assert [(r["layer"], r["prior"]) for r in result["records"]] == [
        ("blocks.0", "tv"), ("blocks.0", "pixel"), ("classifier", "tv"), ("classifier", "pixel")]
    for r in result["records"]:
        assert {"feature_loss", "top1", "top1_original", "top1_transfer", "ssim_to_original", "seconds"} <= set(r)
    assert (out / "grid.png").exists() and (out / "curves.png").exists()
    assert len(list((out / "cells").glob("*.png"))) == 4
    assert "resized and centre-cropped to 224×224" in cap.err


@pytest.mark.slow
def test_maximize_and_compare_commands(run_cli, tmp_path):
    code, cap = run_cli("maximize", "--class", "Espresso", "--priors", "tv", "--steps", "2",
                        "--out", str(tmp_path / "max"), "--quiet", "--no-transfer")
    assert code == 0, cap.err
    record = json.loads((tmp_path / "max" / "result.json").read_text())["records"][0]
    assert record["layer"] == "classifier" and record["channel"] == 967 and record["class_name"] == "espresso"
    assert record["top1_name"] is not None
    code, cap = run_cli("maximize", "--layer", "blocks.1", "--direction", "3=1,7=-0.5", "--priors", "tv", "--steps",
                        "2", "--out", str(tmp_path / "dir"), "--quiet", "--no-transfer")
    assert code == 0, cap.err
    result = json.loads((tmp_path / "dir" / "result.json").read_text())
    assert result["direction"] == {"3": 1.0, "7": -0.5} and "blocks.1[1·3 − 0.5·7]" in cap.err
    assert result["records"][0]["faithfulness"]["spectral_slope"] is not None
    code, cap = run_cli("compare", "--images", "skimage:coffee,skimage:chelsea", "--priors", "tv,pixel",
                        "--steps", "2", "--layer", "blocks.5", "--out", str(tmp_path / "cmp"), "--quiet",
                        "--restarts", "0")
    assert code == 0, cap.err
    table = (tmp_path / "cmp" / "table.md").read_text()
    assert "transfer_rate" in table and "| tv |" in table and "| pixel |" in table


def test_layers_command_lists_every_layer(run_cli):
    code, cap = run_cli("layers")
    assert code == 0
    assert "blocks.1" in cap.out and "24×56×56" in cap.out and "classifier" in cap.out


@pytest.mark.parametrize("argv,fragment", [
    (["preimage", "--layers", "blokcs.1"], "did you mean blocks"),
    (["preimage", "--model", "resnt50"], "unknown model"),
    (["maximize", "--class", "1000"], "out of range"),
    (["maximize", "--layer", "blocks.2", "--channel", "0", "--position", "99", "0"], "outside"),
    (["preimage", "--weights", "/nonexistent/w.pth"], "not found"),
    (["preimage", "--image", "/nonexistent/cat.png"], "not found"),
    (["preimage", "--priors", "dip,tvv"], "unknown prior"),
])
def test_bad_inversion_input_is_one_line(run_cli, tmp_path, argv, fragment):
    code, cap = run_cli(*argv, "--out", str(tmp_path / "o"), "--steps", "1", "--quiet")
    assert code == 2
    lines = [l for l in cap.err.splitlines() if "error:" in l]
    assert len(lines) == 1 and fragment in lines[0], cap.err
    assert "Traceback" not in cap.err
