"""The GAN losses' registry is the one source of the allowed names: a loss registered here is
accepted by `reprlab train gan`, `reprlab dirac` and listed by `--help`, with no other edit."""

from __future__ import annotations

import json

import pytest
import torch.nn.functional as F

from helpers import error_line, run_cli
from reprlab.errors import ConfigError
from reprlab.models.gan.dirac import DiracMethod, closed_form_field
from reprlab.models.gan.losses import LOSSES, GANLoss
from reprlab.models.gan.regularizers import REGULARIZERS

NEW = "test-hinge"


@pytest.fixture
def hinge_loss():
    """The hinge loss (Lim & Ye 2017), registered for one test and removed after it."""
    assert NEW not in LOSSES
    LOSSES[NEW] = GANLoss(NEW, lambda t_real, t_fake: F.relu(1 - t_real).mean() + F.relu(1 + t_fake).mean(),
                          lambda t_fake: -t_fake.mean(), False, "hinge: D minimizes E relu(1 − t_real) + E relu(1 + t_fake)")
    yield NEW
    del LOSSES[NEW]


@pytest.fixture
def zero_penalty():
    """A regularizer registered for one test and removed after it."""
    REGULARIZERS["test-zero"] = lambda D, x_real, x_fake, gamma: 0.0 * D(x_real).mean()
    yield "test-zero"
    del REGULARIZERS["test-zero"]


def test_a_registered_loss_trains_a_gan_from_the_cli(hinge_loss, tmp_path, capsys):
    run = tmp_path / "gan"
    code, _, err = run_cli(capsys, "-q", "train", "gan", "--data", "ring8", f"model.loss={hinge_loss}", "--steps", "2",
                           "--run-dir", str(run))
    assert code == 0, err
    assert f"loss: {hinge_loss}" in (run / "config.yaml").read_text()


def test_a_registered_loss_trains_an_aae_and_a_registered_regularizer_a_gan(hinge_loss, zero_penalty, tmp_path, capsys):
    code, _, err = run_cli(capsys, "-q", "train", "aae", "--data", "digits", f"model.gan_loss={hinge_loss}", "hidden=[16]",
                           "d_hidden=[8]", "--steps", "2", "--run-dir", str(tmp_path / "aae"))
    assert code == 0, err
    code, _, err = run_cli(capsys, "-q", "train", "gan", "--data", "ring8", f"model.reg={zero_penalty}", "--steps", "2",
                           "--run-dir", str(tmp_path / "gan"))
    assert code == 0, err


def test_a_registered_loss_runs_the_dirac_gan_numerically(hinge_loss, tmp_path, capsys):
    code, out, err = run_cli(capsys, "dirac", "--loss", hinge_loss, "--steps", "5", "-o", str(tmp_path / "d.png"))
    assert code == 0, err
    rec = json.loads(out)
    assert rec["loss"] == hinge_loss and rec["numeric_eigenvalues"] is not None
    assert rec["closed_form_eigenvalues"] is None and "no closed form" in rec["note"]
    with pytest.raises(ConfigError, match="no closed form"):  # never a silent default formula
        closed_form_field(DiracMethod(hinge_loss), 1.0, 1.0)


def test_a_registered_loss_is_listed_by_the_help(hinge_loss, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, "train", "gan", "--help")
    assert code == 0
    loss_row = out[out.index("model.loss "):].split("\n")[1]
    assert repr(hinge_loss) in loss_row and "'wgan-gp'" in loss_row
    code, out, _ = run_cli(capsys, "train", "aae", "--help")
    assert code == 0 and repr(hinge_loss) in out[out.index("model.gan_loss "):].split("\n")[1]
    monkeypatch.setenv("COLUMNS", "300")  # argparse wraps at the terminal's width (and at hyphens)
    with pytest.raises(SystemExit):
        run_cli(capsys, "dirac", "--help")
    out = capsys.readouterr().out
    assert hinge_loss in out[out.index("  --loss LOSS"):out.index("  --reg REG")]


@pytest.mark.parametrize("argv", [
    ["train", "gan", "--data", "ring8", f"model.loss={NEW}", "--steps", "2"],
    ["train", "tempered-gan", "--data", "ring8", f"model.loss={NEW}", "--steps", "2"],
    ["train", "aae", "--data", "digits", f"model.gan_loss={NEW}", "--steps", "2"],
    ["dirac", "--loss", NEW, "--steps", "2"],
])
def test_an_unregistered_loss_is_a_one_line_error(argv, tmp_path, capsys):
    assert NEW not in LOSSES  # the fixture removed it: the registry alone decides
    where = ["-o", str(tmp_path / "d.png")] if argv[0] == "dirac" else ["--run-dir", str(tmp_path / "run")]
    code, _, err = run_cli(capsys, *argv, *where)
    assert code == 2 and NEW in error_line(err)
    assert not (tmp_path / "run").exists() and not (tmp_path / "d.png").exists()
