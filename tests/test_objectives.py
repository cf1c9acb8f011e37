"""Objectives: lucid's algebra, one forward and one transform draw per step, and the numbers of the energies they
replaced (FeatureInversion, ActivationMaximization, DirectionMaximization, Diverse) at fixed seeds."""
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data
from torch import nn

from invert import priors, zoo
from invert.diversity import gram_similarity
from invert.energies import TotalVariation
from invert.errors import InvertError, SettingError
from invert.inversion import AlphaNorm
from invert.objectives import (STATISTICS, Hooked, Objective, alpha_norm, bn_statistics, channel, direction,
                               diversity, feature_match, tv, unit)
from invert.preimages import Judges, maximize_objective
from invert.transforms import compose, crops, standard

LAYER = "blocks.4"  # 112 channels, 4×4 at 64 pixels


@pytest.fixture(scope="module")
def lite0():
    return zoo.load("efficientnet_lite0")


@pytest.fixture(scope="module")
def images(lite0):
    """Seeded 64-pixel batches of 1, 2 and 3 images, a direction in blocks.4, and the coffee photo at 64 pixels."""
    gen = torch.Generator().manual_seed(1)
    coffee = lite0.prepare_image(Image.fromarray(data.coffee()))
    return {1: torch.rand(1, 3, 64, 64, generator=gen), 2: torch.rand(2, 3, 64, 64, generator=gen),
            3: torch.rand(3, 3, 64, 64, generator=gen), "vector": torch.randn(112, generator=gen),
            "target": F.interpolate(coffee, size=(64, 64), mode="bilinear", antialias=True)}


class Mean(Objective):
    """A toy objective: the mean of one layer's activations."""

    def __init__(self, layer: str):
        super().__init__()
        self.layer, self.layers = layer, (layer,)

    def forward(self, features, image):
        return features[self.layer].mean()


def energy_at(energy: Hooked, x: torch.Tensor, seed: int) -> float:
    torch.manual_seed(seed)  # the transforms' draw
    with torch.no_grad():
        return float(energy(x))


def test_objectives_add_subtract_and_scale_like_numbers():
    features = {"a": torch.full((1, 2), 3.0), "b": torch.full((1, 2), 5.0)}
    a, b = Mean("a"), Mean("b")
    image = torch.zeros(1, 3, 4, 4)
    for objective, value in [(a + b, 8.0), (2 * a, 6.0), (a * 2, 6.0), (a - b, -2.0), (-a, -3.0),
                             (a - 0.5 * b + b, 5.5), (sum([a, b, a]), 11.0)]:
        assert float(objective(features, image)) == value
    assert (a + b - a).layers == ("a", "b")
    assert [w for w, _ in (a - 0.5 * b).weighted_terms()] == [1.0, -0.5]


def test_an_objective_reads_as_it_was_written():
    assert repr(channel("blocks.5", 3) - 50 * diversity("blocks.5")) == "blocks.5:3 - 50·diversity(blocks.5)"
    assert str(unit("blocks.5:3@4,4") + 0.01 * tv() - alpha_norm()) == "blocks.5:3@4,4 + 0.01·tv(2) - alpha_norm(6)"
    assert repr(-(channel("b", [1, 2]) + bn_statistics())) == "-(b:1,2 + bn_statistics)"


def test_units_are_parsed_as_lucid_writes_them():
    flamingo = unit("classifier:flamingo")
    assert (flamingo.layer, flamingo.channels, flamingo.position) == ("classifier", [130], None)
    assert unit("classifier:130").channels == [130]
    assert unit("blocks.5:7@4,4").position == (4, 4)
    with pytest.raises(InvertError, match="LAYER:CHANNEL"):
        unit("blocks.5")
    with pytest.raises(InvertError, match="@Y,X"):
        unit("blocks.5:7@4")


def test_units_are_checked_against_the_model_when_bound(lite0, images):
    for objective, message in [(channel(LAYER, [0, 112]), r"channel 112 is out of range for layer 'blocks.4', "
                                                          r"which has 112 \(0–111\)"),
                               (unit("classifier:1000"), "out of range.*0–999"),
                               (channel(LAYER, 0, (14, 0)), r"\(14, 0\) is outside layer 'blocks.4''s 14×14 map"),
                               (channel("classifier", 1, (0, 0)), "no spatial positions"),
                               (direction(LAYER, torch.ones(5)), "112 finite numbers"),
                               (diversity() + tv(), "diversity needs a layer")]:
        with pytest.raises(SettingError, match=message):
            Hooked(lite0, objective)
    hooks = sum(len(m._forward_hooks) for m in lite0.model.modules())
    with pytest.raises(zoo.ZooError):
        Hooked(lite0, channel("blocks.99", 1))
    assert sum(len(m._forward_hooks) for m in lite0.model.modules()) == hooks  # a refused objective left none


def test_every_term_is_read_from_one_forward_under_one_transform_draw(lite0, images):
    forwards, draws = [], []
    handle = lite0.model.register_forward_pre_hook(lambda module, args: forwards.append(1))

    def counted(x):
        draws.append(1)
        return standard()(x)

    goal = (channel(LAYER, 3) - 5 * diversity("blocks.5") + direction("blocks.2", torch.ones(40))
            + feature_match(["blocks.1", "classifier"], images["target"]) + 0.01 * bn_statistics() + tv())
    try:
        with Hooked(lite0, goal, counted) as energy:
            forwards.clear()
            energy(images[2].clone().requires_grad_(True)).backward()
    finally:
        handle.remove()
    assert forwards == [1] and draws == [1]


def test_diversity_without_a_layer_takes_its_units(lite0, images):
    with Hooked(lite0, channel(LAYER, 3) - 5 * diversity()) as energy:
        assert energy.objective.layers == (LAYER,)
        features = energy.features(images[3], transformed=False)
        expected = features[LAYER][:, 3].mean() - 5 * gram_similarity(features[LAYER])
        assert float(energy(images[3])) == pytest.approx(-float(expected), rel=1e-5)


def test_terms_compute_what_the_replaced_energies_did(lite0, images):
    x, target = images[1], images["target"]
    with Hooked(lite0, feature_match(LAYER, target) + 0.1 * bn_statistics() - 2 * tv() - 3 * alpha_norm()) as energy:
        measured = energy._measure(x, transformed=False)
        f, t = measured[LAYER], energy.features(target, transformed=False)[LAYER]
        error = ((f - t) ** 2).sum() / (t ** 2).sum()
        expected = error + 0.1 * measured[STATISTICS] - 2 * TotalVariation(beta=2.0)(x) - 3 * AlphaNorm()(x)
        assert float(energy(x)) == pytest.approx(float(expected), rel=1e-5)
        assert energy.errors(x) == {LAYER: pytest.approx(float(error), rel=1e-5)}
    with Hooked(lite0, direction(LAYER, images["vector"], (2, 1))) as energy:
        f = energy.features(x, transformed=False)[LAYER]
        v = images["vector"] / images["vector"].norm()
        assert float(energy.activation(x)) == pytest.approx(float((f[0, :, 2, 1] * v).sum()), rel=1e-5)


# the energies of FeatureInversion, ActivationMaximization, DirectionMaximization and Diverse at these inputs and
# transform seeds, before objectives replaced them (their gradients agreed to the last bit as well)
BEFORE = {"feature_inversion": 4.563991069793701, "channel_position": -1.063936710357666,
          "channel_list": 0.12077344954013824, "class_logit": 7.470963954925537, "direction": -2.0715394020080566,
          "direction_position": -0.40577900409698486, "diverse": 7.401488304138184}


def test_the_energies_are_those_of_before(lite0, images):
    x1, x2, x3, vector = images[1], images[2], images[3], images["vector"]
    cases = {
        "feature_inversion": (feature_match([LAYER, "classifier"], images["target"], keep_top=1.0)
                              + 0.01 * bn_statistics() + 0.05 * tv() + 0.01 * alpha_norm(), standard(pad=4, n_copies=2),
                              x1, 11),
        "channel_position": (channel(LAYER, 3, (1, 2)), standard(n_copies=2), x1, 12),
        "channel_list": (channel(LAYER, [3, 5]), compose([standard(), crops(2, noise=0.05)]), x2, 13),
        "class_logit": (channel("classifier", 967) + 0.02 * bn_statistics(), None, x1, 14),
        "direction": (direction(LAYER, vector), standard(), x1, 15),
        "direction_position": (direction(LAYER, vector, (2, 1)), None, x1, 16),
        "diverse": (channel(LAYER, 3) - 5 * diversity("blocks.5") + 0.01 * bn_statistics() + 0.1 * tv(), standard(),
                    x3, 17),
    }
    for name, (goal, transform, x, seed) in cases.items():
        with Hooked(lite0, goal, transform) as energy:
            assert energy_at(energy, x, seed) == pytest.approx(BEFORE[name], rel=1e-4), name


def test_any_objective_is_fitted_and_leaves_no_hook(lite0):
    hooks = sum(len(m._forward_hooks) for m in lite0.model.modules())
    judges = Judges(lite0)
    with Hooked(lite0, Mean("blocks.1")) as energy:
        grey = float(energy.activation(torch.full((1, 3, 224, 224), 0.5)))
    image, record, fit = maximize_objective(judges, Mean("blocks.1"), "pixel", steps=3, fit_settings={"lr": 0.05})
    assert image.shape == (1, 3, 224, 224) and fit.steps_run == 3
    assert record["prior"] == "pixel" and "activations" not in record and isinstance(record["top1"], int)
    assert record["activation"] > grey  # a toy's "activation" is its own value: the fit raised it
    _, diverse, _ = maximize_objective(judges, channel(LAYER, 3) - 5 * diversity(), "pixel", steps=1, batch=2)
    assert diverse["diversity"] == 5 and 0 < diverse["similarity"] <= 1 and len(diverse["top1"]) == 2
    assert sum(len(m._forward_hooks) for m in lite0.model.modules()) == hooks


class Sigmoid(nn.Module):
    """A generator that is no registered prior: sigmoid of its pixels."""

    def __init__(self, size: int = 224):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(1, 3, size, size))

    def forward(self):
        return torch.sigmoid(self.logits)


def test_a_prior_may_be_a_module(lite0):
    judges = Judges(lite0)
    _, record, _ = maximize_objective(judges, channel(LAYER, 3), Sigmoid(), steps=2)
    assert record["prior"] == "Sigmoid" and record["steps_run"] == 2 and record["params"] == 3 * 224 * 224
    made = priors.create("pixel", size=(224, 224))
    _, record, _ = maximize_objective(judges, channel(LAYER, 3), made, steps=1)
    assert record["prior"] == "PixelPrior"
    with pytest.raises(SettingError, match="batch needs a prior given by its registered name"):
        maximize_objective(judges, channel(LAYER, 3), Sigmoid(), steps=1, batch=2)
    with pytest.raises(SettingError, match="1×3×224×224"):
        maximize_objective(judges, channel(LAYER, 3), Sigmoid(64), steps=1)


class DeepDream(Objective):
    """A toy term that lives only in this file: the mean square of a layer's activations (DeepDream's objective)."""

    def __init__(self, layer: str):
        super().__init__()
        self.layer, self.layers = layer, (layer,)

    def forward(self, features, image):
        return features[self.layer].pow(2).mean()

    def __repr__(self) -> str:
        return f"deepdream({self.layer})"


@pytest.fixture
def deepdream():
    from invert import objectives

    objectives.register("deepdream")(DeepDream)
    yield
    del objectives.TERMS["deepdream"]


def test_a_toy_objective_runs_from_the_facade_the_command_line_and_a_study(deepdream, lite0, run_cli, tmp_path):
    import json

    import invert
    from invert import studies

    shown = invert.visualize(lite0, DeepDream("blocks.2") + 0.1 * unit("blocks.2:3"), prior="pixel", steps=4)
    assert shown.layer == "blocks.2" and "deepdream(blocks.2)" in shown.label
    losses = [h["loss"] for h in shown.fit.history]
    assert losses[-1] < losses[0]  # the objective grew
    as_text = invert.visualize(lite0, "deepdream('blocks.2')", prior="pixel", steps=2)
    assert as_text.label == "deepdream(blocks.2)" and as_text.activation > 0

    code, printed = run_cli("maximize", "--objective", "deepdream('blocks.2') - 0.5 * tv()", "--prior", "pixel",
                            "--steps", "2", "--out", str(tmp_path / "cli"), "--quiet")
    assert code == 0, printed.err
    [record] = json.loads((tmp_path / "cli" / "result.json").read_text())["records"]
    assert record["layer"] == "blocks.2" and record["label"] == "deepdream('blocks.2') - 0.5 * tv()"

    spec = tmp_path / "spec.toml"
    spec.write_text('task = "maximize"\nobjectives = ["deepdream(\'blocks.2\')"]\npriors = ["pixel"]\nsteps = 2\n')
    out = tmp_path / "study"
    out.mkdir()
    assert studies.run_study(studies.load_spec(spec), out)[:2] == (1, 1)
    assert "deepdream('blocks.2')" in studies.write_report(out)[0].read_text()


@pytest.mark.parametrize("text, fragment", [
    ("nosuch('blocks.2')", "no term 'nosuch'"),
    ("unit('blocks.2:3') * unit('blocks.2:4')", "scaled by numbers"),
    ("unit('blocks.2:3') + 1", "number alone"),
    ("__import__('os')", "no term"),
    ("unit(x)", "literal arguments"),
    ("unit('blocks.2:3'", "not an expression"),
])
def test_an_objective_written_as_text_is_read_without_eval_and_refused_in_one_line(text, fragment):
    from invert import objectives

    with pytest.raises(SettingError, match=fragment.replace("(", r"\(")) as refused:
        objectives.parse(text)
    assert refused.value.setting == "objective" and "\n" not in str(refused.value)


def test_a_bad_objective_on_the_command_line_names_its_flag(run_cli, tmp_path):
    code, printed = run_cli("maximize", "--objective", "unit('blocks.99:3')", "--out", str(tmp_path / "o"))
    assert code == 2 and "unknown layer 'blocks.99'" in printed.err and len(printed.err.strip().splitlines()) == 1
    code, printed = run_cli("maximize", "--objective", "nosuch()", "--out", str(tmp_path / "p"))
    assert code == 2 and printed.err.startswith("invert: error: --objective") and "no term" in printed.err
