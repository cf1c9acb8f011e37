"""The facade a notebook user lives with: one call from a model to a picture, scoring apart, no side effects."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import invert
from invert import zoo
from invert.errors import InvertError
from invert.objectives import Hooked, channel

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def lite0():
    return zoo.load("efficientnet_lite0")


def test_units_are_written_as_lucid_writes_them(lite0):
    assert invert.Unit.parse("classifier:flamingo", lite0) == invert.Unit("classifier", 130)
    assert invert.Unit.parse("blocks.5:7@4,4", lite0) == invert.Unit("blocks.5", 7, (4, 4))
    assert str(invert.Unit.parse("blocks.5:3", lite0)) == "blocks.5:3"
    with pytest.raises(InvertError, match="LAYER:CHANNEL"):
        invert.Unit.parse("blocks.5", lite0)
    with pytest.raises(zoo.ZooError):
        invert.Unit.parse("blocks.99:1", lite0)


@pytest.mark.slow
def test_visualize_returns_one_result_per_unit_and_scores_only_when_asked(lite0):
    one = invert.visualize(lite0, "classifier:flamingo", prior="fourier", steps=3)
    assert isinstance(one, invert.Visualization) and one.image.shape == (1, 3, 224, 224) and one.scores is None
    assert one.fit.steps_run == 3
    several = invert.visualize(lite0, ["blocks.5:3", "blocks.5:7@2,2"], prior="fourier", steps=2, score=True)
    assert [str(v.unit) for v in several] == ["blocks.5:3", "blocks.5:7@2,2"]
    assert all(v.scores.judge is not None and v.scores.model.wanted is None for v in several)  # a channel has no class


def test_a_preimage_and_its_scores_against_the_photo_s_class(lite0):
    p = invert.preimage(lite0, "skimage:coffee", layer="blocks.1", prior="tv", steps=30, score=True)
    assert p.image.shape == p.target.shape == (1, 3, 224, 224)
    assert p.feature_loss < p.flat_feature_loss and not p.stalled
    assert p.scores.model.wanted == 967 and 0 <= p.scores.model.probability <= 1  # espresso
    scores = invert.score(lite0, p.target, wanted=967, judge=None)
    assert scores.model.top1_hit and scores.judge is None


def test_a_failed_fit_leaves_no_hook_on_the_model(lite0):
    def fail(step, loss, last, shown):
        raise RuntimeError("stop here")

    from invert.preimages import Judges, invert_layer

    target = torch.rand(1, 3, 224, 224)
    with pytest.raises(RuntimeError, match="stop here"):
        invert_layer(Judges(lite0), target, "blocks.2", "tv", steps=3, callbacks=(fail,))
    assert not any(m._forward_hooks for m in lite0.model.modules())


@pytest.mark.slow
def test_importing_and_drawing_leave_a_notebook_s_matplotlib_backend_alone(tmp_path):
    code = f"""
import matplotlib
matplotlib.use("svg")
import torch, invert
from invert import report
report.grid([("a", torch.rand(1, 3, 16, 16))], {str(tmp_path / "g.png")!r})
print(matplotlib.get_backend())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "svg" and (tmp_path / "g.png").stat().st_size > 0


@pytest.mark.slow
def test_the_readme_s_python_blocks_run_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    done = subprocess.run([sys.executable, "-c", "\n".join(blocks)], capture_output=True, text=True, cwd=tmp_path,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("PreImage(") and done.stdout.rstrip().endswith("dB")
    assert (tmp_path / "runs" / "p" / "result.json").is_file()


@pytest.mark.slow
def test_a_direction_in_channel_space_is_a_unit(lite0):
    vector = torch.zeros(320)
    vector[7] = 2.0  # one channel, scaled: the same unit as blocks.6:7
    by_direction = invert.visualize(lite0, invert.Direction("blocks.6", vector), prior="fourier", steps=3)
    by_channel = invert.visualize(lite0, "blocks.6:7", prior="fourier", steps=3)
    assert str(by_direction.unit) == "blocks.6:2·7" and by_direction.label == "blocks.6:2·7"
    assert torch.allclose(by_direction.image, by_channel.image, atol=1e-5)
    assert by_direction.activation == pytest.approx(by_channel.activation, rel=1e-4)
    mixed = torch.randn(320, generator=torch.Generator().manual_seed(0))
    fitted = invert.visualize(lite0, invert.Direction("blocks.6", mixed), prior="fourier", steps=20)
    grey = torch.full((1, 3, 224, 224), 0.5)
    with Hooked(lite0, invert.Direction("blocks.6", mixed).objective()) as energy:
        assert fitted.activation > float(energy.activation(grey))  # the fit raised it
    with pytest.raises(InvertError, match="320 finite numbers"):
        invert.visualize(lite0, invert.Direction("blocks.6", torch.ones(5)), steps=1)


@pytest.mark.slow
def test_a_diverse_batch_is_pushed_apart_in_gram_space(lite0):
    from invert.diversity import batch_similarity, gram_similarity

    same = torch.rand(1, 8, 5, 5).expand(3, -1, -1, -1)
    assert gram_similarity(same).item() == pytest.approx(1.0, abs=1e-5)
    plain = invert.visualize(lite0, "blocks.4:3", prior="fourier", steps=25, batch=3)
    assert plain.image.shape == (3, 3, 224, 224) and plain.similarity is None
    diverse = invert.visualize(lite0, "blocks.4:3", prior="fourier", steps=25, batch=3, diversity=20.0)
    assert diverse.similarity == pytest.approx(batch_similarity(lite0, "blocks.4", diverse.image), abs=1e-6)
    assert diverse.similarity < batch_similarity(lite0, "blocks.4", plain.image)  # the weight pushed them apart
    with pytest.raises(InvertError, match="batch"):
        invert.visualize(lite0, "blocks.4:3", diversity=1.0)


@pytest.mark.slow
def test_the_command_line_draws_a_diverse_batch(run_cli, tmp_path):
    out = tmp_path / "m"
    code, cap = run_cli("maximize", "--layer", "blocks.4", "--channel", "3", "--prior", "fourier", "--batch", "2",
                        "--diversity", "5", "--steps", "3", "--no-transfer", "--quiet", "--out", str(out))
    assert code == 0, cap.err
    record = __import__("json").loads((out / "result.json").read_text())["records"][0]
    assert len(record["top1"]) == 2 and 0 <= record["similarity"] <= 1 and record["diversity"] == 5
    code, cap = run_cli("maximize", "--layer", "blocks.4", "--channel", "3", "--diversity", "5", "--out",
                        str(tmp_path / "n"))
    assert code == 2 and "--batch 2 or more" in cap.err


def test_moving_an_energy_leaves_the_shared_classifier_where_it_is(lite0):
    weights = [p.data_ptr() for p in lite0.model.parameters()]
    with Hooked(lite0, channel("blocks.2", 3)) as energy:
        energy.to(torch.float64)  # what engine.fit does with a device: the energy's own tensors only
        assert next(lite0.model.parameters()).dtype == torch.float32
        assert not any(m is lite0.model for m in energy.modules())
    invert.visualize(lite0, "blocks.2:3", prior="pixel", steps=2)
    assert [p.data_ptr() for p in lite0.model.parameters()] == weights  # not copied away and back


def test_a_notebook_shows_results_as_pictures(lite0):
    import io

    from PIL import Image

    v = invert.visualize(lite0, "blocks.2:3", prior="pixel", steps=1, batch=2)
    shown = Image.open(io.BytesIO(v._repr_png_()))
    assert shown.size == (2 * 224, 224)  # a batch side by side
    p = invert.preimage(lite0, torch.rand(1, 3, 224, 224), layer="blocks.1", prior="pixel", steps=1)
    assert Image.open(io.BytesIO(p._repr_png_())).size == (2 * 224, 224)  # the target beside its pre-image


@pytest.mark.slow
def test_accentuation_from_the_facade_the_command_line_and_a_spec(lite0, run_cli, tmp_path):
    """A unit's picture grown from a photo: the same operation behind `from_image=`, `--from` and a spec's key."""
    import json

    from invert import studies

    grown = invert.visualize(lite0, "blocks.2:3", prior="fourier", steps=3, from_image="skimage:coffee")
    assert grown.from_image == "skimage:coffee" and grown.ssim_to_photo > 0.5
    assert grown.photo_activation is not None and len(repr(grown)) < 1000

    code, printed = run_cli("maximize", "--layer", "blocks.2", "--channel", "3", "--from", "skimage:coffee",
                            "--prior", "fourier", "--steps", "3", "--out", str(tmp_path / "cli"), "--quiet")
    assert code == 0, printed.err
    [record] = json.loads((tmp_path / "cli" / "result.json").read_text())["records"]
    assert record["from_image"] == "skimage:coffee" and {"photo_activation", "ssim_to_photo"} <= set(record)
    code, printed = run_cli("maximize", "--layer", "blocks.2", "--channel", "3", "--from", "skimage:coffee",
                            "--batch", "2", "--out", str(tmp_path / "bad"))
    assert code == 2 and printed.err == "invert: error: --from grows one image from the photo: leave --batch and " \
                                        "--diversity out\n"

    spec = tmp_path / "spec.toml"
    spec.write_text('task = "maximize"\nlayers = ["blocks.2"]\nchannels = [3]\nfrom_image = "skimage:coffee"\n'
                    'priors = ["fourier"]\nsteps = 2\n')
    out = tmp_path / "study"
    out.mkdir()
    assert studies.run_study(studies.load_spec(spec), out)[:2] == (1, 1)
    [(settings, record, _)] = studies.finished_cells(out)
    assert settings["from_image"] == "skimage:coffee" and record["ssim_to_photo"] > 0.5
