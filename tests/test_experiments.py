import json

import numpy as np
import pytest
from PIL import Image

from invert import curves


@pytest.mark.slow
def test_curves_small_run_writes_four_curves(run_cli, tmp_path):
    out = tmp_path / "curves"
    code, cap = run_cli("curves", "skimage:astronaut", "--crop", "32", "--steps", "30", "--out", str(out),
                        "--quiet")
    assert code == 0, cap.err
    data = json.loads((out / "curves.json").read_text())
    assert set(data) == {"schema", "natural", "noisy", "shuffled", "noise", "speed", "config"}
    assert all(len(data[k]) == 30 for k in ("natural", "noisy", "shuffled", "noise"))
    # the prior fits the natural image better than white noise within the same budget
    assert data["natural"][-1] < data["noise"][-1]
    assert (out / "curves.png").stat().st_size > 0
    speed = data["speed"]
    assert speed["level"] == pytest.approx(2 * min(data["natural"]))
    natural = speed["targets"]["natural"]
    assert natural["reached"] and natural["ratio"] == 1 and data["natural"][natural["steps"] - 1] <= speed["level"]
    assert "steps to reach loss" in cap.err


def test_fitting_speed_counts_steps_to_the_level():
    losses = {"natural": [8, 4, 2, 1], "noise": [9, 8, 7, 6], "shuffled": [8, 6, 3, 2]}
    speed = curves.fitting_speed(losses, factor=2)  # level 2: natural at step 3
    assert speed["level"] == 2
    assert speed["targets"]["natural"] == {"steps": 3, "reached": True, "ratio": 1.0}
    assert speed["targets"]["shuffled"] == {"steps": 4, "reached": True, "ratio": 1.33}
    assert speed["targets"]["noise"] == {"steps": None, "reached": False, "ratio": 1.33}  # at least the budget
    assert "noise not within the budget (>1.33×)" in curves.speed_line(speed)
    with pytest.raises(ValueError, match="at least 1"):
        curves.fitting_speed(losses, factor=0.5)


def test_compress_decompress_round_trip_is_exact(run_cli, tmp_path):
    packed, restored, reference = tmp_path / "a.ddc", tmp_path / "a.png", tmp_path / "b.png"
    code, cap = run_cli("compress", "skimage:astronaut", str(packed), "--crop", "48", "--width", "8",
                        "--steps", "40", "--quiet")
    assert code == 0, cap.err
    assert "compression factor" in cap.err
    header_len = int.from_bytes(packed.read_bytes()[8:12], "little")
    header = json.loads(packed.read_bytes()[12:12 + header_len])
    assert header["stats"]["compression_factor"] > 1  # fewer weights than image values
    assert run_cli("decompress", str(packed), str(restored))[0] == 0
    assert run_cli("decompress", str(packed), str(reference))[0] == 0
    a, b = np.asarray(Image.open(restored)), np.asarray(Image.open(reference))
    assert a.shape == (48, 48, 3) and np.array_equal(a, b)
    # and it equals what the encoder rendered after quantizing its weights (PSNR recomputed)
    from invert import metrics
    from invert.images import center_crop, load_image

    source = center_crop(load_image("skimage:astronaut")[0], 48)
    assert metrics.psnr(load_image(restored)[0], source) == pytest.approx(header["stats"]["psnr"], abs=0.05)


@pytest.mark.parametrize("content,fragment", [(b"PNG not ours", "not an invert compressed image"),
                                              (b"INVERTDD\x05\x00\x00\x00{bad", "damaged")])
def test_foreign_or_corrupt_file_is_one_line(run_cli, tmp_path, content, fragment):
    bad = tmp_path / "bad.ddc"
    bad.write_bytes(content)
    code, cap = run_cli("decompress", str(bad), str(tmp_path / "out.png"))
    assert code == 2 and fragment in cap.err and "Traceback" not in cap.err
    assert not (tmp_path / "out.png").exists()


def test_decompress_will_not_overwrite(run_cli, tmp_path):
    existing = tmp_path / "mine.png"
    existing.write_bytes(b"precious")
    code, cap = run_cli("decompress", str(tmp_path / "x.ddc"), str(existing))
    assert code == 2 and "already exists" in cap.err
    assert existing.read_bytes() == b"precious"
