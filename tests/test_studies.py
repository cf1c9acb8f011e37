"""Studies: a spec's cells run once, resume after an interruption, and a bad spec fails before any cell."""
import json

import pytest
import torch

from invert import cli, studies

SPEC = """
task = "preimage"
images = ["skimage:chelsea", "skimage:coffee"]
layers = ["blocks.1", "blocks.2"]
priors = ["tv", "pixel"]
seeds = [0, 1]
steps = 2
transfer = false
"""
RESTORE_SPEC = 'task = "restore"\nimages = ["skimage:chelsea"]\npriors = ["tv"]\nsteps = 2\n'


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def run_to_report(tmp_path, text, **run):
    """The spec `text` run into tmp_path/study (`run`: run_study's options) and reported; returns the folder."""
    out = tmp_path / "study"
    out.mkdir()
    studies.run_study(studies.load_spec(write(tmp_path, text)), out, **run)
    studies.write_report(out)
    return out


@pytest.mark.slow
def test_a_study_resumes_where_it_was_cut_and_reports(tmp_path):
    spec = studies.load_spec(write(tmp_path, SPEC))
    out = tmp_path / "study"
    out.mkdir()
    assert len(spec.cells()) == 16 and len({studies.cell_key(c) for c in spec.cells()}) == 16

    def cut(done, total):
        if done == 5:
            raise KeyboardInterrupt

    ran, total, interrupted = studies.run_study(spec, out, progress=cut)
    assert (ran, total, interrupted) == (5, 16, True)
    first = {key: (out / "cells" / key / "record.json").stat().st_mtime_ns for key in studies.read_manifest(out)}
    with open(out / studies.MANIFEST, "a") as f:
        f.write('{"key": "cut short by a kil')  # a line a killed run left half-written
    ran, total, interrupted = studies.run_study(spec, out)
    assert (ran, total, interrupted) == (11, 16, False)
    done = studies.read_manifest(out)
    assert len(done) == 16
    assert all((out / "cells" / key / "record.json").stat().st_mtime_ns == t for key, t in first.items())
    assert {e["settings"]["seed"] for e in done.values()} == {0, 1}
    md, html = studies.write_report(out)
    text = md.read_text()
    assert "| tv | blocks.1 | 4 |" in text and "| pixel | blocks.2 | 4 |" in text
    assert html.read_text().count("data:image/png;base64,") == 3  # two image grids and the curves, inlined
    # the table's numbers are the manifest's: the mean feature loss of tv at blocks.1
    losses = [e["metrics"]["feature_loss"] for e in done.values()
              if e["settings"]["prior"] == "tv" and e["settings"]["layer"] == "blocks.1"]
    assert f"{sum(losses) / 4:.3g} ±" in text.split("| tv | blocks.1 | 4 |")[1].split("\n")[0]


@pytest.mark.slow
def test_a_changed_spec_runs_only_its_new_cells(tmp_path, capsys):
    out = tmp_path / "study"
    small = SPEC.replace('seeds = [0, 1]', 'seeds = [0]').replace('"tv", "pixel"', '"tv"')
    assert cli.main(["study", "run", str(write(tmp_path, small)), "--out", str(out), "--quiet"]) == 0
    assert "4 cells run now, 4 of 4 done" in capsys.readouterr().err
    grown = small.replace('priors = ["tv"]', 'priors = ["tv", "pixel"]')
    assert cli.main(["study", "run", str(write(tmp_path, grown, "grown.toml")), "--out", str(out), "--quiet"]) == 0
    assert "4 cells run now, 8 of 8 done" in capsys.readouterr().err
    assert cli.main(["study", "report", str(out)]) == 0
    assert (out / "report.html").is_file() and (out / "report.md").is_file()


@pytest.mark.parametrize("change, fragment", [
    (("steps = 2", "stepz = 2"), "unknown key 'stepz'"),
    (('"tv", "pixel"', '"tv", "dep"'), "priors[1]: unknown prior 'dep'"),
    (('"blocks.1", "blocks.2"', '"blocks.1", "blokcs.2"'), "layers[1]: unknown layer 'blokcs.2'"),
    (('task = "preimage"', 'task = "preimage"\nmodel = "resnt50"'), "model = 'resnt50'"),
    (('"skimage:chelsea", "skimage:coffee"', '"skimage:chelsea", "photos/*.jpg"'), "images[1] = 'photos/*.jpg' matches no"),
    (('task = "preimage"', 'task = "prelmage"'), "task = 'prelmage'"),
    (("steps = 2", "steps = 0"), "steps = 0"),
    ((SPEC, RESTORE_SPEC + 'noise = "camera:9"'), "noise = 'camera:9': camera level must be"),
    ((SPEC, RESTORE_SPEC + 'sigma = -4'), "noise = -4"),
    ((SPEC, RESTORE_SPEC + 'restore = "sr"\nfactor = 1.5'), "factor = 1.5"),
    ((SPEC, RESTORE_SPEC + 'restore = "inpaint"\ndrop = 2'), "drop = 2"),
    ((SPEC, RESTORE_SPEC + 'crop = -3'), "crop = -3"),
    (("transfer = false", 'transfer = false\ndevice = "cdua"'), "device = 'cdua' is not a device"),
])
def test_a_bad_spec_fails_before_any_cell_in_one_line(tmp_path, capsys, change, fragment):
    spec = write(tmp_path, SPEC.replace(*change))
    out = tmp_path / "study"
    assert cli.main(["study", "run", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(spec) in err[0] and fragment in err[0], err
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_study_on_a_machine_without_one_is_refused_before_any_cell(tmp_path, capsys):
    spec = write(tmp_path, SPEC.replace("transfer = false", 'transfer = false\ndevice = "cuda"'))
    out = tmp_path / "study"
    assert cli.main(["study", "run", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'cuda' is not on this machine" in err[0], err
    assert not (out / "cells").exists()


def run_restore_spec(tmp_path, name, settings):
    """Run a 2-step restore study on 32² crops into tmp_path/name: (folder, (ran, total), a cell's record)."""
    spec = studies.load_spec(write(tmp_path, f'task = "restore"\n{settings}steps = 2\ncrop = 32\n', f"{name}.toml"))
    out = tmp_path / name
    out.mkdir()
    counts = studies.run_study(spec, out)[:2]
    return out, counts, json.loads(next((out / "cells").glob("*/record.json")).read_text())


def test_maximize_and_restore_studies(tmp_path):
    maximize = studies.load_spec(write(tmp_path, 'task = "maximize"\nclasses = [1, "flamingo"]\npriors = ["tv"]\n'
                                                 'steps = 2\ntransfer = false\n'))
    assert [c["unit"] for c in maximize.cells()] == [1, 130] and maximize.layers == ["classifier"]
    out, counts, record = run_restore_spec(tmp_path, "r", 'restore = "sr"\nimages = ["skimage:camera"]\n'
                                                         'priors = ["tv", "pixel"]\n')
    assert counts == (2, 2)
    assert record["settings"]["factor"] == 4 and "psnr" in record["record"]
    assert "| tv | sr | 1 |" in studies.write_report(out)[0].read_text()
    _, counts, record = run_restore_spec(tmp_path, "c", 'images = ["skimage:astronaut"]\npriors = ["tv"]\n'
                                                        'noise = "camera:0.01:jpeg90"\n')
    assert counts == (1, 1)
    assert record["settings"]["noise"] == "camera:0.01:jpeg90" and "psnr" in record["record"]
    assert "correlated" in record["record"]["noise_sigma_source"]


@pytest.mark.slow
def test_a_maximize_study_of_diverse_batches(tmp_path):
    base = 'task = "maximize"\nclasses = [1]\npriors = ["tv"]\nsteps = 2\n'
    plain = studies.load_spec(write(tmp_path, base, "plain.toml")).cells()[0]
    assert "batch" not in plain and "diversity" not in plain  # older studies' cells keep their keys
    spec = studies.load_spec(write(tmp_path, base + "batch = 3\ndiversity = 0.5\n", "diverse.toml"))
    out = tmp_path / "diverse"
    out.mkdir()
    assert studies.run_study(spec, out)[:2] == (1, 1)
    (_, record, image), = studies.finished_cells(out)
    assert len(record["top1"]) == 3 and 0 <= record["similarity"] <= 1
    assert record["faithfulness"]["seed_agreement"]["seeds"] == 3
    from invert.images import load_image

    picture = load_image(image)[0]
    assert picture.shape[-1] > 2 * picture.shape[-2]  # the three images side by side
    assert "Gram similarity" in studies.write_report(out)[0].read_text()
    with pytest.raises(studies.StudyError, match="give batch = 2 or more"):
        studies.load_spec(write(tmp_path, base + "diversity = 0.5\n", "bad.toml"))
    with pytest.raises(studies.StudyError, match="diversity = -1"):
        studies.load_spec(write(tmp_path, base + "batch = 2\ndiversity = -1\n", "bad.toml"))


def test_a_maximize_study_of_directions(tmp_path):
    base = 'task = "maximize"\nlayers = ["blocks.1"]\npriors = ["tv"]\nsteps = 2\n'
    spec = studies.load_spec(write(tmp_path, base + "directions = [{7 = -0.5, 3 = 1}, {0 = 2.0}]\n"))
    assert [c["direction"] for c in spec.cells()] == [{"3": 1.0, "7": -0.5}, {"0": 2.0}]  # one spelling, one key
    out = tmp_path / "directions"
    out.mkdir()
    assert studies.run_study(spec, out)[:2] == (2, 2)
    table = studies.write_report(out)[0].read_text()
    assert "| tv | blocks.1[1·3 − 0.5·7] | 1 |" in table and "class kept" not in table  # no class to keep
    for line, message in [("directions = [{99 = 1.0}]", "channel '99' is not one of the layer's 24"),
                          ("directions = [{3 = 0.0}]", "only zero weights"),
                          ("directions = [{3 = nan}]", "give a finite number"),
                          ("directions = [{3 = 1.0}]\nchannels = [1]", "exactly one of classes, channels, directions and objectives")]:
        with pytest.raises(studies.StudyError) as refused:
            studies.load_spec(write(tmp_path, base + line + "\n", "bad.toml"))
        assert message in str(refused.value)
    with pytest.raises(studies.StudyError, match="directions is a key of maximize studies"):
        studies.load_spec(write(tmp_path, 'task = "atlas"\nlayers = ["blocks.1"]\npriors = ["tv"]\n'
                                          'directions = [{3 = 1.0}]\n', "atlas.toml"))


@pytest.mark.slow
def test_several_images_or_seeds_make_the_everyday_commands_a_study(tmp_path, capsys):
    out = tmp_path / "denoise"
    argv = ["restore", "denoise", "skimage:camera", "skimage:astronaut", "--add-noise", "25", "--crop", "32",
            "--steps", "3", "--prior", "tv", "--seeds", "0,1", "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    done = studies.read_manifest(out)
    assert len(done) == 4 and {(e["settings"]["image"], e["settings"]["seed"]) for e in done.values()} == {
        ("skimage:camera", 0), ("skimage:camera", 1), ("skimage:astronaut", 0), ("skimage:astronaut", 1)}
    assert all(e["settings"]["noise"] == "25" for e in done.values())
    folder = tmp_path / "photos"
    folder.mkdir()
    from invert.images import load_image, save_image

    for name in ("chelsea", "coffee"):
        save_image(load_image(f"skimage:{name}")[0], folder / f"{name}.png")
    pre = tmp_path / "pre"
    assert cli.main(["preimage", str(folder), "--layer", "blocks.1", "--prior", "tv", "--steps", "2",
                     "--no-transfer", "--quiet", "--out", str(pre)]) == 0
    assert sorted(e["settings"]["image"].rsplit("/", 1)[1] for e in studies.read_manifest(pre).values()) == [
        "chelsea.png", "coffee.png"]
    capsys.readouterr()
    assert cli.main(["restore", "denoise", "skimage:camera", "skimage:astronaut", "--out", str(tmp_path / "x")]) == 2
    assert "give --add-noise SIGMA" in capsys.readouterr().err
    assert cli.main(["preimage", "skimage:camera", "skimage:astronaut", "--attribution", "--out",
                     str(tmp_path / "y")]) == 2
    assert "--attribution works on one image" in capsys.readouterr().err
