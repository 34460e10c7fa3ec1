"""The ``reprlab`` command: a full run on embedded data, and every error path (exit 2, one line)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from helpers import error_line, run_cli
from reprlab.cli import main
from reprlab.data import load_dataset

STEPS = ["--steps", "40", "train.log_every=10", "train.checkpoint_every=20", "train.val_every=20"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short ``reprlab train ae`` on digits, shared by the commands that read a run."""
    run = tmp_path_factory.mktemp("cli") / "ae"
    assert main(["-q", "train", "ae", "latent_dim=4", "hidden=[32]", *STEPS, "--run-dir", str(run)]) == 0
    return run


def test_train_writes_a_complete_run_folder(trained):
    for name in ("config.yaml", "metrics.csv", "model.safetensors", "summary.json", "figures/loss.png",
                 "figures/reconstructions.png"):
        assert (trained / name).is_file(), name
    cfg = (trained / "config.yaml").read_text()
    assert "latent_dim: 4" in cfg and "max_steps: 40" in cfg and "input_shape:" in cfg
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["steps"] == 40
    weights = load_file(trained / "model.safetensors")
    assert weights["encoder.1.weight"].shape == (32, 64)
    with Image.open(trained / "figures/reconstructions.png") as im:
        im.verify()


def test_eval_prints_metrics_as_json(trained, capsys):
    code, out, _ = run_cli(capsys, "eval", str(trained), "--split", "test")
    assert code == 0
    metrics = json.loads(out)
    assert metrics["split"] == "test" and metrics["n"] == len(load_dataset("digits", split="test"))
    assert 0 < metrics["mse"] < 1 and metrics["sse"] == pytest.approx(64 * metrics["mse"], rel=1e-6)


def test_encode_writes_codes_and_labels(trained, tmp_path, capsys):
    code, _, _ = run_cli(capsys, "encode", str(trained), "-o", str(tmp_path / "codes.npz"), "--split", "all")
    assert code == 0
    with np.load(tmp_path / "codes.npz") as f:
        assert f["codes"].shape == (1797, 4) and f["labels"].shape == (1797,)
        assert np.isfinite(f["codes"]).all()
    assert run_cli(capsys, "encode", str(trained), "-o", str(tmp_path / "c.npy"))[0] == 0
    assert np.load(tmp_path / "c.npy").shape == (len(load_dataset("digits", split="test")), 4)
    code, _, err = run_cli(capsys, "encode", str(trained), "-o", str(tmp_path / "codes.txt"))
    assert code == 2 and "must end in .npy or .npz" in error_line(err)
    assert not (tmp_path / "codes.txt").exists()


def test_reconstruct_writes_a_png_grid(trained, tmp_path, capsys):
    out = tmp_path / "rec.png"
    assert run_cli(capsys, "reconstruct", str(trained), "-o", str(out), "-n", "8")[0] == 0
    with Image.open(out) as im:
        # 8 originals above 8 reconstructions, 8x8 digits enlarged 4x to 32 px, 2 px padding
        assert im.size == (8 * 34 + 2, 2 * 34 + 2)


def test_sample_from_an_autoencoder_is_a_clear_error(trained, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", str(trained), "-o", str(tmp_path / "s.png"))
    assert code == 2 and "cannot sample" in error_line(err)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "ae", "codedim=2"], "unknown key 'codedim'"),
        (["train", "ae", "model.code_size=2"], "unknown key model.code_size; allowed: model.arch"),
        (["train", "ae", "latent_dim=0"], "model.latent_dim: 0 is not allowed; must be >= 1"),
        (["train", "ae", "train.lr=fast"], "train.lr: 'fast' is not allowed; expected float"),
        (["train", "ae", "loss=l1"], "model.loss: 'l1' is not allowed; expected 'mse' | 'bce'"),
        (["train", "ae", "--precision", "8-bit"], "train.precision: '8-bit' is not allowed"),
        (["train", "transformer"], "unknown model 'transformer'; choose one of"),
        (["train", "ae", "lr"], "override 'lr' must look like key=value"),
        (["train", "ae", "--config", "/nonexistent/c.yaml"], "config file /nonexistent/c.yaml does not exist"),
        (["train", "ae", "arch=conv", "tied=true"], "weight tying needs model.arch=mlp"),
        (["train", "ae", "--data", "no-such-set"], "unknown data set"),
        (["train", "ae", "--data", "/nonexistent/x.npy"], "x.npy"),
    ],
)
def test_train_config_errors_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv, "--steps", "1")
    assert code == 2
    assert message in error_line(err)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_missing_mnist_names_files_and_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(capsys, "train", "ae", "--data", "mnist", "--data-dir", str(empty), "--steps", "1")
    line = error_line(err)
    assert code == 2
    assert "train-images-idx3-ubyte" in line and str(empty) in line


def test_existing_run_needs_resume_or_overwrite(trained, capsys):
    before = (trained / "model.safetensors").read_bytes()
    code, _, err = run_cli(capsys, "train", "ae", "--steps", "5", "--run-dir", str(trained))
    assert code == 2 and "--resume" in error_line(err) and "--overwrite" in err
    assert (trained / "model.safetensors").read_bytes() == before  # nothing lost


def test_resume_of_nothing_and_both_run_dir_and_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "train", "ae", "--steps", "5", "--run-dir", str(tmp_path / "new"), "--resume")
    assert code == 2 and "nothing to resume" in error_line(err)
    code, _, err = run_cli(capsys, "train", "ae", "--run-dir", "a", "--name", "b")
    assert code == 2 and "either --run-dir or --name" in error_line(err)


def test_commands_on_a_broken_run(trained, tmp_path, capsys):
    code, _, err = run_cli(capsys, "eval", str(tmp_path))
    assert code == 2 and "is not a reprlab run" in error_line(err)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_bytes((trained / "config.yaml").read_bytes())
    (broken / "model.safetensors").write_bytes(b"\x00" * 100)
    code, _, err = run_cli(capsys, "eval", str(broken))
    assert code == 2 and "not a readable safetensors file" in error_line(err)
    (broken / "model.safetensors").unlink()
    code, _, err = run_cli(capsys, "encode", str(broken), "-o", str(tmp_path / "c.npy"))
    assert code == 2 and "no final weights and no valid checkpoint" in error_line(err)


def test_model_help_lists_its_options(capsys):
    code, out, _ = run_cli(capsys, "train", "ae", "--help")
    assert code == 0
    for key in ("model.latent_dim", "model.loss", "model.tied", "data.name", "train.lr", "train.precision"):
        assert key in out
    assert "recipes" not in out  # the plain AE has none
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    assert "ae " in capsys.readouterr().out


def test_model_help_lists_its_recipes(capsys):
    """A model's recipes (the values a new run gets where the user sets none) are in its --help:
    the AAE's for any data set, every key of the Siamese net's Omniglot recipe."""
    from reprlab.models.siamese import SiameseNet

    code, out, _ = run_cli(capsys, "train", "aae", "--help")
    assert code == 0
    recipes = out[out.index("recipes ("):]
    assert "any data set" in recipes and "train.lr_schedule=cosine" in recipes
    code, out, _ = run_cli(capsys, "train", "siamese", "--help")
    line = next(x for x in out[out.index("recipes ("):].splitlines() if "--data omniglot" in x)
    for key, value in SiameseNet.recipes["omniglot"].items():
        assert f"{key if '.' in key else 'model.' + key}={value}" in line


def test_data_lists_what_is_present(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "data", "--data-dir", str(tmp_path))
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "embedded" in lines["digits"] and "missing" in lines["mnist"]


def test_data_with_the_shared_folder(data_dir, capsys):
    code, out, _ = run_cli(capsys, "data", "--data-dir", str(data_dir))
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert code == 0 and "complete" in lines["mnist"] and "complete" in lines["amazon-reviews"]


def test_console_entry_point_exit_code_and_stderr(tmp_path):
    """As a user runs it: a separate process, exit status 2 and one line on stderr."""
    p = subprocess.run([sys.executable, "-m", "reprlab.cli", "train", "ae", "latent_dim=-1"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 2
    assert error_line(p.stderr) == "reprlab: error: model.latent_dim: -1 is not allowed; must be >= 1"
    p = subprocess.run([sys.executable, "-m", "reprlab.cli", "frobnicate"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "invalid choice" in p.stderr


@pytest.mark.parametrize("command", ["reconstruct", "sample"])
def test_picture_commands_check_their_arguments_first(command, trained, tmp_path, capsys):
    code, _, err = run_cli(capsys, command, str(trained), "-o", str(tmp_path / "x.jpeg"))
    assert code == 2 and "must end in .png" in error_line(err)
    code, _, err = run_cli(capsys, command, str(trained), "-o", str(tmp_path / "x.png"), "-n", "0")
    assert code == 2 and "-n must be at least 1" in error_line(err)


def test_a_model_that_does_not_fit_the_data_leaves_no_run_folder(tmp_path, capsys):
    features = tmp_path / "f.npy"
    np.save(features, np.random.default_rng(0).random((50, 6), dtype=np.float32))
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "ae", "arch=conv", "--data", str(features), "--run-dir", str(run))
    assert code == 2 and "model.arch=conv needs images" in error_line(err)
    assert not run.exists()
