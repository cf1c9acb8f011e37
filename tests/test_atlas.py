"""The layer atlas: batched rendering (image i for unit i), the dataset examples' index, the command and the
study task. The page itself is opened in a real browser in test_pages.py."""
import argparse
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from invert import examples, zoo
from invert.commands.atlas import units
from invert.objectives import Hooked, channel
from invert.transforms import crops

LAYER = "blocks.1"  # 24 channels at 56×56: a forward stops there, so the tests stay fast


@pytest.fixture(scope="module")
def lite0():
    return zoo.load("efficientnet_lite0")


@pytest.fixture
def photos(tmp_path):
    """Three photos that read, a file that does not and a decompression bomb."""
    from skimage import data

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(getattr(data, name)()).save(folder / f"{name}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    Image.new("1", (12_000, 12_000)).save(folder / "bomb.png")  # 144 megapixels in a few kB
    return folder


def test_units_read_ranges_lists_and_both():
    assert units("0:4,9") == [0, 1, 2, 3, 9]
    assert units("3,3,1") == [3, 1]
    for bad in ("a:b", "", "-1", "4:2"):
        with pytest.raises(argparse.ArgumentTypeError):
            units(bad)


def test_crops_take_each_image_of_a_batch_copy_major():
    torch.manual_seed(0)
    batch = torch.stack([torch.full((3, 32, 32), float(i)) for i in range(3)])
    out = crops(2, noise=0.0)(batch)
    assert out.shape == (6, 3, 32, 32)
    assert [round(float(v.mean())) for v in out] == [0, 1, 2, 0, 1, 2]  # crop c of image i is item c·3 + i


def test_a_list_of_channels_puts_channel_i_on_image_i(lite0):
    with Hooked(lite0, channel(LAYER, [3, 5])) as energy:
        x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        f = energy.features(x, transformed=False)[LAYER]
        expected = torch.stack([f[0, 3].mean(), f[1, 5].mean()])
        assert torch.allclose(energy.activations(x), expected)
        assert torch.allclose(energy.activation(x), expected.mean())
        x.requires_grad_(True)
        energy.activations(x)[0].backward()
        assert x.grad[0].abs().sum() > 0 and x.grad[1].abs().sum() == 0  # unit 0 looks at its own image only


def test_a_channel_out_of_range_is_refused_whichever_it_is(lite0):
    from invert.errors import SettingError

    with pytest.raises(SettingError, match="99 is out of range"):
        Hooked(lite0, channel(LAYER, [0, 99]))


def test_render_returns_one_image_and_one_activation_per_unit(lite0):
    from invert import atlas
    from invert.preimages import Judges

    images, record, _ = atlas.render(Judges(lite0), LAYER, [2, 7], "tv", steps=2)
    assert images.shape == (2, 3, 224, 224) and record["units"] == [2, 7] and not record["classes"]
    with Hooked(lite0, channel(LAYER, [2, 7])) as energy:  # the activations recorded: each unit's on its image
        measured = energy.activations(images)
    assert record["activations"] == pytest.approx(measured.tolist(), rel=1e-4)
    stem = lite0.model.conv_stem.weight  # the shared model is left as it was (other fits' numbers depend on it)
    assert stem.is_contiguous() and not stem.is_contiguous(memory_format=torch.channels_last)


def test_a_prior_with_a_cap_renders_its_units_in_several_fits(lite0, monkeypatch):
    from invert import atlas
    from invert.preimages import Judges

    monkeypatch.setattr(atlas, "MOST_PER_FIT", {"tv": 2})
    images, record, _ = atlas.render(Judges(lite0), LAYER, [4, 1, 9], "tv", steps=2, seed=5)
    alone, single, _ = atlas.render(Judges(lite0), LAYER, [9], "tv", steps=2, seed=7)  # the third: seed 5 + 2
    assert images.shape[0] == 3 and record["units"] == [4, 1, 9] and len(record["activations"]) == 3
    assert torch.equal(images[2:], alone) and record["activations"][2] == single["activations"][0]
    assert record["activation"] == pytest.approx(sum(record["activations"]) / 3)


def test_the_examples_pass_ranks_crops_caches_and_skips_what_does_not_read(lite0, photos, tmp_path):
    paths = sorted(str(p) for p in photos.iterdir())
    skipped = []
    index = examples.build(lite0, LAYER, paths, top=2, skipped=lambda path, why: skipped.append(path))
    assert skipped == [str(photos / "bomb.png"), str(photos / "broken.jpg")] and len(index.images) == 3
    assert index.activations.shape == (3, 24) and index.where.shape == (3, 24, 2)
    for unit in (0, 23):
        ranking = index.ranking(unit)
        assert len(ranking) == 2 and index.activations[ranking[0], unit] == index.activations[:, unit].max()
        assert index.best(unit) == pytest.approx(float(index.activations[:, unit].max()))
    crop = Image.open(io.BytesIO(index.crops[5][0]))
    assert crop.size == (examples.CROP_PIXELS, examples.CROP_PIXELS)
    assert 8 <= index.receptive_field < 224  # blocks.1 sees a part of the image
    path = examples.cache_path(tmp_path / "cache", lite0, LAYER, paths)
    examples.save(index, path)
    again = examples.load(path, lite0, LAYER, top=2)
    assert again is not None and torch.equal(again.activations, index.activations) and again.crops[5] == index.crops[5]
    assert examples.load(path, lite0, "blocks.2", top=2) is None  # another layer's question
    assert examples.load(path, lite0, LAYER, top=3) is None  # more examples than it kept
    path.write_bytes(path.read_bytes()[:100])  # a cut file is built again, not read
    assert examples.load(path, lite0, LAYER, top=2) is None


def test_an_examples_pass_with_nothing_readable_says_so(lite0, tmp_path):
    from invert.errors import InvertError

    (tmp_path / "a.png").write_bytes(b"nothing")
    with pytest.raises(InvertError, match="none of the 1 images"):
        examples.build(lite0, LAYER, [str(tmp_path / "a.png")])


@pytest.mark.slow
def test_invert_atlas_writes_the_page_and_resumes(run_cli, photos, tmp_path):
    out = tmp_path / "atlas"
    argv = ["atlas", "--layer", LAYER, "--units", "0:3", "--batch", "2", "--steps", "2", "--prior", "tv",
            "--images", str(photos), "--top", "2", "--out", str(out), "--quiet"]
    code, printed = run_cli(*argv)
    assert code == 0, printed.err
    skips = [line for line in printed.err.splitlines() if "skipped" in line]
    assert len(skips) == 2 and "broken.jpg" in skips[1] and "too large" in skips[0]  # one line for each
    data = json.loads((out / "atlas.json").read_text())
    assert [u["unit"] for u in data["units"]] == [0, 1, 2] and data["dataset images"] == 3
    for unit in data["units"]:
        assert len(unit["pictures"]) == 1 and len(unit["examples"]) == 2
        picture = unit["pictures"][0]
        assert (out / picture["image"]).is_file()
        assert picture["multiple"] == pytest.approx(picture["activation"] / unit["best_real"])
    html = (out / "atlas.html").read_text()
    assert html.count("class='unit'") == 3 and " src=" not in html.split("<main>")[1].split("<script")[0]  # lazy
    index_files = sorted((out / "examples").glob("*.pt"))
    stamp = index_files[0].stat().st_mtime_ns
    code, printed = run_cli(*argv)
    assert code == 0 and "0 cells run now, 2 of 2 done" in printed.err  # resumed: nothing fitted again
    assert index_files[0].stat().st_mtime_ns == stamp  # the examples' index was read, not built again


def test_invert_atlas_refuses_a_unit_the_layer_does_not_have_before_any_work(run_cli, tmp_path):
    code, printed = run_cli("atlas", "--layer", LAYER, "--units", "0,24", "--out", str(tmp_path / "a"))
    assert code == 2 and "24 is out of range" in printed.err and len(printed.err.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists()


def test_an_atlas_study_spec_runs_to_its_page(photos, tmp_path):
    from invert import studies
    from test_studies import run_to_report

    out = run_to_report(tmp_path, f'task = "atlas"\nlayers = ["{LAYER}"]\nchannels = [4, 5, 6]\nbatch = 3\n'
                                  f'priors = ["tv"]\nsteps = 2\nimages = ["{photos}/*.png"]\ntop = 1\n')
    assert [entry["settings"]["units"] for entry in studies.read_manifest(out).values()] == [[4, 5, 6]]
    data = json.loads((out / "atlas.json").read_text())
    assert [len(u["examples"]) for u in data["units"]] == [1, 1, 1]
    assert (out / "report.html").is_file() and (out / "atlas.html").is_file()


@pytest.mark.parametrize("line, message", [
    ('channels = [0, 24]', "channels[1] = 24 is out of range"),
    ('channels = [0]\nbatch = 0', "batch = 0"),
    ('channels = [0]\nlayers = ["blocks.1", "blocks.2"]', "one layer"),
])
def test_an_atlas_spec_is_checked_before_any_cell(tmp_path, line, message):
    from invert import studies

    spec_path = tmp_path / "atlas.toml"
    layers = "" if "layers" in line else f'layers = ["{LAYER}"]\n'
    spec_path.write_text(f'task = "atlas"\n{layers}priors = ["tv"]\n{line}\n')
    with pytest.raises(studies.StudyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        studies.load_spec(spec_path)


def test_an_atlas_of_classes_names_them_and_judges_them(lite0):
    from invert import atlas

    cells = [({"prior": "tv"}, {"units": [130], "activations": [5.0], "seconds": 1.0, "top1_transfer": [130],
                                "classes": True}, ["units/tv/130.png"])]
    rows = atlas.entries(cells, None, lite0.class_name)
    assert rows[0].name == "flamingo" and rows[0].pictures[0].recognized and rows[0].pictures[0].multiple is None


def test_the_page_escapes_what_it_shows(tmp_path):
    from invert import atlas, atlas_page

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "p.png")
    rows = [atlas.Unit(1, "<b>x</b>", [atlas.Picture("tv", "p.png", 1.0, None, 0.1)])]
    html = atlas_page.write(tmp_path, rows, {}, {"model": "<script>"}).read_text()
    assert "<b>x</b>" not in html and "<script>" not in html.split("<style>")[0]


@pytest.mark.slow
def test_an_atlas_can_show_each_unit_s_top_photo_accentuated(tmp_path):
    """`accentuate`: a cell per unit grown from the photo that drives it most, shown as a column of its own."""
    import invert

    atlas = invert.layer_atlas("efficientnet_lite0", "blocks.2", [0, 1], ["fourier"], steps=2, batch=2,
                               images=["skimage:coffee", "skimage:chelsea", "skimage:astronaut"], top=2,
                               out=tmp_path / "a", accentuate=True)
    data = json.loads(atlas.json.read_text())
    for unit in data["units"]:
        columns = {p["prior"]: p for p in unit["pictures"]}
        assert set(columns) == {"fourier", "fourier from its top photo"}
        assert (tmp_path / "a" / columns["fourier from its top photo"]["image"]).is_file()
    settings = [s for s, _, _ in invert.studies.finished_cells(tmp_path / "a") if "from_image" in s]
    assert sorted(s["units"][0] for s in settings) == [0, 1]
    assert all(s["from_image"] == data["units"][s["units"][0]]["examples"][0]["image"] for s in settings)
    again = invert.layer_atlas("efficientnet_lite0", "blocks.2", [0, 1], ["fourier"], steps=2, batch=2,
                               images=["skimage:coffee", "skimage:chelsea", "skimage:astronaut"], top=2,
                               out=tmp_path / "a", accentuate=True)
    assert len(invert.studies.finished_cells(again.folder)) == 3  # a rerun adds nothing: the keys are stable
