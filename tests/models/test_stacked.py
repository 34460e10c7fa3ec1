"""Stacked (denoising) auto-encoders: greedy layer-wise pre-training on codes, then supervised fine-tuning."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from reprlab.pipelines import training as run
from reprlab.cli import main
from reprlab.data import Batch, TensorData, load_dataset
from reprlab.errors import ConfigError, DataError, UsageError
from reprlab.models import DenoisingAutoEncoder, StackedAutoEncoder, StackedAutoEncoderConfig
from reprlab.train import TrainConfig, Trainer, seed_everything

QUIET = TrainConfig(max_steps=60, batch_size=64, progress=False, tensorboard=False, lr=3e-3)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", split="train", seed=0), load_dataset("digits", split="test", seed=0)


def sdae(**kw) -> StackedAutoEncoder:
    seed_everything(0)
    cfg = StackedAutoEncoderConfig(**{"hidden": (32, 16), "pretrain_steps": 40, "pretrain_lr": 3e-3, **kw})
    return StackedAutoEncoder(cfg, (1, 8, 8))


def recording(fit_phase, calls: list):
    def fit(phase, model_name, config, train, val=None, **overrides):
        model = fit_phase(phase, model_name, config, train, val, **overrides)
        calls.append({"phase": phase, "name": model_name, "config": config, "train": train, "val": val,
                      "overrides": overrides, "model": model})
        return model

    return fit


def error(model, data) -> float:
    model.eval()
    return float((model.predict(data.x) != data.y).float().mean())


def test_each_layer_is_pretrained_on_the_clean_codes_of_the_layer_below(digits):
    train, test = digits
    model = sdae(noise=("masking:0.3", "gaussian:0.1"))
    initial = [layer[1].weight.detach().clone() for layer in model.layers]
    calls: list = []
    model.pretrain(train, test, recording(run.phase_fitter(QUIET), calls))
    assert [c["phase"] for c in calls] == ["layer1", "layer2"] and {c["name"] for c in calls} == {"dae"}
    assert [c["config"].noise for c in calls] == ["masking:0.3", "gaussian:0.1"]
    assert all(c["overrides"] == {"max_steps": 40, "lr": 3e-3} for c in calls)
    ae1, ae2 = calls[0]["model"], calls[1]["model"]
    assert isinstance(ae1, DenoisingAutoEncoder) and ae1.config.tied and ae1.config.latent_dim == 32
    # layer 1 on x, without the labels: pre-training is unsupervised
    assert torch.equal(calls[0]["train"].x, train.x) and calls[0]["train"].y is None
    # layer 2 on h1 = the trained layer-1 encoder's outputs on the clean x (train and validation alike)
    with torch.no_grad():
        assert torch.allclose(calls[1]["train"].x, ae1.encoder(train.x), atol=1e-6)
        assert torch.allclose(calls[1]["val"].x, ae1.encoder(test.x), atol=1e-6)
    assert calls[1]["train"].sample_shape == (32,)
    # the classifier's layers hold the pre-trained encoders, changed from their initialization
    for layer, ae, w0 in zip(model.layers, (ae1, ae2), initial):
        for key, value in ae.encoder.state_dict().items():
            assert torch.equal(layer.state_dict()[key], value)
        assert not torch.equal(layer[1].weight, w0)


def test_fine_tuning_lowers_the_error_of_the_pretrained_network(digits):
    train, test = digits
    model = sdae()
    model.pretrain(train, None, run.phase_fitter(QUIET))
    before = error(model, test)
    model.train()
    Trainer(TrainConfig(max_steps=300, batch_size=64, progress=False, lr=1e-2)).fit(model, train)
    after = error(model, test)
    assert after < 0.25 < before - 0.5, (before, after)
    assert model.encode(test.x[:5]).shape == (5, 16) and model.predict(test.x[:5]).shape == (5,)


def test_without_pretraining_steps_no_phase_runs_and_it_is_the_plain_mlp(digits):
    train, _ = digits
    model = sdae(pretrain_steps=0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    calls: list = []
    model.pretrain(train, None, recording(run.phase_fitter(QUIET), calls))
    assert calls == []
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    x = torch.rand(3, 1, 8, 8)
    mlp_by_hand = torch.sigmoid(torch.sigmoid(x.flatten(1) @ model.layers[0][1].weight.T + model.layers[0][1].bias)
                                @ model.layers[1][1].weight.T + model.layers[1][1].bias)
    assert torch.allclose(model.encode(x), mlp_by_hand, atol=1e-6)
    assert torch.allclose(model.logits(x), model.head(mlp_by_hand), atol=1e-6)


def test_unlabelled_data_is_a_one_line_error(digits, tmp_path, capsys):
    train, _ = digits
    with pytest.raises(DataError, match="is fine-tuned on labels and 'digits' has none") as e:
        sdae().check_data(TensorData(train.x, name="digits"))  # run.fit calls it before any phase
    assert "\n" not in str(e.value)
    with pytest.raises(UsageError, match="needs labelled data"):
        sdae()(Batch(train.x[:4]))
    path = tmp_path / "x.npy"
    np.save(path, train.x.flatten(1).numpy())
    code = main(["-q", "train", "sdae", "hidden=[8]", "--data", str(path), "--steps", "2", "--run-dir", str(tmp_path / "run")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and "has none" in err[0]
    assert not (tmp_path / "run").exists()  # checked before the run folder is made


def test_config_errors_are_one_line():
    with pytest.raises(ConfigError, match="one corruption for all layers or one per layer"):
        run.build_run_config("sdae", None, [("hidden", [8, 8, 8]), ("noise", ["none", "none"])])
    with pytest.raises(ConfigError, match="^model.noise: unknown corruption"):
        run.build_run_config("sdae", None, [("noise", "blur:1")])
    with pytest.raises(ConfigError, match="bce needs codes in \\[0, 1\\] and tanh codes are not"):
        run.build_run_config("sdae", None, [("activation", "tanh")])
    with pytest.raises(ConfigError, match="has 10 classes but model.num_classes=3"):
        sdae(num_classes=3).check_data(load_dataset("digits", split="test", seed=0))


def test_reprlab_train_sdae_pretrains_then_fine_tunes_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "sdae"
    argv = ["-q", "train", "sdae", "hidden=[32,16]", "noise=[masking:0.2, none]", "pretrain_steps=20", "--steps", "30",
            "train.val_every=15", "train.log_every=15", "train.checkpoint_every=15", "train.tensorboard=false",
            "--run-dir", str(out)]
    started_from = {}
    fit = Trainer.fit

    def spy(self, model, *args, **kwargs):  # the weights the fine-tuning starts from
        if isinstance(model, StackedAutoEncoder):
            started_from.update({k: v.clone() for k, v in model.state_dict().items()})
        return fit(self, model, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", spy)
    assert main(argv) == 0
    for k in (1, 2):
        ae = load_file(out / f"pretrain/layer{k}/model.safetensors")
        assert torch.equal(started_from[f"layers.{k - 1}.1.weight"], ae["encoder.1.weight"])
        assert isinstance(run.load(out / f"pretrain/layer{k}"), DenoisingAutoEncoder)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 30 and 0 <= summary["val_metrics"]["val/error"] <= 1
    assert "val/accuracy" in summary["val_metrics"]
    model = run.load(out)
    assert isinstance(model, StackedAutoEncoder) and model.encode(torch.rand(2, 1, 8, 8)).shape == (2, 16)

    # a run stopped during layer 2: layer 1 is loaded, layer 2 continues from its checkpoint, fine-tuning restarts
    for name in ("config.yaml", "model.safetensors", "summary.json", "metrics.csv"):
        (out / name).unlink()
    for p in sorted((out / "checkpoints").iterdir()):
        for f in p.iterdir():
            f.unlink()
        p.rmdir()
    (out / "checkpoints").rmdir()
    (out / "pretrain/layer2/model.safetensors").unlink()
    layer1 = (out / "pretrain/layer1/metrics.csv").read_text()
    assert main(argv + ["--resume"]) == 0
    assert (out / "pretrain/layer1/metrics.csv").read_text() == layer1  # finished: not trained again
    assert json.loads((out / "pretrain/layer2/summary.json").read_text())["resumed_from"] == 20
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 30 and summary["resumed_from"] is None
    assert main(argv) == 2  # a started run is not silently mixed with a new one


def test_stacked_dae_transformer_concatenates_the_clean_input_and_each_code():
    from sklearn.base import clone

    from reprlab.pipelines.sda import StackedDAETransformer

    rng = np.random.default_rng(0)
    X = (rng.random((120, 12)) < 0.3).astype(np.float64)
    sda = StackedDAETransformer(hidden=(6, 4), noise="masking:0.5", steps=30, batch_size=32, seed=3, accelerator="cpu")
    with pytest.raises(UsageError, match="not fitted"):
        sda.transform(X)
    R = sda.fit(X).transform(X)
    assert R.shape == (120, 12 + 6 + 4) and R.dtype == np.float32
    np.testing.assert_array_equal(R[:, :12], X.astype(np.float32))  # [x; h1; h2]: x itself first
    # h1 is the first layer's tanh code of the clean x, h2 the second layer's code of h1
    x = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        h1 = sda.model_.layers[0](x)
        h2 = sda.model_.layers[1](h1)
    np.testing.assert_allclose(R[:, 12:18], h1.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(R[:, 18:], h2.numpy(), rtol=1e-6, atol=1e-6)
    assert np.abs(R[:, 12:]).max() < 1  # tanh codes
    # same seed: same numbers; another seed: other numbers; clone keeps the parameters, not the fit
    again = clone(sda).fit(X).transform(X)
    np.testing.assert_array_equal(again, R)
    other = clone(sda).set_params(seed=4).fit(X).transform(X)
    assert not np.allclose(other[:, 12:], R[:, 12:])
    assert clone(sda).get_params()["hidden"] == (6, 4) and not hasattr(clone(sda), "model_")
    only_top = clone(sda).set_params(concat=False).fit(X).transform(X)
    np.testing.assert_array_equal(only_top, R[:, 18:])
    with pytest.raises(UsageError, match=r"shape \(n, 12\)"):
        sda.transform(X[:, :5])
    with pytest.raises(UsageError, match="2-D"):
        clone(sda).fit(X[0])


def test_stacked_dae_transformer_training_lowers_the_denoising_loss():
    from reprlab.pipelines.sda import StackedDAETransformer

    rng = np.random.default_rng(1)
    scales = 0.6 ** np.arange(16)  # a decaying spectrum: a code of 2 must find the 2 strongest directions
    X = (rng.standard_normal((400, 16)) * scales) @ np.linalg.qr(rng.standard_normal((16, 16)))[0]
    untrained = StackedDAETransformer(hidden=(2,), noise="gaussian:0.05", steps=0, seed=0, accelerator="cpu").fit(X)
    trained = StackedDAETransformer(hidden=(2,), noise="gaussian:0.05", steps=600, lr=1e-2, seed=0, accelerator="cpu").fit(X)

    def recon_mse(t):
        x = torch.as_tensor(X, dtype=torch.float32)
        assert t.model_.layer_config(1).latent_dim == 2
        with torch.no_grad():  # how much of x the code keeps: the best affine read-out of h
            h = t.model_.layers[0](x).numpy()
        H = np.hstack([h, np.ones((len(h), 1))])
        coef, *_ = np.linalg.lstsq(H, X, rcond=None)
        return float(((H @ coef - X) ** 2).mean())

    from sklearn.decomposition import PCA

    pca = PCA(2).fit(X)  # the best any 2-D code with an affine read-out can do
    pca_optimum = float(((pca.inverse_transform(pca.transform(X)) - X) ** 2).mean())
    assert recon_mse(trained) < 0.5 * recon_mse(untrained)  # measured 0.019 vs 0.044
    assert recon_mse(trained) < 1.75 * pca_optimum  # tanh codes of unit-scale inputs bend: 0.019 vs 0.0125


def test_finetune_labels_keeps_a_stratified_sample_and_pretraining_sees_every_example(digits, tmp_path, monkeypatch):
    from reprlab.models import stacked

    train, _ = digits
    model = sdae(finetune_labels=50)
    kept = model.training_data(train, seed=3)
    assert len(kept) == 50 and kept.y.bincount(minlength=10).min() >= 4  # 5 per class, give or take one
    rows = {tuple(r.tolist()) for r in kept.x.flatten(1)}
    assert rows <= {tuple(r.tolist()) for r in train.x.flatten(1)}  # a subset of the training split
    assert torch.equal(model.training_data(train, seed=3).x, kept.x)  # the same sample for the same seed
    assert not torch.equal(model.training_data(train, seed=4).x, kept.x)
    assert sdae().training_data(train) is train  # 0: all
    # end to end: the layers are pre-trained on the whole split, the classifier fine-tuned on 50
    calls, sizes = [], []
    real_fitter = run.phase_fitter
    monkeypatch.setattr(run, "phase_fitter", lambda *a, **k: recording(real_fitter(*a, **k), calls))
    real_td = stacked.StackedAutoEncoder.training_data
    monkeypatch.setattr(stacked.StackedAutoEncoder, "training_data", lambda self, d, s=0: sizes.append(len(d)) or real_td(self, d, s))
    rc = run.build_run_config("sdae", None, [("hidden", [16]), ("pretrain_steps", 5), ("finetune_labels", 50),
                                             ("train.max_steps", 3), ("train.batch_size", 25), ("data.val_fraction", 0.0)])
    _, result = run.train_run(rc, None)
    assert [len(c["train"]) for c in calls] == sizes == [len(train)] and result.steps == 3


@pytest.mark.parametrize("labels, message", [(5, "fewer than the 10 classes"), (10**6, "use at most")])
def test_finetune_labels_out_of_range_is_one_line(digits, labels, message):
    with pytest.raises(ConfigError, match=message):
        sdae(finetune_labels=labels).training_data(digits[0])
