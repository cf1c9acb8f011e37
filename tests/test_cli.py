import json

import numpy as np
import pytest
import torch
from PIL import Image

from invert import cli, memory
from invert import restoration as restore_lib


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("invert: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_restore_denoise_writes_everything(run_cli, tmp_path, photo_file):
    out = tmp_path / "run"
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--add-noise", "25", "--steps", "6",
                        "--out", str(out), "--quiet")
    assert code == 0, err
    for name in ("restored.png", "degraded.png", "grid.png", "curves.png", "result.json"):
        assert (out / name).stat().st_size > 0
    result = json.loads((out / "result.json").read_text())
    for key in ("task", "prior", "preset", "params", "steps_run", "seconds", "seed", "psnr", "psnr_input",
                "ssim", "history", "versions", "stopped_at", "stop_reason", "output_step"):
        assert key in result
    assert result["steps_run"] == 6 and len(result["history"]) == 6
    assert result["config"]["auto_stop"] is True  # on by default for restoration
    assert 0 < result["config"]["stop_residual"] < 0.02  # denoising: the discrepancy rule, σ̂² from the input
    assert set(result["history"][0]) >= {"step", "seconds", "loss", "psnr"}
    assert set(result["versions"]) == {"python", "torch", "invert"}


def test_no_auto_stop_turns_it_off(run_cli, tmp_path, photo_file):
    out = tmp_path / "run"
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--steps", "3", "--no-auto-stop",
                        "--out", str(out), "--quiet")
    assert code == 0, err
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["auto_stop"] is False and result["stop_reason"] == "ran all steps"


def test_denoising_an_input_without_noise_falls_back_to_the_variance_rule(run_cli, tmp_path):
    flat = tmp_path / "flat.png"
    Image.new("RGB", (32, 32), (90, 90, 90)).save(flat)
    out = tmp_path / "run"
    code, (_, err) = run_cli("restore", "denoise", str(flat), "--steps", "3", "--out", str(out), "--quiet")
    assert code == 0, err
    assert json.loads((out / "result.json").read_text())["config"]["stop_residual"] is None


def test_paper_preset_denoising_stops_by_the_variance_rule(run_cli, tmp_path, photo_file):
    out = tmp_path / "run"
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--preset", "paper-denoise", "--steps", "1",
                        "--out", str(out), "--quiet")
    assert code == 0, err
    config = json.loads((out / "result.json").read_text())["config"]
    assert config["auto_stop"] is True and config["stop_residual"] is None  # its output average lags the fit


def test_restore_sr_and_inpaint_run(run_cli, tmp_path, photo_file):
    code, (_, err) = run_cli("restore", "sr", photo_file, "--factor", "4", "--from-hr", "--steps", "3",
                        "--out", str(tmp_path / "sr"), "--prior", "tv", "--quiet")
    assert code == 0, err
    result = json.loads((tmp_path / "sr" / "result.json").read_text())
    assert result["size"] == [64, 64] and "psnr_y" in result
    assert "does not stop early" in result["stop_reason"] and "auto-stop did not fire" not in err  # TV's minimum
    with Image.open(tmp_path / "sr" / "degraded.png") as low:
        assert low.size == (16, 16)
    code, (_, err) = run_cli("restore", "inpaint", photo_file, "--drop", "0.5", "--steps", "3",
                        "--out", str(tmp_path / "inp"), "--prior", "deep_decoder", "--quiet")
    assert code == 0, err
    result = json.loads((tmp_path / "inp" / "result.json").read_text())
    assert result["psnr"] > result["psnr_raw"]  # 3 steps fit nothing: the kept known half is the whole gain
    with Image.open(tmp_path / "inp" / "restored_raw.png") as raw:  # the prior's own output, beside the result
        assert raw.size == (64, 64)
    assert not (tmp_path / "sr" / "restored_raw.png").exists()


def test_missing_image(run_cli, tmp_path):
    code, (_, err) = run_cli("restore", "denoise", str(tmp_path / "nope.png"), "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "not found")


def test_unreadable_image(run_cli, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    code, (_, err) = run_cli("restore", "denoise", str(bad), "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "cannot read image")


@pytest.mark.parametrize("side", [64, 32])  # a mask of the whole image, or of the crop
def test_mask_with_crop(run_cli, tmp_path, photo_file, side):
    mask = np.full((side, side), 255, np.uint8)
    mask[side // 2 - 4: side // 2 + 4] = 0  # a stripe across the middle: inside the crop either way
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, (_, err) = run_cli("restore", "inpaint", photo_file, "--mask", str(tmp_path / "mask.png"), "--crop", "32",
                        "--steps", "2", "--prior", "tv", "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0, err
    with Image.open(tmp_path / "o" / "degraded.png") as seen:
        assert seen.size == (32, 32)
        assert np.asarray(seen)[16].max() == 0 and np.asarray(seen)[2].max() > 0  # the stripe is masked, not more


def test_mask_size_mismatch(run_cli, tmp_path, photo_file):
    mask = tmp_path / "mask.png"
    Image.fromarray(np.full((10, 12), 255, np.uint8)).save(mask)
    code, (_, err) = run_cli("restore", "inpaint", photo_file, "--mask", str(mask), "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "mask", "12×10", "64×64")


def test_unreadable_mask(run_cli, tmp_path, photo_file):
    code, (_, err) = run_cli("restore", "inpaint", photo_file, "--mask", str(tmp_path / "missing.png"),
                        "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "not found")


def test_factor_that_does_not_divide(run_cli, tmp_path, photo_file):
    code, (_, err) = run_cli("restore", "sr", photo_file, "--factor", "3", "--from-hr", "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "does not divide")


def test_empty_output_folder_name(run_cli, tmp_path, photo_file):
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--out", "")
    assert_one_line_error(code, err, "--out is empty")


def test_unwritable_output_folder(run_cli, tmp_path, photo_file):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--out", str(blocker / "sub"))
    assert_one_line_error(code, err, "cannot create output folder")


def test_existing_output_folder_is_refused_and_kept(run_cli, tmp_path, photo_file):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--out", str(out))
    assert_one_line_error(code, err, "already exists", "--overwrite")
    assert (out / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt"]


def test_unknown_prior_and_preset(run_cli, tmp_path, photo_file):
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--prior", "dep_decoder", "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "unknown prior", "deep_decoder")
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--preset", "slow", "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "no preset 'slow'", "paper-denoise")
    assert not (tmp_path / "o").exists()


def test_image_too_large_for_memory(run_cli, tmp_path, photo_file, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 1 << 20)
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "needs about", "GiB", "crop")


def test_memory_estimate_grows_with_size():
    from invert import priors

    small = memory.estimate_fit_bytes(lambda: priors.create("dip", size=(64, 64)))
    large = memory.estimate_fit_bytes(lambda: priors.create("dip", size=(256, 256)))
    assert 10 * small < large


@pytest.mark.parametrize(
    "mode,make,note,channels",
    [
        ("RGBA", lambda a: Image.fromarray(np.dstack([a, np.full(a.shape[:2], 128, np.uint8)]), "RGBA"), "alpha", 3),
        ("P", lambda a: Image.fromarray(a).convert("P", palette=Image.ADAPTIVE), "palette", 3),
        ("I;16", lambda a: Image.fromarray((a[..., 0].astype(np.uint16) * 257)), "16-bit", 1),
    ],
)
def test_odd_image_modes_are_converted_and_said(run_cli, tmp_path, photo, mode, make, note, channels):
    a = (photo[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    path = tmp_path / f"img_{mode.replace(';', '')}.png"
    make(a).save(path)
    out = tmp_path / "o"
    code, (_, err) = run_cli("restore", "denoise", str(path), "--add-noise", "10", "--steps", "2",
                        "--out", str(out), "--quiet", "--prior", "pixel")
    assert code == 0, err
    assert note in err
    assert json.loads((out / "result.json").read_text())["channels"] == channels


def test_ctrl_c_saves_the_result_so_far(run_cli, tmp_path, photo_file, monkeypatch):
    real_fit = restore_lib.fit

    def interrupted_fit(prior, energy, config, **kw):
        def stop(step, loss, x, shown):
            if step == 3:
                raise KeyboardInterrupt

        return real_fit(prior, energy, config, callbacks=(stop, *kw.pop("callbacks", ())), **kw)

    monkeypatch.setattr(restore_lib, "fit", interrupted_fit)
    out = tmp_path / "o"
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--add-noise", "25", "--steps", "50",
                        "--out", str(out), "--quiet")
    assert code == 130
    assert "interrupted" in err
    result = json.loads((out / "result.json").read_text())
    assert result["interrupted"] and result["steps_run"] == 4
    assert (out / "restored.png").exists()


def test_priors_command_lists_parameter_counts(capsys):
    code, out = cli.main(["priors", "--size", "64", "64"]), capsys.readouterr().out
    assert code == 0
    assert "paper-denoise" in out and "deep_decoder" in out and "tv" in out
    assert "fourier" in out and "maco" in out


@pytest.mark.parametrize("option", ["--tv", "--alpha-norm", "--statistics"])
def test_a_negative_energy_weight_is_refused_before_anything_runs(capsys, tmp_path, option):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["preimage", option, "-1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "expected a finite number, at least 0, got -1" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    (["maximize", "--class", "crane"], "ambiguous: give the index, one of 134 (large long-necked wading bird"),
    (["maximize", "--class", "flamngo"], "unknown class 'flamngo'; closest names: flamingo"),
    (["maximize", "--class", "-3"], "unknown class '-3'"),
    (["preimage", "--restarts", "-1"], "expected a whole number from 0 to 100, got -1"),
    # checked after parsing (they need torch), in the same words
    (["preimage", "--prior", "tv,dipp"], "invert preimage: error: argument --prior/--priors: unknown prior 'dipp' "
                                         "(did you mean dip?)"),
    (["compare", "--device", f"cuda:{torch.cuda.device_count()}"],
     f"invert compare: error: argument --device: 'cuda:{torch.cuda.device_count()}' is not on this machine"),
])
def test_class_names_priors_devices_and_restarts_are_refused_before_anything_runs(capsys, tmp_path, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "run").exists()


def test_options_checked_after_parsing_keep_their_values():
    parser = cli.build_parser()
    args = parser.parse_args(["maximize", "--class", "flamingo", "--prior", "dip, tv", "--device", " CPU"])
    parser.check_deferred(args)
    assert (args.class_index, args.priors, args.device) == (130, ["dip", "tv"], "cpu")


def test_scores_only_against_a_reference(run_cli, tmp_path, photo_file, photo):
    mask = np.full((64, 64), 255, np.uint8)
    mask[20:40, 20:40] = 0
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "masked"
    code, (_, err) = run_cli("restore", "inpaint", photo_file, "--mask", str(tmp_path / "mask.png"), "--steps", "3",
                        "--prior", "tv", "--out", str(out), "--quiet")
    assert code == 0, err
    assert "no clean reference" in err and "psnr" not in json.loads((out / "result.json").read_text())
    out = tmp_path / "referenced"
    code, (_, err) = run_cli("restore", "inpaint", photo_file, "--mask", str(tmp_path / "mask.png"), "--steps", "3",
                        "--prior", "tv", "--reference", photo_file, "--out", str(out), "--quiet")
    assert code == 0, err
    assert json.loads((out / "result.json").read_text())["psnr"] > 0
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "small.png")
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--reference", str(tmp_path / "small.png"),
                        "--out", str(tmp_path / "x"))
    assert_one_line_error(code, err, "--reference is 32×32", "64×64")


def test_the_summary_says_when_auto_stop_did_not_fire(run_cli, tmp_path, photo_file):
    code, (_, err) = run_cli("restore", "denoise", photo_file, "--add-noise", "25", "--steps", "3",
                        "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0 and "auto-stop did not fire in 3 steps: the residual never fell to that noise level" in err
