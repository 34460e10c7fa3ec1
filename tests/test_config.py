"""Typed configs: coercion of YAML/CLI values, constraints, one-line errors naming the key."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
import torch

from reprlab.config import coerce, describe, from_dict, option, parse_overrides, read_config_file, to_dict
from reprlab.errors import ConfigError
from reprlab.models.autoencoder import AutoEncoderConfig
from reprlab.pipelines.training import DataConfig, build_run_config
from reprlab.train import TrainConfig


@pytest.mark.parametrize(
    "value, tp, expected",
    [
        ("1e-3", float, 1e-3),  # YAML 1.1 reads this as a string; it is a float
        (3, float, 3.0),
        ("1e3", int, 1000),
        (4.0, int, 4),
        (True, bool, True),
        ("relu", Literal["relu", "tanh"], "relu"),
        (5, tuple[int, ...], (5,)),
        ([256, 64], tuple[int, ...], (256, 64)),
        ([0.5, 0.9], tuple[float, float], (0.5, 0.9)),
        (None, int | None, None),
        ("x", str | None, "x"),
    ],
)
def test_coerce_accepts(value, tp, expected):
    out = coerce(value, tp, "k")
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    "value, tp",
    [
        ("abc", float),
        (True, int),  # a bool is not a count
        (True, float),
        (2.5, int),
        ("yes", bool),
        (1, bool),
        ("sigmoid", Literal["relu", "tanh"]),
        ([1, 2, 3], tuple[float, float]),
        ("3", tuple[int, ...]),
        (None, int),
        (float("nan"), float),
        ("inf", float),
        (3, str),
    ],
)
def test_coerce_rejects_naming_the_key(value, tp):
    with pytest.raises(ConfigError) as e:
        coerce(value, tp, "model.some_key")
    msg = str(e.value)
    assert msg.startswith("model.some_key: ") and "\n" not in msg


def test_from_dict_validates_keys_types_and_constraints():
    cfg = from_dict(AutoEncoderConfig, {"latent_dim": "8", "hidden": [32]}, "model")
    assert cfg.latent_dim == 8 and cfg.hidden == (32,)
    with pytest.raises(ConfigError, match=r"unknown key model\.code_size; allowed: model\.arch, .*model\.latent_dim"):
        from_dict(AutoEncoderConfig, {"code_size": 2}, "model")
    with pytest.raises(ConfigError, match=r"model\.latent_dim: 0 is not allowed; must be >= 1"):
        from_dict(AutoEncoderConfig, {"latent_dim": 0}, "model")
    with pytest.raises(ConfigError, match=r"model\.hidden: \(64, 0\) is not allowed; must be >= 1"):
        from_dict(AutoEncoderConfig, {"hidden": [64, 0]}, "model")
    with pytest.raises(ConfigError, match=r"model\.loss: 'l1' is not allowed; expected 'mse' \| 'bce'"):
        from_dict(AutoEncoderConfig, {"loss": "l1"}, "model")
    with pytest.raises(ConfigError, match=r"train\.betas: \(0\.9, 1\.0\) is not allowed; must be < 1"):
        from_dict(TrainConfig, {"betas": [0.9, 1.0]}, "train")
    with pytest.raises(ConfigError, match="weight tying needs model.arch=mlp"):
        from_dict(AutoEncoderConfig, {"tied": True, "arch": "conv"}, "model")


def test_to_dict_round_trips_and_describe_covers_every_field():
    cfg = from_dict(TrainConfig, {"lr": "3e-4", "betas": [0.5, 0.99], "max_steps": 7}, "train")
    plain = to_dict(cfg)
    assert plain["betas"] == [0.5, 0.99] and plain["lr"] == 3e-4
    assert from_dict(TrainConfig, plain, "train") == cfg
    rows = describe(TrainConfig, "train.")
    assert [r[0] for r in rows] == ["train." + f.name for f in dataclasses.fields(TrainConfig)]
    assert all(r[2] for r in rows), "every option needs a help text"
    lr_row = next(r for r in rows if r[0] == "train.lr")
    assert lr_row[1] == "float = 0.001"


def test_parse_overrides():
    assert parse_overrides(["train.lr=1e-3", "hidden=[256, 64]", "tied=true", "data.name=images:a=b"]) == [
        ("train.lr", "1e-3"),  # the string is coerced by the field's type, see test_coerce_accepts
        ("hidden", [256, 64]),
        ("tied", True),
        ("data.name", "images:a=b"),
    ]
    for bad in ("lr", "=3"):
        with pytest.raises(ConfigError, match="must look like key=value"):
            parse_overrides([bad])


def test_build_run_config_merges_file_and_overrides():
    file_values = {"model": {"name": "ae", "latent_dim": 4, "loss": "bce"}, "train": {"lr": 0.01}, "data": {"name": "digits"}}
    rc = build_run_config(None, file_values, [("latent_dim", 2), ("train.lr", "1e-3"), ("max_steps", 5)])
    assert rc.model_name == "ae"
    assert rc.model.latent_dim == 2 and rc.model.loss == "bce"  # override wins, file value kept
    assert rc.train.lr == 1e-3 and rc.train.max_steps == 5
    assert isinstance(rc.data, DataConfig) and rc.data.name == "digits"
    # the written form builds the same config again
    again = build_run_config(None, rc.to_dict())
    assert again.to_dict() == rc.to_dict()


@pytest.mark.parametrize(
    "model, file_values, overrides, message",
    [
        (None, None, [], "no model given"),
        ("nope", None, [], "unknown model 'nope'"),
        ("ae", {"model": {"name": "vae"}}, [], "the config file is for model 'vae', not 'ae'"),
        ("ae", {"optim": {}}, [], "unknown config section 'optim'"),
        ("ae", None, [("optim.lr", 1)], "unknown section in 'optim.lr'"),
        ("ae", None, [("train.latent_dim", 1)], r"unknown key train\.latent_dim; allowed: train\.seed"),
        ("ae", None, [("codedim", 1)], r"unknown key 'codedim'; see `reprlab train ae --help`"),
        ("ae", None, [("data.val_fraction", 1.0)], r"data\.val_fraction: 1\.0 is not allowed; must be < 1"),
    ],
)
def test_build_run_config_errors(model, file_values, overrides, message):
    with pytest.raises(ConfigError, match=message) as e:
        build_run_config(model, file_values, overrides)
    assert "\n" not in str(e.value)


def test_read_config_file(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("model:\n  latent_dim: 3\ntrain:\n  lr: 1e-3\n")
    assert read_config_file(good) == {"model": {"latent_dim": 3}, "train": {"lr": "1e-3"}}
    (tmp_path / "c.json").write_text('{"train": {"lr": 0.1}}')
    assert read_config_file(tmp_path / "c.json") == {"train": {"lr": 0.1}}
    (tmp_path / "empty.yaml").write_text("")
    assert read_config_file(tmp_path / "empty.yaml") == {}
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid YAML/JSON"):
        read_config_file(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping of sections"):
        read_config_file(tmp_path / "list.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError):
        read_config_file(tmp_path / "bin.yaml")


_REGISTRY = {"a": 1, "b": 2}


@dataclasses.dataclass
class _ChoiceConfig:
    name: str = option("a", "a name of the registry", choices=lambda: list(_REGISTRY))


def test_choices_are_read_from_the_registry_when_checked_and_when_described():
    assert from_dict(_ChoiceConfig, {"name": "b"}, "model").name == "b"
    with pytest.raises(ConfigError) as e:
        from_dict(_ChoiceConfig, {"name": "c"}, "model")
    assert str(e.value) == "model.name: 'c' is not allowed; expected 'a' | 'b'"
    assert describe(_ChoiceConfig, "model.")[0][1] == "'a' | 'b' = 'a'"
    _REGISTRY["c"] = 3
    try:
        assert from_dict(_ChoiceConfig, {"name": "c"}, "model").name == "c"
        assert describe(_ChoiceConfig, "model.")[0][1] == "'a' | 'b' | 'c' = 'a'"
    finally:
        del _REGISTRY["c"]


def test_former_key_names_still_work_with_a_deprecation_note(caplog, tmp_path):
    """``code_dim`` (AE, DAE, AAE) and ``embedding_dim`` (Siamese) are now ``latent_dim``: the old
    names are read as the new one (overrides, bare or dotted, and config files), with a note."""
    import logging

    import reprlab.config as config_module
    from reprlab.models.siamese import SiameseConfig

    config_module._WARNED.clear()
    with caplog.at_level(logging.WARNING, logger="reprlab"):
        rc = build_run_config("ae", None, [("code_dim", 3)])
        assert rc.model.latent_dim == 3
        assert build_run_config("aae", None, [("model.code_dim", 5)]).model.latent_dim == 5
        assert build_run_config(None, {"model": {"name": "dae", "code_dim": 7}}).model.latent_dim == 7
        assert from_dict(SiameseConfig, {"embedding_dim": 9}, "model").latent_dim == 9
    assert "model.code_dim is now called model.latent_dim" in caplog.text
    assert "model.embedding_dim is now called model.latent_dim" in caplog.text
    with pytest.raises(ConfigError, match="model.code_dim and latent_dim are the same key"):
        from_dict(AutoEncoderConfig, {"code_dim": 2, "latent_dim": 3}, "model")
    # the resolved config records the new name
    assert "latent_dim" in rc.to_dict()["model"] and "code_dim" not in rc.to_dict()["model"]


def test_a_run_folder_written_with_the_former_key_still_loads(tmp_path, capsys):
    """A config.yaml of an older reprlab (``code_dim``) is read by ``reprlab.load`` and ``eval``."""
    import reprlab
    from helpers import run_cli

    run = tmp_path / "old"
    assert run_cli(capsys, "-q", "train", "ae", "latent_dim=3", "hidden=[8]", "--steps", "5", "--run-dir", str(run))[0] == 0
    text = (run / "config.yaml").read_text()
    assert "latent_dim: 3" in text
    (run / "config.yaml").write_text(text.replace("latent_dim: 3", "code_dim: 3"))
    model = reprlab.load(run)
    assert model.config.latent_dim == 3 and model.encode(torch.rand(2, 1, 8, 8)).shape == (2, 3)
