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

from invert import cli, codec, files, provenance, report
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
            "truncated": tmp_path / "truncated.png", "pth": tmp_path / "weights.pth", "grey": tmp_path / "grey.png"}
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
    Image.fromarray(np.full((64, 64), 150, np.uint8)).save(made["grey"])
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
    ("maximize --layer blocks.1 --direction 99=1 --out {out}", "--direction: channel 99 is out of range"),
    ("maximize --direction 3=0 --out {out}", "every weight is 0"),
    ("maximize --direction 3=1,3=2 --out {out}", "each channel (0 or more) once"),
    ("maximize --layer blocks.1 --direction 3=1 --position 1 1 --out {out}", "--position is for --channel or --class"),
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
    ("maximize --class 1 --weights {pth} --out {out}", "--weights: cannot read weights file"),
    ("maximize --class 1 --weights {photo} --out {out}", "it is a PNG image, not a checkpoint"),
    ("maximize --layer nonexistent --channel 0 --out {out}", "unknown layer"),
    ("restore denoise skimage:lbp_frontal_face_cascade_filename --out {out}", "unknown sample image"),
    ("restore denoise skimage:stereo_motorcycle --out {out}", "unknown sample image"),
    ("restore denoise skimage:brain --out {out}", "unknown sample image"),
    ("restore denoise skimage:download_all --out {out}", "unknown sample image"),
    ("curves {photo} --crop 1 --out {out}", "--crop"),
    ("curves {tiny} --out {out}", "at least 8 pixels"),
    ("restore denoise {photo} --threads 1024 --out {out}", "--threads"),
    ("priors --size 65536 65536", "--size"),
    ("maximize --class ² --out {out}", "unknown class"),
    ("compress {photo} /proc/invert-test.ddc --steps 1", "cannot write in /proc"),
    ("restore inpaint {photo} --drop 0.999999 --out {out}", "--drop = 0.999999 leaves no pixel"),
    ("restore inpaint {photo} --mask {grey} --out {out}", "mostly grey"),
    ("restore sr {photo} --factor 2 --mask {black} --out {out}", "--mask is for inpaint; leave it out for sr"),
    ("restore denoise {photo} --drop 0.5 --out {out}", "--drop is for inpaint; leave it out for denoise"),
]


@pytest.mark.slow
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


@pytest.mark.slow
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
    provenance.write_json({"psnr": float("inf"), "history": [{"loss": float("nan")}], "notes": ["kept"]}, path)
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
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # as the command line sets it
    try:
        with pytest.raises(KeyboardInterrupt):
            with files.interrupts_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_interrupt_during_start_up_is_one_line(run_cli, monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    code, (_, err) = run_cli("restore", "denoise")
    assert code == 130 and err.strip().splitlines() == ["invert: interrupted before there was a result to keep"]


def _until(stream_fd: int, text: bytes, seconds: float = 300) -> bytes:
    """What `stream_fd` says until it has said `text` (or ends, or `seconds` pass): load-independent waiting."""
    import select

    seen, deadline = b"", time.monotonic() + seconds
    while text not in seen and time.monotonic() < deadline:
        if select.select([stream_fd], [], [], 1.0)[0]:
            chunk = os.read(stream_fd, 4096)
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_a_closed_terminal_keep_the_result_so_far(tmp_path, stop):
    import fcntl
    import pty
    import termios

    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # a hang-up comes from a terminal: there the progress bar shows the first step; in a log, a line says it
    terminal, screen = pty.openpty() if stop == "SIGHUP" else (None, subprocess.PIPE)
    if terminal is not None:  # a window 120 columns wide: the bar has room
        fcntl.ioctl(screen, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "invert.cli", "restore", "denoise", "--steps", "100000",
                                "--no-auto-stop", "--crop", "32", "--out", str(out)], stderr=screen, env=env)
    try:
        said = _until(terminal if terminal is not None else process.stderr.fileno(),
                      b"1/100000" if terminal is not None else b"step 1 of 100000")
        assert b"1/100000" in said or b"step 1 of 100000" in said, said  # the fit has a result to keep
        if terminal is not None:
            os.close(terminal)  # the terminal window closes: writing to it fails from now on
        process.send_signal(getattr(signal, stop))
        err = process.communicate(timeout=120)[1]
    finally:  # a failed check leaves no fit of 100000 steps running
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    if stop == "SIGTERM":
        assert b"Traceback" not in err and b"saving the result so far" in err
    result = json.loads((out / "result.json").read_text())
    assert result["interrupted"] and result["steps_run"] >= 1
    assert (out / "restored.png").exists() and not (out / output.LOCK).exists()


def test_an_interrupt_before_the_first_step_keeps_nothing_and_says_so(run_cli, tmp_path, monkeypatch):
    from invert import engine

    monkeypatch.setattr(engine, "update_ema", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt))
    code, (_, err) = run_cli("restore", "denoise", "--steps", "5", "--crop", "16", "--quiet", "--out",
                             str(tmp_path / "r"))
    assert code == 130 and "interrupted before there was a result to keep" in err and "internal" not in err
    assert not (tmp_path / "r").exists()


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


# --- the second sweep (issue 30): results are never lost or mixed up ----------------------------------------

STUDY = 'task = "restore"\nimages = ["skimage:camera"]\npriors = ["tv", "pixel", "tv"]\nseeds = [0, 1, 2]\n' \
        'steps = 2\ncrop = 16\n'


def test_a_later_cell_failing_keeps_the_cells_that_finished(run_cli, tmp_path, monkeypatch):
    from invert import studies

    real, calls = studies.runner.run_cell, []

    def third_fails(settings, folder):
        calls.append(settings)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(settings, folder)

    monkeypatch.setattr(studies.runner, "run_cell", third_fails)
    (tmp_path / "s.toml").write_text(STUDY)
    out = tmp_path / "study"
    code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
    assert code != 0 and len(studies.read_manifest(out)) == 2  # the two finished cells are still there
    monkeypatch.setattr(studies.runner, "run_cell", real)
    code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
    assert code == 0 and "4 cells run now, 6 of 6 done" in err  # resumed: only the missing ones ran


def test_a_cell_cut_by_ctrl_c_is_marked_cut_and_the_study_stops(tmp_path, monkeypatch):
    from invert import studies

    real = studies.runner.run_cell

    def cut_second(settings, folder):
        record = real(settings, folder)
        return {**record, "interrupted": settings["seed"] == 1}

    monkeypatch.setattr(studies.runner, "run_cell", cut_second)
    (tmp_path / "s.toml").write_text(STUDY)
    out = tmp_path / "study"
    out.mkdir()
    ran, total, interrupted = studies.run_study(studies.load_spec(tmp_path / "s.toml"), out)
    assert (ran, total, interrupted) == (1, 6, True)  # stopped at the cut cell, which is not counted as done
    statuses = [json.loads(line)["status"] for line in (out / studies.MANIFEST).read_text().splitlines()]
    assert statuses == ["done", "cut"] and len(studies.read_manifest(out)) == 1


def test_an_interrupted_study_says_so_in_its_report_until_it_is_finished(run_cli, tmp_path, monkeypatch):
    from invert import studies

    real = studies.runner.run_cell
    monkeypatch.setattr(studies.runner, "run_cell", lambda settings, folder: {
        **real(settings, folder), "interrupted": settings["seed"] == 1})
    (tmp_path / "s.toml").write_text(STUDY)
    out = tmp_path / "study"
    code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
    assert code == 130 and "interrupted" in err
    assert "INCOMPLETE: 1 of the spec's 6 cells are done" in (out / "report.md").read_text()
    assert "INCOMPLETE" in (out / "report.html").read_text()
    monkeypatch.setattr(studies.runner, "run_cell", real)
    code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
    assert code == 0 and "INCOMPLETE" not in (out / "report.md").read_text()


def test_an_interrupted_grid_shows_the_cut_and_the_missing_pictures(run_cli, tmp_path, monkeypatch):
    from invert import preimages

    drawn = {}
    monkeypatch.setattr(report, "grid_rows", lambda rows, path, *args, **kwargs: drawn.update(rows=rows, **kwargs))
    real = preimages.maximize

    def cut_first(judges, layer, channel, name, **settings):
        image, record, fit = real(judges, layer, channel, name, **settings)
        fit.interrupted = True  # as Ctrl-C leaves it: the best so far
        return image, record, fit

    monkeypatch.setattr(preimages, "maximize", cut_first)
    code, (_, err) = run_cli("maximize", "--class", "1", "--prior", "tv,pixel", "--steps", "3", "--no-transfer",
                             "--quiet", "--out", str(tmp_path / "m"))
    assert code == 130, err
    assert drawn["headline"] == "INTERRUPTED: 1 of 2 pictures (the last cut short); not a finished run"
    (cut, made), (missing, nothing) = drawn["rows"][0]
    assert cut.startswith("CUT at step 3 of 3") and made is not None and (missing, nothing) == ("pixel", None)


def test_a_grid_draws_a_picture_not_made_and_its_headline(tmp_path):
    report.grid_rows([[("made", torch.rand(1, 3, 8, 8)), ("missing", None)]], tmp_path / "g.png",
                     headline="INTERRUPTED: 1 of 2 pictures")
    assert Image.open(tmp_path / "g.png").size[1] > 100


def test_a_study_killed_before_its_first_cell_resumes(run_cli, tmp_path):
    from invert import studies

    (tmp_path / "s.toml").write_text(STUDY)
    out = tmp_path / "study"
    (out / "cells" / "abc").mkdir(parents=True)  # what a killed worker left
    (out / studies.MANIFEST).touch()  # written when the study started
    code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
    assert code == 0 and "6 of 6 done" in err


def test_an_edited_spec_is_said_and_kept_apart_in_the_report(run_cli, tmp_path):
    from invert import studies

    out = tmp_path / "study"
    for steps in (1, 2):
        (tmp_path / "s.toml").write_text(STUDY.replace("steps = 2", f"steps = {steps}").replace(
            'priors = ["tv", "pixel", "tv"]', 'priors = ["tv"]').replace("seeds = [0, 1, 2]", "seeds = [0]"))
        code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
        assert code == 0, err
    assert "holds cells of another spec (it differed in steps)" in err
    rows = studies.study_table([(s, r) for s, r, _ in studies.finished_cells(out)])
    assert sorted(row["row"] for row in rows) == ["denoise steps=1", "denoise steps=2"]


def test_damaged_manifest_lines_are_skipped_with_a_line_each(run_cli, tmp_path):
    from invert import studies

    (tmp_path / "s.toml").write_text(STUDY.replace("seeds = [0, 1, 2]", "seeds = [0]"))
    out = tmp_path / "study"
    assert run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")[0] == 0
    with open(out / studies.MANIFEST, "ab") as f:
        f.write(b'[1, 2]\n{"status": "done"}\n\xff\xfe not utf-8\n{"key": "x", "settings": {}}\n')
    code, (_, err) = run_cli("study", "report", str(out))
    # the last line is skipped without a word: it is what a kill cuts short
    assert code == 0 and err.count("is not a cell's entry") == 3 and "report.html" in err
    key = next(iter(studies.read_manifest(out)))
    (out / "cells" / key / "record.json").write_text('{"settings": ')  # cut short
    code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
    assert code == 0 and "record.json is missing or damaged" in err and "1 cells run now" in err
    for damage in ('["not", "a", "record"]', '{"record": 5}', None):  # JSON, but not a cell's; a lost image
        if damage is None:
            (out / "cells" / key / "image.png").unlink()
        else:
            (out / "cells" / key / "record.json").write_text(damage)
        code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
        assert code == 0 and "its cell runs again" in err and "1 cells run now" in err, (damage, err)


def test_an_output_never_replaces_the_runs_own_input(run_cli, files_at, tmp_path):
    out = Path(files_at["out"])
    out.mkdir()
    inside = out / "restored.png"
    inside.write_bytes(Path(files_at["photo"]).read_bytes())
    code, (_, err) = run_cli("restore", "denoise", str(inside), "--out", str(out), "--overwrite")
    assert code == 2 and "is inside the output folder" in err
    assert inside.read_bytes() == Path(files_at["photo"]).read_bytes()
    code, (_, err) = run_cli("compress", files_at["photo"], files_at["photo"], "--overwrite")
    assert code == 2 and "is the output" in err and Path(files_at["photo"]).read_bytes()[:4] == b"\x89PNG"


def test_a_file_output_in_use_by_a_live_run_is_refused(run_cli, files_at, tmp_path):
    target = tmp_path / "x.ddc"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f".x.ddc{output.LOCK}").write_text(str(sleeper.pid))
        code, (_, err) = run_cli("compress", files_at["photo"], str(target), "--steps", "1")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert code == 2 and f"in use by another run (process {sleeper.pid})" in err and not target.exists()


def test_a_damaged_or_nan_compressed_file_is_refused(run_cli, files_at, tmp_path):
    blob = bytearray(Path(files_at["ddc"]).read_bytes())
    flipped = tmp_path / "flipped.ddc"
    flipped.write_bytes(bytes(blob[:-8]) + bytes(b ^ 0xFF for b in blob[-8:]))
    code, (_, err) = run_cli("decompress", str(flipped), str(tmp_path / "a.png"))
    assert code == 2 and "checksum" in err and not (tmp_path / "a.png").exists()
    (length,) = struct.unpack("<I", blob[8:12])
    header = json.loads(blob[12:12 + length])
    del header["crc32"]  # as files written before the checksum
    head = json.dumps(header).encode()
    weights = np.frombuffer(bytes(blob[12 + length:]), dtype=codec.DTYPES[header["precision"]]).copy()
    weights[0] = np.nan
    nan_file = tmp_path / "nan.ddc"
    nan_file.write_bytes(codec.MAGIC + struct.pack("<I", len(head)) + head + weights.tobytes())
    code, (_, err) = run_cli("decompress", str(nan_file), str(tmp_path / "b.png"))
    assert code == 2 and "NaN" in err


def test_a_hand_made_maco_spectrum_cache_is_not_used(tmp_path, monkeypatch):
    from invert.priors import maco

    monkeypatch.setenv("INVERT_CACHE", str(tmp_path))
    maco.natural_spectrum.cache_clear()
    torch.save(torch.full((3, 16, 9), float("nan")), tmp_path / f"maco_spectrum_v{maco.SPECTRUM_VERSION}_16x16.pt")
    spectrum = maco.natural_spectrum(16, 16)
    maco.natural_spectrum.cache_clear()
    assert spectrum.shape == (3, 16, 9) and torch.isfinite(spectrum).all()


def test_a_tasks_help_shows_its_own_options_only(run_cli):
    code, (out, _) = run_cli("restore", "sr", "--help")
    assert code == 0 and "--factor" in out and "--mask" not in out and "--add-noise" not in out
    assert "invert restore sr photo.png" in out and "invert restore inpaint" not in out
    code, (out, _) = run_cli("restore", "--help")
    assert code == 0 and all(flag in out for flag in ("--factor", "--mask", "--add-noise", "--blur"))


def test_a_pickled_model_is_refused_with_the_state_dict_fix(run_cli, tmp_path):
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "model.pth")
    code, (_, err) = run_cli("maximize", "--class", "1", "--weights", str(tmp_path / "model.pth"),
                             "--out", str(tmp_path / "o"))
    assert code == 2 and "state_dict()" in err and "weights_only" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name, content, fragment", [
    ("weights.pth", "safetensors", "a safetensors file with another name; name it .safetensors"),
    ("weights.safetensors", "torch", "a PyTorch checkpoint named .safetensors; name it .pth"),
])
def test_a_checkpoint_named_as_the_other_format_says_so(run_cli, tmp_path, name, content, fragment):
    state = {"w": torch.zeros(2)}
    if content == "torch":
        torch.save(state, tmp_path / name)
    else:
        from safetensors.torch import save_file

        save_file(state, tmp_path / name)
    code, (_, err) = run_cli("maximize", "--class", "1", "--weights", str(tmp_path / name), "--out", str(tmp_path / "o"))
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err


def test_a_study_folder_from_before_a_new_setting_is_not_another_spec(run_cli, tmp_path):
    from invert import studies

    (tmp_path / "s.toml").write_text(STUDY.replace("seeds = [0, 1, 2]", "seeds = [0]"))
    out = tmp_path / "study"
    assert run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")[0] == 0
    old = json.loads((out / studies.SPEC_FILE).read_text())
    del old["diversity"]  # as written before the setting existed
    (out / studies.SPEC_FILE).write_text(json.dumps(old))
    code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(out), "--quiet")
    assert code == 0 and "another spec" not in err, err


def test_a_study_run_from_python_says_incomplete_too(tmp_path, monkeypatch):
    from invert import studies

    (tmp_path / "s.toml").write_text(STUDY)
    out = tmp_path / "study"
    out.mkdir()
    real = studies.runner.run_cell
    monkeypatch.setattr(studies.runner, "run_cell", lambda settings, folder: {
        **real(settings, folder), "interrupted": settings["seed"] == 1})
    studies.run_study(studies.load_spec(tmp_path / "s.toml"), out)
    assert "INCOMPLETE: 1 of the spec's 6 cells" in studies.write_report(out)[0].read_text()


def test_silencing_a_terminal_leaves_closed_streams_alone():
    script = ("import os; from invert import files; os.close(1); files.silence_terminal(); "
              "import sys; print('done', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr.strip() == "done", done.stderr


@pytest.mark.slow
def test_a_closed_pipe_ends_the_listing_quietly():
    done = subprocess.run(f"{sys.executable} -c 'from invert.cli import main; raise SystemExit(main())' priors | head -1",
                          shell=True, capture_output=True, text=True)
    assert done.stdout.strip() and "Error" not in done.stderr and "internal error" not in done.stderr


def test_a_spec_device_nothing_fits_on_is_refused(tmp_path):
    from invert import studies

    (tmp_path / "s.toml").write_text(STUDY + 'device = "meta"\n')
    with pytest.raises(studies.StudyError, match="device"):
        studies.load_spec(tmp_path / "s.toml")


@pytest.mark.parametrize("line, message", [
    ("seeds = []", "seeds = []"), ('transfer = "no"', "transfer = 'no'"),
    ("crop = 3", "crop is a key of restore studies; leave it out of a preimage study"),
    ("noise = 25", "noise is a key of restore studies"),
    ("seeds = [-1]", "seeds[0] = -1; give whole numbers from 0 to 2**63 - 1"),
    ("seeds = [99999999999999999999]", "give whole numbers from 0"),
    ("seeds = [1e30]", "seeds[0] = 1e+30 is not a whole number"),
])
def test_spec_values_that_read_as_something_else_are_refused(tmp_path, line, message):
    from invert import studies

    base = 'task = "preimage"\nimages = ["skimage:chelsea"]\nlayers = ["blocks.1"]\npriors = ["tv"]\n'
    (tmp_path / "s.toml").write_text(base + line + "\n")
    with pytest.raises(studies.StudyError) as refused:
        studies.load_spec(tmp_path / "s.toml")
    assert message in str(refused.value)


def test_a_grid_multiplied_out_by_mistake_is_refused_before_any_cell(run_cli, tmp_path):
    from invert import studies

    (tmp_path / "s.toml").write_text(STUDY.replace("seeds = [0, 1, 2]", f"seeds = {list(range(50_001))}"))
    code, (_, err) = run_cli("study", "run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o"))
    assert code == 2 and "100,002 cells (1 of images, layers and units × 2 priors × 50,001 seeds)" in err, err
    assert f"at most {studies.MAX_CELLS:,}" in err and not (tmp_path / "o").exists()


def test_an_interrupted_compression_keeps_its_file_and_says_so(run_cli, files_at, tmp_path, monkeypatch):
    from dataclasses import replace

    real = codec.fit
    monkeypatch.setattr(codec, "fit", lambda *args, **kwargs: replace(real(*args, **kwargs), interrupted=True))
    code, (_, err) = run_cli("compress", files_at["photo"], str(tmp_path / "x.ddc"), "--steps", "3", "--quiet")
    assert code == 130 and "interrupted" in err and (tmp_path / "x.ddc").is_file()
