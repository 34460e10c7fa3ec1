"""The trainer: reproducibility, checkpoints and resume, NaN guard, early stopping, schedules,
alternating updates."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from reprlab.data import Batch, TensorData, load_dataset
from reprlab.errors import CheckpointError, NonFiniteLossError
from reprlab.models import AutoEncoder, AutoEncoderConfig, ReprModel, Update
from reprlab.pipelines.training import build_run_config, train_run
from reprlab.train import Trainer, TrainConfig, seed_everything
from reprlab import weights
from reprlab.train import checkpoint as ckpt
from reprlab.train.trainer import lr_lambda


def _cfg(**kw) -> TrainConfig:
    base = dict(max_steps=60, batch_size=32, log_every=10, checkpoint_every=20, val_every=20, progress=False, tensorboard=False)
    base.update(kw)
    return TrainConfig(**base)


def _digits():
    return load_dataset("digits", split="train", seed=0)


class NoisyAE(ReprModel):
    """A tiny denoising model that draws from torch's RNG in every step (dropout + Gaussian noise),
    so a resume that forgot the random state would not reproduce the uninterrupted run."""

    name = "noisy"

    def __init__(self, input_shape=(1, 8, 8)):
        super().__init__(None, input_shape)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Dropout(0.3), nn.ReLU(), nn.Linear(16, 64))

    def forward(self, batch: Batch, update: str = "model"):
        x = batch.x
        noisy = x + 0.1 * torch.randn_like(x)
        loss = (self.net(noisy) - x.flatten(1)).pow(2).sum(1).mean()
        return {"loss": loss}


def _fit_noisy(run_dir, max_steps, resume=False, seed=0):
    seed_everything(seed)
    model = NoisyAE()
    data = _digits()
    Trainer(_cfg(max_steps=max_steps, seed=seed), run_dir).fit(model, data, resume=resume)
    return model


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_same_seed_gives_bit_identical_weights_and_metrics(tmp_path):
    rc = build_run_config("ae", None, [("max_steps", 40), ("log_every", 10), ("progress", False), ("tensorboard", False)])
    m1, r1 = train_run(rc, tmp_path / "a")
    m2, r2 = train_run(rc, tmp_path / "b")
    assert _same_weights(m1, m2)
    assert (tmp_path / "a" / "metrics.csv").read_text().splitlines()[1].split(",")[:3] == (
        tmp_path / "b" / "metrics.csv"
    ).read_text().splitlines()[1].split(",")[:3]
    assert r1.train_metrics == r2.train_metrics
    # ... and a different seed gives different weights (the check above can fail).
    rc3 = build_run_config("ae", None, [("max_steps", 40), ("seed", 1), ("progress", False), ("tensorboard", False)])
    m3, _ = train_run(rc3, tmp_path / "c")
    assert not _same_weights(m1, m3)


def test_resume_continues_bit_for_bit_including_random_state(tmp_path):
    full = _fit_noisy(tmp_path / "full", 60)
    _fit_noisy(tmp_path / "part", 40)  # checkpoints at 20 and 40
    # Continue the 40-step run to 60: restores weights, Adam moments, RNG, step.
    resumed = _fit_noisy(tmp_path / "part", 60, resume=True)
    assert _same_weights(full, resumed)
    # Without the random state the numbers would differ: prove the test can fail.
    ckdir = tmp_path / "part2"
    _fit_noisy(ckdir, 40)
    for f in (ckdir / "checkpoints").glob("step-000040/rng-rank0.*"):
        f.unlink()
    ckpt.write_manifest(ckdir / "checkpoints" / "step-000040")
    other = _fit_noisy(ckdir, 60, resume=True)
    assert not _same_weights(full, other)


def test_resume_truncates_metrics_after_the_checkpoint(tmp_path):
    _fit_noisy(tmp_path / "r", 40)
    _fit_noisy(tmp_path / "r", 60, resume=True)
    steps = [int(line.split(",")[0]) for line in (tmp_path / "r" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) == list(range(10, 61, 10))


def test_checkpoints_are_pruned_and_verified(tmp_path):
    _fit_noisy(tmp_path / "r", 60)
    kept = [s for s, _ in ckpt.step_dirs(tmp_path / "r" / "checkpoints")]
    assert kept == [40, 60]  # keep_checkpoints=2
    for _, path in ckpt.step_dirs(tmp_path / "r" / "checkpoints"):
        ckpt.verify(path)
    assert not list((tmp_path / "r" / "checkpoints").glob(".tmp-*"))


def test_corrupt_latest_checkpoint_is_skipped_for_the_previous_one(tmp_path):
    _fit_noisy(tmp_path / "r", 60)
    latest = tmp_path / "r" / "checkpoints" / "step-000060" / "model.safetensors"
    data = bytearray(latest.read_bytes())
    data[-1] ^= 0xFF
    latest.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        ckpt.verify(latest.parent)
    assert ckpt.latest_valid(tmp_path / "r" / "checkpoints") == tmp_path / "r" / "checkpoints" / "step-000040"


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        _fit_noisy(tmp_path / "empty", 20, resume=True)


class ExplodingModel(NoisyAE):
    """Loss becomes NaN from training step ``bad_step`` on (counted by a buffer)."""

    def __init__(self, bad_step: int):
        super().__init__()
        self.bad_step = bad_step
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, batch, update="model"):
        out = super().forward(batch, update)
        if self.training:
            if int(self.calls) >= self.bad_step:
                out["loss"] = out["loss"] * float("nan")
            self.calls += 1
        return out


def test_nan_loss_stops_naming_the_step_and_keeps_last_good_checkpoint(tmp_path):
    seed_everything(0)
    model = ExplodingModel(bad_step=33)
    with pytest.raises(NonFiniteLossError) as err:
        Trainer(_cfg(max_steps=100), tmp_path / "r").fit(model, _digits())
    msg = str(err.value)
    assert "step 33" in msg and "\n" not in msg
    assert "step-000020" in msg  # the last checkpoint written before the NaN
    # The last good checkpoint is intact and holds finite weights; no final weights were written.
    good = ckpt.latest_valid(tmp_path / "r" / "checkpoints")
    assert good.name == "step-000020"
    weights = load_file(str(good / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert not (tmp_path / "r" / "model.safetensors").exists()


class ScriptedValidation(NoisyAE):
    """Validation losses follow a script, so early stopping's decisions are known in advance."""

    def __init__(self, script):
        super().__init__()
        self.script = list(script)

    def evaluate(self, batch):
        return {"loss": torch.tensor(self.script.pop(0) if len(self.script) > 1 else self.script[0])}


def test_early_stopping_stops_after_patience_and_restores_the_best_weights(tmp_path):
    seed_everything(0)
    data = _digits()
    train_part, val = data.split(0.1, 0)
    # One val batch per validation (val set < 256). Best at validation 2 (step 20), no improvement
    # at 3 and 4 (3.95 is within min_delta), so patience 2 stops at step 40.
    model = ScriptedValidation([5.0, 4.0, 4.5, 3.95, 1.0])
    cfg = _cfg(max_steps=200, val_every=10, checkpoint_every=10, keep_checkpoints=10,
               early_stopping_patience=2, early_stopping_min_delta=0.1)
    result = Trainer(cfg, tmp_path / "r").fit(model, train_part, val)
    assert result.stopped_early and result.steps == 40 and result.best_val == 4.0
    at_best = load_file(str(tmp_path / "r" / "checkpoints" / "step-000020" / "model.safetensors"))
    final = load_file(str(tmp_path / "r" / "model.safetensors"))
    assert all(torch.equal(at_best[k], final[k]) for k in at_best)
    at_stop = load_file(str(tmp_path / "r" / "checkpoints" / "step-000040" / "model.safetensors"))
    assert not all(torch.equal(at_stop[k], final[k]) for k in at_stop)


@pytest.mark.parametrize("schedule", ["constant", "cosine", "step"])
def test_lr_schedule_follows_its_formula(schedule):
    cfg = _cfg(max_steps=100, warmup_steps=10, lr_schedule=schedule, lr_step_every=30, lr_gamma=0.5)
    f = lr_lambda(cfg)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    expected = {
        "constant": lambda s: 1.0,
        "cosine": lambda s: 0.5 * (1 + math.cos(math.pi * (s - 10) / 90)),
        "step": lambda s: 0.5 ** ((s - 10) // 30),
    }[schedule]
    for s in (10, 25, 40, 70, 99):
        assert f(s) == pytest.approx(expected(s))


def test_trainer_applies_the_schedule_to_the_optimizer(tmp_path):
    seed_everything(0)
    model = NoisyAE()
    cfg = _cfg(max_steps=50, lr=0.01, lr_schedule="cosine", log_every=50)
    Trainer(cfg, tmp_path / "r").fit(model, _digits())
    state = ckpt.load_state(tmp_path / "r" / "checkpoints" / "step-000050", "state")
    lr_now = state["optimizers"][0]["param_groups"][0]["lr"]
    assert lr_now == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * 50 / 50)), abs=1e-12)


class TwoPlayer(ReprModel):
    """Two parameter sets with their own updates: 'a' every step, 'b' every third step."""

    name = "two"

    def __init__(self):
        super().__init__(None, (1, 8, 8))
        self.a = nn.Linear(64, 1)
        self.b = nn.Linear(64, 1)
        self.seen: list[tuple[str, int]] = []

    def updates(self):
        return [Update("a", self.a.parameters), Update("b", self.b.parameters, every=3, lr=0.1)]

    def forward(self, batch, update="model"):
        layer = self.a if update == "a" else self.b
        return {"loss": layer(batch.x.flatten(1)).pow(2).mean()}


def test_alternating_updates_run_on_their_own_schedule_with_their_own_optimizer(tmp_path):
    seed_everything(0)
    model = TwoPlayer()
    Trainer(_cfg(max_steps=20, checkpoint_every=20), tmp_path / "r").fit(model, _digits())
    state = ckpt.load_state(tmp_path / "r" / "checkpoints" / "step-000020", "state")
    opt_a, opt_b = state["optimizers"]
    step_a = float(next(iter(opt_a["state"].values()))["step"])
    step_b = float(next(iter(opt_b["state"].values()))["step"])
    assert step_a == 20 and step_b == 7  # steps 0, 3, ..., 18
    assert opt_a["param_groups"][0]["lr"] == pytest.approx(1e-3) and opt_b["param_groups"][0]["lr"] == pytest.approx(0.1)
    metrics = (tmp_path / "r" / "metrics.csv").read_text().splitlines()[0]
    assert "train/a/loss" in metrics and "train/b/loss" in metrics


def test_state_flattening_round_trips_optimizer_states():
    p = [nn.Parameter(torch.randn(3, 2)), nn.Parameter(torch.randn(2))]
    for opt in (torch.optim.Adam(p, betas=(0.5, 0.9)), torch.optim.SGD(p, lr=0.1, momentum=0.9)):
        (p[0].sum() + p[1].pow(2).sum()).backward()
        opt.step()
        sd = opt.state_dict()
        tensors, tree = ckpt.flatten_state(sd)
        json.dumps(tree)  # the non-tensor part is plain JSON
        back = ckpt.unflatten_state(json.loads(json.dumps(tree)), tensors)
        assert back["param_groups"] == sd["param_groups"]
        for k, st in sd["state"].items():
            for name, v in st.items():
                assert torch.equal(back["state"][k][name], v) if torch.is_tensor(v) else back["state"][k][name] == v


def test_load_weights_refuses_files_of_another_model_and_garbage(tmp_path):
    small = AutoEncoder(AutoEncoderConfig(hidden=(8,), latent_dim=2), (1, 8, 8))
    big = AutoEncoder(AutoEncoderConfig(hidden=(16,), latent_dim=2), (1, 8, 8))
    weights.save_weights(small, tmp_path / "small.safetensors")
    with pytest.raises(CheckpointError, match="shape"):
        weights.load_weights(tmp_path / "small.safetensors", big)
    other = AutoEncoder(AutoEncoderConfig(hidden=(8, 8), latent_dim=2), (1, 8, 8))
    with pytest.raises(CheckpointError, match="another model"):
        weights.load_weights(tmp_path / "small.safetensors", other)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 7 + b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        weights.load_weights(tmp_path / "junk.safetensors", small)


def test_data_shape_mismatch_is_refused():
    model = AutoEncoder(AutoEncoderConfig(), (1, 28, 28))
    data = TensorData(torch.rand(40, 1, 8, 8))
    with pytest.raises(Exception, match="shape"):
        Trainer(_cfg()).fit(model, data)


@pytest.mark.parametrize("precision,dtype", [("bf16-mixed", torch.float32), ("bf16-true", torch.bfloat16), ("64-true", torch.float64)])
def test_precisions_train_validate_and_reload(tmp_path, precision, dtype):
    import reprlab

    rc = build_run_config("ae", None, [("max_steps", 20), ("precision", precision), ("val_every", 10),
                                       ("progress", False), ("tensorboard", False)])
    model, result = train_run(rc, tmp_path / "r")
    assert math.isfinite(result.val_metrics["val/loss"])
    saved = load_file(str(tmp_path / "r" / "model.safetensors"))
    assert {v.dtype for v in saved.values()} == {dtype}
    loaded = reprlab.load(tmp_path / "r")
    assert torch.isfinite(loaded.reconstruct(torch.rand(3, 1, 8, 8))).all()


@pytest.mark.parametrize("before", [None, "0", "1"])
def test_importing_fabric_leaves_the_cuda_check_setting_as_it_was(before):
    """lightning_fabric sets PYTORCH_NVML_BASED_CUDA_CHECK=1 on import (a per-step NVML query in
    torch.optim); the trainer's import puts back what the process had. Fresh process: the test
    process may have imported lightning_fabric already."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTORCH_NVML_BASED_CUDA_CHECK"}
    if before is not None:
        env["PYTORCH_NVML_BASED_CUDA_CHECK"] = before
    code = (
        "import os, sys; from reprlab.train.trainer import _import_fabric; _import_fabric(); "
        "assert 'lightning_fabric' in sys.modules; print(os.environ.get('PYTORCH_NVML_BASED_CUDA_CHECK'))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == str(before)


def _fit_lbfgs(run_dir, max_steps, resume=False):
    seed_everything(0)
    data = _digits().subset(slice(0, 256))
    model = AutoEncoder(AutoEncoderConfig(hidden=(), latent_dim=4, activation="linear"), (1, 8, 8))
    cfg = _cfg(optimizer="lbfgs", lr=1.0, batch_size=256, max_steps=max_steps, checkpoint_every=2, log_every=1,
               lbfgs_max_iter=5)
    Trainer(cfg, run_dir).fit(model, data, resume=resume)
    return model, data


def test_lbfgs_minimizes_the_full_batch_loss_and_resumes_bit_for_bit(tmp_path):
    """L-BFGS steps through a closure; its state (history, direction) survives a checkpoint."""
    full, data = _fit_lbfgs(tmp_path / "full", 6)
    _fit_lbfgs(tmp_path / "part", 4)
    resumed, _ = _fit_lbfgs(tmp_path / "part", 6, resume=True)
    assert _same_weights(full, resumed)
    state = ckpt.load_state(ckpt.latest_valid(tmp_path / "full" / "checkpoints"), "state")
    assert state["optimizers"][0]["state"][0]["n_iter"] in range(7, 31)  # up to lbfgs_max_iter=5 iterations in each of 6 steps
    # the loss after 30 L-BFGS iterations is far below the loss after one Adam-sized step
    rows = (tmp_path / "full" / "metrics.csv").read_text().splitlines()
    header, first, last = rows[0].split(","), rows[1].split(","), rows[-1].split(",")
    col = header.index("train/loss")
    assert float(last[col]) < 0.5 * float(first[col])


def test_lbfgs_refuses_weight_decay():
    from reprlab.errors import ConfigError

    with pytest.raises(ConfigError, match="weight_decay is not supported with train.optimizer=lbfgs"):
        TrainConfig(optimizer="lbfgs", weight_decay=1e-4)


def _train_gan(freeze: bool, record=None):
    from reprlab.models import GAN, GANConfig

    seed_everything(0)
    data = TensorData(torch.rand(96, 1, 8, 8, generator=torch.Generator().manual_seed(1)), name="tiny")
    model = GAN(GANConfig(arch="conv", channels=(4, 8), latent_dim=4, n_critic=1), (1, 8, 8))
    if record is not None:
        model.after_update = lambda u: record.append((u, [p.grad.clone() for p in model.discriminator.parameters()]))
    trainer = Trainer(TrainConfig(max_steps=6, batch_size=32, progress=False, tensorboard=False))
    trainer.freeze_other_updates = freeze
    trainer.fit(model, data)
    return model


def test_an_update_computes_no_gradient_for_parameters_only_other_updates_step():
    frozen_run, plain_run = [], []
    model = _train_gan(True, frozen_run)
    _train_gan(False, plain_run)
    # frozen: the generator's update leaves D's gradients as its own update left them; the plain
    # recipe adds the generator loss's gradients to them (computed, then thrown away at D's next update)
    for run, same in ((frozen_run, True), (plain_run, False)):
        pairs = [(run[i][1], run[i + 1][1]) for i in range(0, len(run), 2)]
        assert [run[i][0] for i in range(0, len(run), 2)] == ["discriminator"] * 6
        assert all(all(torch.equal(a, b) for a, b in zip(d, g)) == same for d, g in pairs)
    assert all(p.requires_grad for p in model.parameters())  # restored after each update


def test_freezing_other_updates_changes_no_number():
    a, b = _train_gan(True), _train_gan(False)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
