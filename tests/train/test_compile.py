"""``train.compile``: the compiled training step trains the model the trainer returns and saves,
reproduces itself from the same seed and across a resume, and a missing C++ compiler is a
one-line configuration error before any step."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from reprlab.errors import ConfigError
from reprlab.pipelines.training import build_run_config, train_run


def _run(run_dir, compile: bool, model: str = "ae", steps: int = 30, resume: bool = False, **extra):
    rc = build_run_config(model, None, [
        ("train.max_steps", steps), ("train.log_every", 10), ("train.checkpoint_every", 10),
        ("train.progress", False), ("train.tensorboard", False), ("train.compile", compile), *extra.items(),
    ])
    return train_run(rc, run_dir, resume=resume)


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_compiled_steps_train_the_returned_and_saved_model_as_eager_steps_do(tmp_path):
    # The auto-encoder draws no noise: compiled steps take the eager steps, up to float rounding.
    eager, _ = _run(tmp_path / "eager", False)
    comp, _ = _run(tmp_path / "compiled", True)
    init, _ = _run(tmp_path / "init", False, steps=1)
    e, c, i = eager.state_dict(), comp.state_dict(), init.state_dict()
    assert e.keys() == c.keys()
    for k in e:
        torch.testing.assert_close(c[k], e[k], rtol=1e-4, atol=1e-5)
    # ... and the compiled run did train (a wrapper training a copy would leave the weights near init)
    assert max(float((c[k] - i[k]).abs().max()) for k in c) > 1e-3
    # the weights on disk are the trained module's, under its own names (no compile prefix)
    saved = load_file(tmp_path / "compiled" / "model.safetensors")
    assert _states_equal(saved, {k: v.contiguous() for k, v in c.items()})


def test_compiled_vae_is_reproducible_and_resumes_bit_for_bit(tmp_path):
    # The VAE draws ε in every step inside the compiled graph: same seed, same numbers; a resume
    # restores the random state the compiled kernels draw from.
    full, r_full = _run(tmp_path / "full", True, model="vae", steps=20)
    again, r_again = _run(tmp_path / "again", True, model="vae", steps=20)
    assert _states_equal(full.state_dict(), again.state_dict())
    assert r_full.train_metrics == r_again.train_metrics
    _run(tmp_path / "part", True, model="vae", steps=10)
    resumed, _ = _run(tmp_path / "part", True, model="vae", steps=20, resume=True)
    assert _states_equal(full.state_dict(), resumed.state_dict())
    other, _ = _run(tmp_path / "seed1", True, model="vae", steps=20, **{"train.seed": 1})
    assert not _states_equal(full.state_dict(), other.state_dict())  # the checks above can fail


def test_compile_without_a_cpp_compiler_is_a_one_line_config_error(tmp_path, monkeypatch):
    import torch._inductor.cpp_builder as cpp_builder

    def missing():
        raise RuntimeError("Failed to find a working C++ compiler")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", missing)
    with pytest.raises(ConfigError, match=r"train\.compile=true on a CPU needs a C\+\+ compiler") as err:
        _run(tmp_path / "r", True, steps=2)
    assert "\n" not in str(err.value) and "train.compile=false" in str(err.value)
    assert not (tmp_path / "r").exists()  # refused with no run folder left behind
