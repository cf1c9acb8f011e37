"""Hostile and odd input over every command: each is refused in one line with exit 2 (no traceback, nothing
left behind), or succeeds sensibly. No fit runs longer than a few steps."""
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invert import cli, codec, files, report
from invert.commands import output
from invert.images import load_image
from invert.physics import Downsample


@pytest.fixture
def files_at(tmp_path, photo):
    """The hostile files the table refers to as {name}."""
    from invert.images import save_image

    made = {"photo": tmp_path / "photo.png", "text": tmp_path / "text.png", "folder": tmp_path / "folder",
            "black": tmp_path / "black.png", "white": tmp_path / "white.png", "small": tmp_path / "small.png",
            "nonempty": tmp_path / "nonempty", "ddc": tmp_path / "ok.ddc", "notddc": tmp_path / "not.ddc",
            "existing": tmp_path / "existing.ddc", "out": tmp_path / "out", "nowhere": tmp_path / "no" / "such",
            "file": tmp_path / "plain.txt", "tiny": tmp_path / "tiny.png", "empty": tmp_path / "empty.png",
            "truncated": tmp_path / "truncated.png", "pth": tmp_path / "weights.pth"}
    save_image(photo, made["photo"])
    made["text"].write_text("not an image")
    made["folder"].mkdir()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(made["black"])
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(made["white"])
    Image.fromarray(np.full((12, 10), 255, np.uint8)).save(made["small"])
    made["nonempty"].mkdir()
    (made["nonempty"] / "precious.txt").write_text("keep")
    made["notddc"].write_bytes(b"hello world")
    made["existing"].write_bytes(b"mine")
    made["file"].write_text("x")
    _write_ddc(made["ddc"], photo)
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(made["tiny"])
    made["empty"].write_bytes(b"")
    made["truncated"].write_bytes(made["photo"].read_bytes()[:200])
    made["pth"].write_text("not a checkpoint")
    return {k: str(v) for k, v in made.items()}


def _write_ddc(path, photo):
    from invert import priors

    prior = priors.create("deep_decoder", channels=3, size=(64, 64), width=4, depth=3)
    path.write_bytes(codec.encode(prior, prior.architecture, 0, "float16"))


def _crafted(path: Path, **changes) -> str:
    """A copy of a valid .ddc whose header says something else."""
    blob = path.read_bytes()
    (length,) = struct.unpack("<I", blob[8:12])
    header = json.loads(blob[12:12 + length])
    for key, value in changes.items():
        if key in ("depth", "width"):
            header["architecture"][key] = value
        else:
            header[key] = value
    head = json.dumps(header).encode()
    name = path.with_name("crafted_" + "_".join(changes) + ".ddc")
    name.write_bytes(codec.MAGIC + struct.pack("<I", len(head)) + head + blob[12 + length:])
    return str(name)


# (argv with {name} placeholders, a fragment the one error line must hold)
REFUSED = [
    ("restore denoise {photo} --steps 0 --out {out}", "--steps"),
    ("restore denoise {photo} --steps -5 --out {out}", "--steps"),
    ("restore denoise {photo} --steps many --out {out}", "--steps"),
    ("restore denoise {photo} --device nonsense --out {out}", "--device"),
    ("restore denoise {photo} --device mps --out {out}", "mps"),
    ("restore denoise {photo} --device cuda:7 --out {out}", "--device"),
    ("restore denoise {photo} --lr 0 --out {out}", "--lr"),
    ("restore denoise {photo} --lr nan --out {out}", "--lr"),
    ("restore denoise {photo} --seed -1 --out {out}", "--seed"),
    ("restore denoise {photo} --crop 0 --out {out}", "--crop"),
    ("restore denoise {photo} --add-noise inf --out {out}", "--add-noise"),
    ("restore denoise {photo} --add-noise -3 --out {out}", "--add-noise"),
    ("restore denoise {photo} --add-noise 1e400 --out {out}", "--add-noise"),
    ("restore denoise {photo} --add-noise camera:0.5 --out {out}", "camera level"),
    ("restore denoise {photo} --add-noise camera:lots --out {out}", "not a number"),
    ("restore denoise {photo} --add-noise camera:0.001:jpeg0 --out {out}", "jpeg0: the JPEG quality Q of jpegQ"),
    ("restore denoise {photo} --add-noise camera:0.001:jpeg101 --out {out}", "jpeg101"),
    ("restore denoise {photo} --add-noise camera:0.001:90 --out {out}", "jpeg"),
    ("restore denoise {photo} --add-noise gauss --out {out}", "names no noise"),
    ("restore denoise {black} --add-noise camera --out {out}", "needs a colour image"),
    ("restore denoise {photo} --noise-level 0 --out {out}", "--noise-level"),
    ("restore denoise {photo} --noise-level -2 --out {out}", "--noise-level"),
    ("restore denoise {photo} --noise-level nan --out {out}", "--noise-level"),
    ("restore denoise {photo} --noise-level inf --out {out}", "--noise-level"),
    ("restore sr {photo} --factor 2 --noise-level 5 --out {out}", "--noise-level is for denoise"),
    ("restore sr {photo} --factor 1 --out {out}", "--factor"),
    ("restore sr {photo} --factor 2.5 --out {out}", "--factor"),
    ("restore sr {photo} --out {out}", "--factor"),
    ("restore sr {photo} --factor 100000 --out {out}", "GiB"),
    ("restore sr {photo} --factor 3 --from-hr --out {out}", "does not divide"),
    ("restore sr --factor 1000 --out {out}", "does not divide"),
    ("restore inpaint {photo} --drop 1.5 --out {out}", "--drop"),
    ("restore inpaint {photo} --drop 0 --out {out}", "--drop"),
    ("restore inpaint {photo} --mask {black} --out {out}", "no pixel as known"),
    ("restore inpaint {photo} --mask {white} --out {out}", "nothing to inpaint"),
    ("restore inpaint {photo} --mask {small} --out {out}", "10×12"),
    ("restore inpaint {photo} --mask {photo} --drop 0.3 --out {out}", "exactly one"),
    ("restore inpaint {photo} --out {out}", "exactly one"),
    ("restore denoise {nowhere}.png --out {out}", "not found"),
    ("restore denoise {folder} --out {out}", "folder"),
    ("restore denoise {text} --out {out}", "cannot read image"),
    ("restore denoise skimage:nonsense --out {out}", "unknown sample image"),
    ("restore denoise {photo} --out {file}", "is a file"),
    ("restore denoise {photo} --out {nonempty}", "already exists"),
    ("restore denoise {photo} --out {file}/sub", "cannot create output folder"),
    ("restore denoise {photo} --prior nope --out {out}", "unknown prior"),
    ("restore denoise {photo} --preset nope --out {out}", "no preset"),
    ("restore dehaze {photo} --out {out}", "invalid choice"),
    ("restore deblur {photo} --out {out}", "give exactly one"),
    ("restore deblur {photo} --blur 2 --drop 0.5 --out {out}", "--drop is for inpaint"),
    ("compress {photo} {out}.ddc --width 0", "--width"),
    ("compress {photo} {out}.ddc --width 100000", "--width"),
    ("compress {photo} {out}.ddc --depth 30", "--depth must be from 1 to 6"),
    ("compress {photo} {out}.ddc --steps 0", "--steps"),
    ("compress {photo} {existing}", "already exists"),
    ("compress {photo} {folder}", "is a folder"),
    ("compress {photo} {file}/x.ddc", "cannot create folder"),
    ("decompress {nowhere}.ddc {out}.png", "cannot read"),
    ("decompress {notddc} {out}.png", "not an invert compressed image"),
    ("decompress {ddc} {out}.ddc", "not an image format"),
    ("decompress {ddc} {existing}.png --overwrite", "damaged"),  # placeholder replaced in the test: crafted depth
    ("preimage --steps 0 --out {out}", "--steps"),
    ("preimage --restarts -1 --out {out}", "--restarts"),
    ("preimage --tv -1 --out {out}", "--tv"),
    ("preimage --statistics inf --out {out}", "--statistics"),
    ("preimage --device gpu --out {out}", "--device"),
    ("maximize --class 5000 --out {out}", "out of range"),
    ("maximize --class 1 --position 0 0 --out {out}", "no spatial positions"),
    ("maximize --class notaclass --out {out}", "unknown class"),
    ("maximize --channel -1 --out {out}", "--channel"),
    ("maximize --out {out}", "--channel"),
    ("curves {photo} --crop 0 --out {out}", "--crop"),
    ("curves {photo} --sigma 0 --out {out}", "--sigma"),
    ("curves {photo} --steps 0 --out {out}", "--steps"),
    ("curves {photo} --level 0.5 --out {out}", "--level"),
    ("priors --size 0 5", "--size"),
    ("priors --channels 2", "--channels"),
    ("", "COMMAND"),
    ("restore denoise {tiny} --out {out}", "at least 8 pixels"),
    ("restore denoise {photo} --crop 2 --out {out}", "at least 8 pixels"),
    ("restore sr {tiny} --factor 3 --out {out}", "at least 8 pixels"),
    ("restore denoise {empty} --out {out}", "cannot read image"),
    ("restore denoise {truncated} --out {out}", "cannot read image"),
    ("preimage --layers ,,, --out {out}", "--layers"),
    ("preimage --priors dip,dep --out {out}", "did you mean dip"),
    ("compare --priors , --out {out}", "--priors"),
    ("maximize --class 1 --weights {pth} --out {out}", "--weights"),
    ("maximize --layer nonexistent --channel 0 --out {out}", "unknown layer"),
]


@pytest.mark.parametrize("argv, fragment", REFUSED)
def test_hostile_input_is_refused_in_one_line(run_cli, files_at, tmp_path, argv, fragment):
    if fragment == "damaged":  # a crafted header that would build a decoder 2^30 pixels a side
        argv = f"decompress {_crafted(Path(files_at['ddc']), depth=30)} {{out}}.png"
    code, (_, err) = run_cli(*argv.format(**files_at).split())
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and fragment in lines[0], err
    assert not Path(files_at["out"]).exists() and not Path(files_at["out"] + ".ddc").exists()
    assert (Path(files_at["nonempty"]) / "precious.txt").read_text() == "keep"
    assert Path(files_at["existing"]).read_bytes() == b"mine"


@pytest.mark.parametrize("changes, fragment", [
    ({"size": [20000, 20000]}, "16384 pixels a side"),
    ({"width": 5000}, "width"),
    ({"shapes": [[10**9]]}, "bytes of weights"),
    ({"precision": "float64"}, "precision"),
    ({"seed": "x"}, "damaged"),
])
def test_crafted_compressed_files_are_bounded_before_anything_is_built(run_cli, files_at, changes, fragment):
    code, (_, err) = run_cli("decompress", _crafted(Path(files_at["ddc"]), **changes), files_at["out"] + ".png")
    assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err, err


def test_decoding_is_refused_when_it_would_not_fit_in_memory(run_cli, files_at, monkeypatch):
    from invert import memory

    monkeypatch.setattr(memory, "available_bytes", lambda device: 1 << 16)
    code, (_, err) = run_cli("decompress", files_at["ddc"], files_at["out"] + ".png")
    assert code == 2 and "GiB" in err and len(err.strip().splitlines()) == 1, err
    assert not Path(files_at["out"] + ".png").exists()


def test_truncated_compressed_file(run_cli, files_at, tmp_path):
    short = tmp_path / "short.ddc"
    short.write_bytes(Path(files_at["ddc"]).read_bytes()[:30])
    code, (_, err) = run_cli("decompress", str(short), files_at["out"] + ".png")
    assert code == 2 and "damaged" in err and len(err.strip().splitlines()) == 1


def test_decompress_creates_a_missing_folder(run_cli, files_at):
    target = files_at["nowhere"] + "/image.png"
    code, (_, err) = run_cli("decompress", files_at["ddc"], target)
    assert code == 0, err
    assert Image.open(target).size == (64, 64)


def test_an_odd_super_resolution_factor_works(run_cli, files_at):
    code, (_, err) = run_cli("restore", "sr", files_at["photo"], "--factor", "7", "--steps", "2", "--quiet",
                                 "--out", files_at["out"])
    assert code == 0, err
    assert Image.open(Path(files_at["out"]) / "restored.png").size == (448, 448)


@pytest.mark.parametrize("factor, size", [(3, 63), (5, 65), (7, 70), (2, 64)])
def test_downsampling_gives_exactly_the_size_over_the_factor(factor, size):
    assert Downsample(factor)(torch.rand(1, 3, size, size)).shape[-1] == size // factor


def test_a_run_that_fails_after_claiming_its_folder_leaves_nothing(run_cli, files_at, monkeypatch):
    from invert import restoration as restore_lib

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(restore_lib, "fit", broken)
    code, (_, err) = run_cli("restore", "denoise", files_at["photo"], "--add-noise", "20", "--steps", "2",
                                 "--out", files_at["out"])
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "internal error: RuntimeError: disk on fire" in err and "--debug" in err
    assert not Path(files_at["out"]).exists()


def test_a_folder_in_use_by_a_live_run_is_refused(run_cli, files_at):
    out = Path(files_at["out"])
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / output.LOCK).write_text(str(sleeper.pid))
        code, (_, err) = run_cli("restore", "denoise", files_at["photo"], "--out", str(out), "--overwrite")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert code == 2 and f"in use by another run (process {sleeper.pid})" in err
    assert (out / output.LOCK).exists()  # the other run's lock is not ours to remove


def test_a_dead_runs_lock_is_taken_over(run_cli, files_at):
    out = Path(files_at["out"])
    out.mkdir()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / output.LOCK).write_text(finished.stdout.strip())
    code, (_, err) = run_cli("restore", "denoise", files_at["photo"], "--add-noise", "20", "--steps", "2",
                                 "--quiet", "--prior", "pixel", "--out", str(out))
    assert code == 0, err
    assert (out / "restored.png").exists() and not (out / output.LOCK).exists()


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :10] = 255  # the left quarter white
    image = Image.fromarray(a)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    path = tmp_path / "phone.jpg"
    image.save(path, exif=exif, quality=95)
    upright, notes = load_image(path)
    assert upright.shape[-2:] == (40, 20)
    assert upright[0, :, :10].mean() > 0.9 and upright[0, :, -10:].mean() < 0.1  # the white band now on top
    assert any("EXIF" in n for n in notes)


def test_json_is_strict(tmp_path):
    path = tmp_path / "r.json"
    report.write_json({"psnr": float("inf"), "history": [{"loss": float("nan")}], "notes": ["kept"]}, path)
    data = json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in strict JSON"))
    assert data["psnr"] is None and data["history"][0]["loss"] is None
    assert data["notes"][0] == "kept" and "psnr" in data["notes"][1] and "history[0].loss" in data["notes"][1]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with files.atomic(path) as temporary:
            temporary.write_text("half")
            raise RuntimeError
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_an_interrupt_while_saving_waits_for_the_save():
    with files.interrupts_held(deliver=False) as held:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        saved = True
    assert saved and held == [signal.SIGINT]
    with pytest.raises(KeyboardInterrupt):
        with files.interrupts_held():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)


def test_an_interrupt_during_start_up_is_one_line(run_cli, monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    code, (_, err) = run_cli("restore", "denoise")
    assert code == 130 and err.strip().splitlines() == ["invert: interrupted before there was a result to keep"]


def test_sigterm_keeps_the_result_so_far(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "invert.cli", "restore", "denoise", "--steps", "100000",
                                "--no-auto-stop", "--quiet", "--crop", "32", "--out", str(out)],
                               stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (out / output.LOCK).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # into the fit
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=120)[1]
    assert process.returncode == 130, err
    assert "Traceback" not in err and "saving the result so far" in err
    result = json.loads((out / "result.json").read_text())
    assert result["interrupted"] and result["steps_run"] >= 1
    assert (out / "restored.png").exists() and not (out / output.LOCK).exists()


def test_nan_weights_are_blamed_on_the_weights_file(run_cli, tmp_path):
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = model.state_dict()
    state["conv_stem.weight"][0, 0, 0, 0] = float("nan")
    path = tmp_path / "nan.pth"
    torch.save(state, path)
    code, (_, err) = run_cli("maximize", "--model", "tf_efficientnet_lite0", "--weights", str(path),
                                 "--class", "1", "--out", str(tmp_path / "o"))
    assert code == 2 and "NaN or infinite" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_ctrl_c_between_cells_keeps_the_cells_done_and_before_any_goes_on():
    from types import SimpleNamespace

    from invert.preimages import fit_cells

    def fit_key(key):
        if key == "c":
            raise KeyboardInterrupt  # e.g. while the judges score a cell, outside the fit
        return torch.zeros(1), {"key": key}, SimpleNamespace(interrupted=False)

    cells, interrupted = fit_cells(["a", "b", "c", "d"], fit_key)
    assert interrupted and [c.key for c in cells] == ["a", "b"]
    cells, interrupted = fit_cells(["a", "b"], fit_key)
    assert not interrupted and len(cells) == 2
    with pytest.raises(KeyboardInterrupt):
        fit_cells(["c", "a"], fit_key)
