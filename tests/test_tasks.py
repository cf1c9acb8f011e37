"""Restoration tasks as registered, typed objects: the CLI, study specs and the report are made from them."""
import json
from dataclasses import dataclass

import pytest
import torch

from invert import studies, tasks
from invert.energies import DataFidelity
from invert.errors import SettingError
from invert.physics import GaussianBlur, Operator
from invert.restoration import Problem


class Dim(Operator):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


@dataclass(frozen=True)
class Undim(tasks.RestorationTask):
    """A toy task that lives only in this file: undo a known dimming of the image."""

    name = "undim"
    summary = "undo a known dimming"
    default_prior = "tv"
    sample = {"add_dim": 0.5}
    synthesized_by = "add_dim"

    add_dim: float | None = tasks.setting(help="IMAGE is bright: dim it by this factor first", kind=float, least=0,
                                          most=1, above=True, below=True)

    def problem(self, image, seed=0, source=None):
        dim = Dim(self.add_dim)
        observed = dim(image)
        return Problem(self.name, observed, DataFidelity(dim, observed), tuple(image.shape[-2:]), image.shape[1],
                       image, observed)


@pytest.fixture
def undim():
    tasks.register(Undim)
    yield Undim
    del tasks.registry._REGISTRY[Undim.name]


def test_a_task_registered_outside_the_library_runs_from_the_cli_a_study_and_the_report(undim, run_cli, tmp_path):
    code, cap = run_cli("restore", "undim", "--add-dim", "0.5", "--crop", "32", "--steps", "20", "--out",
                        str(tmp_path / "one"), "--quiet")
    assert code == 0, cap.err
    record = json.loads((tmp_path / "one" / "result.json").read_text())
    assert record["task"] == "undim" and record["prior"] == "tv" and record["psnr"] > record["psnr_input"]

    code, cap = run_cli("restore", "undim", "--add-dim", "1.5", "--out", str(tmp_path / "bad"))
    assert code == 2 and "--add-dim" in cap.err  # its range, checked by the parser

    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('task = "restore"\nrestore = "undim"\nimages = ["skimage:camera"]\npriors = ["tv"]\n'
                         'add_dim = 0.25\ncrop = 32\nsteps = 5\n')
    spec = studies.load_spec(spec_file)
    assert spec.restoration == {"add_dim": 0.25}
    out = tmp_path / "study"
    out.mkdir()
    assert studies.run_study(spec, out)[:2] == (1, 1)
    report_md, _ = studies.write_report(out)
    assert "undim" in report_md.read_text()


def test_a_setting_of_another_task_is_refused_by_name(tmp_path):
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('task = "restore"\nrestore = "sr"\nimages = ["skimage:camera"]\npriors = ["tv"]\ndrop = 0.3\n')
    with pytest.raises(studies.StudyError, match="drop is a setting of inpaint, not of restore = 'sr'"):
        studies.load_spec(spec_file)


def test_settings_are_checked_when_a_task_is_made():
    assert tasks.create("sr", factor=4, kernel="lanczos2").settings() == {"factor": 4}  # defaults are left out
    with pytest.raises(SettingError, match="factor = 1.5; give a whole number, at least 2"):
        tasks.create("sr", factor=1.5)
    with pytest.raises(SettingError, match="exactly one"):
        tasks.Deblur(blur=1.0, add_blur=2.0)
    with pytest.raises(SettingError, match="names no noise"):
        tasks.Denoise(noise="loud")


def test_gaussian_blur_keeps_size_and_mean_and_spreads_a_point_by_sigma():
    point = torch.zeros(1, 1, 41, 41)
    point[..., 20, 20] = 1.0
    spread = GaussianBlur(3.0, channels=1)(point)[0, 0]
    assert spread.shape == (41, 41) and spread.sum().item() == pytest.approx(1.0, abs=1e-5)
    offsets = torch.arange(41.0) - 20
    variance = (spread.sum(dim=0) * offsets**2).sum().item()
    assert variance == pytest.approx(9.0, rel=0.02)  # σ² along each axis


def test_deblurring_a_blurred_crop_beats_the_blurred_input(run_cli, tmp_path):
    code, cap = run_cli("restore", "deblur", "skimage:camera", "--add-blur", "1.5", "--crop", "48", "--steps", "300",
                        "--out", str(tmp_path / "d"), "--quiet")
    assert code == 0, cap.err
    record = json.loads((tmp_path / "d" / "result.json").read_text())
    assert record["prior"] == "tv" and record["preset"] == "sr"  # the preset the task names for TV
    assert record["psnr"] > record["psnr_input"] + 0.3


def test_a_deblurring_study_from_a_spec(tmp_path):
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('task = "restore"\nrestore = "deblur"\nimages = ["skimage:camera"]\npriors = ["tv"]\n'
                         'crop = 32\nsteps = 5\n')
    spec = studies.load_spec(spec_file)
    assert spec.restoration == {"add_blur": 2.0}  # the task's sample degradation when the spec names none
    out = tmp_path / "study"
    out.mkdir()
    assert studies.run_study(spec, out)[:2] == (1, 1)
    [(settings, record, _)] = studies.finished_cells(out)
    assert settings["add_blur"] == 2.0 and "psnr" in record


def test_an_operation_registered_outside_the_library_runs_as_a_spec_and_reports(tmp_path):
    """A new operation (fit a prior to reproduce an image) with its own keys, cells, typed result and report
    columns, in this file only."""
    from invert import FitConfig, fit, images, metrics, operations, priors
    from invert.cell_scores import column
    from invert.energies import reconstruction
    from invert.results import Result

    @dataclass(repr=False, eq=False, kw_only=True)
    class Reproduction(Result):
        kind = "reproduce"
        headline = ("psnr",)
        psnr: float
        seconds: float

    @dataclass(frozen=True)
    class Reproduced:
        psnr: float = column("PSNR to the crop")

        @classmethod
        def of(cls, settings, record):
            return cls(record["psnr"])

    class Reproduce(operations.Operation):
        name = "reproduce"
        keys = frozenset({"images"})
        scores = Reproduced

        def run(self, target, prior, steps):
            result = fit(prior, reconstruction(target), FitConfig(steps=steps, lr=0.05, auto_stop=False))
            return Reproduction(psnr=metrics.psnr(result.output, target), seconds=result.seconds,
                                image=result.output, fit=result)

        def read(self, raw, spec, base, where):
            spec.images = studies.expand_images(raw.get("images", []), base, where)

        def grid(self, spec):
            return [{"image": i} for i in spec.images]

        def run_cell(self, settings):
            target = images.center_crop(images.load_image(settings["image"])[0], 24)
            prior = priors.create(settings["prior"], channels=target.shape[1], size=(24, 24), seed=settings["seed"])
            return self.run(target, prior, settings["steps"])

        def row(self, settings):
            return "reproduce"

    operations.register(Reproduce)
    try:
        spec_file = tmp_path / "spec.toml"
        spec_file.write_text('task = "reproduce"\nimages = ["skimage:camera"]\npriors = ["pixel"]\nsteps = 30\n')
        out = tmp_path / "study"
        out.mkdir()
        assert studies.run_study(studies.load_spec(spec_file), out)[:2] == (1, 1)
        report_md, report_html = studies.write_report(out)
        assert "PSNR to the crop" in report_md.read_text() and "reproduce" in report_html.read_text()
        [(_, record, _)] = studies.finished_cells(out)
        assert record["schema"] >= 1 and Reproduction.from_json(record).psnr == record["psnr"]
    finally:
        operations.unregister("reproduce")


@pytest.mark.slow
def test_the_recipe_is_typed_once_for_flags_spec_keys_and_python(tmp_path, run_cli):
    import invert

    assert tasks.Recipe(tv=2.0, no_transforms=True).objective() == {"tv": 2.0, "transforms": False}
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('task = "preimage"\nimages = ["skimage:camera"]\nlayers = ["blocks.1"]\npriors = ["pixel"]\n'
                         'tv = 5.0\nsteps = 3\ntransfer = false\n')
    spec = studies.load_spec(spec_file)
    assert spec.recipe == {"tv": 5.0} and spec.cells()[0]["tv"] == 5.0
    spec_file.write_text('task = "preimage"\nimages = ["skimage:camera"]\nlayers = ["blocks.1"]\npriors = ["pixel"]\n'
                         'tv = -1\n')
    with pytest.raises(studies.StudyError, match="tv = -1; give a number, at least 0"):
        studies.load_spec(spec_file)
    out = tmp_path / "batch"  # several seeds: a study, which now takes the recipe instead of refusing it
    code, cap = run_cli("preimage", "skimage:camera", "--seeds", "0,1", "--layer", "blocks.1", "--prior", "pixel",
                        "--tv", "5", "--steps", "2", "--no-transfer", "--quiet", "--out", str(out))
    assert code == 0, cap.err
    assert all(e["settings"]["tv"] == 5.0 for e in studies.read_manifest(out).values())
    lite0 = invert.zoo.load("efficientnet_lite0")
    plain = invert.preimage(lite0, "skimage:camera", layer="blocks.1", prior="pixel", steps=5)
    smooth = invert.preimage(lite0, "skimage:camera", layer="blocks.1", prior="pixel", steps=5,
                             recipe=tasks.Recipe(tv=50.0))
    assert not torch.equal(plain.image, smooth.image)  # the TV term reached the fit
