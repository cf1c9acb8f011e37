"""Typed results: short reprs, save(), JSON with a schema version that reads back (and reads older records), and
the facade's names as the docs show them."""
import json
import re
from pathlib import Path

import pytest
import torch

import invert
from invert import operations, results
from invert.errors import InvertError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lite0():
    return invert.zoo.load("efficientnet_lite0")


@pytest.fixture(scope="module")
def made(lite0):
    """One result of each operation, from a few steps on tiny inputs."""
    visualization = invert.visualize(lite0, "blocks.2:3", prior="pixel", steps=2)
    preimage = invert.preimage(lite0, "skimage:coffee", "blocks.1", prior="pixel", steps=2)
    restored = invert.restore("skimage:camera", "denoise", "tv", noise="25", crop=24, steps=3)
    return {"maximize": visualization, "preimage": preimage, "restore": restored}


@pytest.mark.parametrize("kind", ["maximize", "preimage", "restore"])
def test_every_result_has_a_short_repr_and_saves_an_image_and_a_versioned_record(made, kind, tmp_path):
    result = made[kind]
    text = repr(result)
    assert len(text) < results.REPR_LIMIT and text.startswith(type(result).__name__ + "(") and "\n" not in text
    folder = result.save(tmp_path / kind)
    record = json.loads((folder / "result.json").read_text())
    assert record["schema"] == invert.SCHEMA and (folder / "image.png").is_file()
    again = type(result).from_json(record)
    assert again.to_json() == record  # nothing read is lost on the way back out
    assert result._repr_png_().startswith(b"\x89PNG")


def test_metrics_are_fields(made):
    restored, preimage, shown = made["restore"], made["preimage"], made["maximize"]
    assert restored.psnr == restored.record["psnr"] and restored.psnr_input < restored.psnr + 30
    assert preimage.feature_loss == preimage.to_json()["feature_loss"] and preimage.kept in (True, False)
    assert shown.activation == shown.to_json()["activation"] and shown.label == "blocks.2:3"


def test_a_record_of_an_earlier_version_reads_and_a_newer_one_is_refused():
    old = {"layer": "blocks.4", "prior": "dip", "preset": "preimage", "feature_loss": 0.2, "flat_feature_loss": 1.0,
           "seconds": 3.0, "a_key_of_its_own": [1, 2]}  # no schema: written before versions
    read = operations.PreImage.from_json(old)
    assert read.feature_loss == 0.2 and read.extra == {"a_key_of_its_own": [1, 2]}
    assert read.to_json()["a_key_of_its_own"] == [1, 2]
    with pytest.raises(InvertError, match="newer version of invert"):
        operations.PreImage.from_json({**old, "schema": invert.SCHEMA + 1})


@pytest.mark.slow
def test_every_json_a_study_writes_has_the_schema_version(lite0, tmp_path):
    atlas = invert.layer_atlas(lite0, "blocks.2", [0, 1], ["pixel"], steps=2, batch=2, out=tmp_path / "a",
                               images="skimage:coffee")
    for path in [atlas.json, tmp_path / "a" / "spec.json", tmp_path / "a" / "examples" / "current.json",
                 *sorted((tmp_path / "a" / "cells").glob("*/record.json"))]:
        assert json.loads(path.read_text())["schema"] == invert.SCHEMA, path
    for line in (tmp_path / "a" / "manifest.jsonl").read_text().splitlines():
        assert json.loads(line)["schema"] == invert.SCHEMA
    assert len(atlas.units) == 2 and len(repr(atlas)) < results.REPR_LIMIT


def test_a_text_of_images_is_one_path_not_its_letters(lite0, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    invert.images.save_image(torch.rand(1, 3, 40, 40), folder / "a.png")
    atlas = invert.layer_atlas(lite0, "blocks.2", [0], "pixel", images=str(folder), steps=1, batch=1,
                               out=tmp_path / "a")
    assert json.loads(atlas.json.read_text())["dataset images"] == 1


def python_names_in_docs() -> set[str]:
    """The `invert.NAME` a reader finds in the README's and docs' code (indented or fenced blocks)."""
    names = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        code = [line for line in page.read_text().splitlines() if line.startswith("    ")]
        code += re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
        for line in code:
            names.update(re.findall(r"\binvert\.([A-Za-z_]\w*)\b(?!\.(?:md|py|html|json|png)\b)", line))
    return names - {"py", "md", "html", "json", "png", "egg"}


def test_every_name_the_docs_show_is_reachable_from_a_plain_import_invert():
    missing = [name for name in sorted(python_names_in_docs()) if not hasattr(invert, name)]
    assert not missing, f"the docs show invert.{missing[0]}, which `import invert` does not give"
    assert callable(invert.layer_atlas) and invert.Restored is operations.Restored


@pytest.mark.parametrize("task", ["maximize", "restore"])
def test_a_study_folder_written_before_schema_versions_reads_reports_and_resumes(task, tmp_path):
    """tests/data/study_v0: studies written by main at c6cdce8 (no schema anywhere). This version reports them,
    reads each cell as its typed result, and a rerun of the same spec finds every cell done (keys unchanged)."""
    import shutil

    from invert import studies

    out = tmp_path / task
    shutil.copytree(ROOT / "tests" / "data" / "study_v0" / task, out)
    cells = studies.finished_cells(out)
    assert len(cells) == 2 and all("schema" not in record for _, record, _ in cells)
    report_md, _ = studies.write_report(out)
    assert "INCOMPLETE" not in report_md.read_text()
    kind = {"maximize": operations.Visualization, "restore": operations.Restored}[task]
    assert all(kind.from_json(record).seconds > 0 for _, record, _ in cells)
    ran, total, interrupted = studies.run_study(studies.load_spec(out / "spec.toml"), out)
    assert (ran, total, interrupted) == (0, 2, False)
