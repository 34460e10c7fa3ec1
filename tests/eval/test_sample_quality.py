"""``reprlab eval`` on GAN, AAE and Tempered GAN runs prints their sample quality (issue 18, item 5):
classifier FID / KID / precision / recall on images, mode coverage on the 2-D mixtures."""

from __future__ import annotations

import json

import pytest
import torch

import reprlab
from helpers import error_line, run_cli
from reprlab.cli import main
from reprlab.data import load_dataset
from reprlab.eval.features import classifier_features
from reprlab.eval.fid import image_quality
from reprlab.eval.modes import mixture_mode_coverage
from reprlab.eval.sample_quality import generated_image_quality, sample_quality

pytestmark = pytest.mark.usefixtures("one_thread")

IMAGE_KEYS = {"fid", "kid", "kid_std", "precision", "recall"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny runs trained by the CLI: a GAN on ring8, a conv GAN, an AAE, a Tempered GAN and an AE on digits."""
    root = tmp_path_factory.mktemp("runs")
    specs = {
        "gan-ring8": ["gan", "--data", "ring8:2000", "g_hidden=[16]", "d_hidden=[16]", "--steps", "30"],
        "gan-digits": ["gan", "--data", "digits", "arch=conv", "channels=[8,16]", "latent_dim=8", "--steps", "10"],
        "aae-digits": ["aae", "--data", "digits", "hidden=[32]", "--steps", "10"],
        "tempered-digits": ["tempered-gan", "--data", "digits", "arch=conv", "channels=[8,16]", "lens_steps=4", "--steps", "8"],
        "ae-digits": ["ae", "--data", "digits", "hidden=[16]", "--steps", "5"],
    }
    for name, argv in specs.items():
        assert main(["-q", "train", *argv, "train.checkpoint_every=1000", "--run-dir", str(root / name)]) == 0, name
    return root


def _eval(capsys, run, *flags):
    code, out, err = run_cli(capsys, "-q", "eval", str(run), *flags)
    assert code == 0, err
    return json.loads(out)


class _Points:
    """A "generator" that draws from the true mixture: full mode coverage."""

    def sample(self, n, generator=None):
        from reprlab.data.toy import sample_mixture

        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        return sample_mixture("ring8", n, seed)[0]


class _Replay:
    """A "generator" that returns the real images, shuffled by the generator: FID against them ~0."""

    def __init__(self, x):
        self.x, self.input_shape = x, tuple(x.shape[1:])

    def sample(self, n, generator=None):
        return self.x[torch.randperm(len(self.x), generator=generator)[:n]]


def test_toy_gan_eval_prints_mode_coverage_of_2500_samples(runs, capsys):
    out = _eval(capsys, runs / "gan-ring8")
    assert out["data"] == "ring8:2000" and out["split"] == "test" and out["n"] == 400
    assert out["n_samples"] == 2500 and out["seed"] == 0 and out["mixture"] == "ring8" and out["modes_total"] == 8
    assert 0 <= out["modes"] <= 8 and 0 <= out["hq"] <= 1 and len(out["per_mode_counts"]) == 8
    assert sum(out["per_mode_counts"]) == round(out["hq"] * 2500)
    # the same numbers as the library's mode coverage of the same samples
    model = reprlab.load(runs / "gan-ring8")
    direct = mixture_mode_coverage(model.sample(2500, torch.Generator().manual_seed(0)), "ring8")
    assert (out["modes"], out["hq"], out["per_mode_counts"]) == (direct["modes"], direct["hq"], direct["per_mode_counts"])
    other = _eval(capsys, runs / "gan-ring8", "--samples", "500", "--seed", "1")
    assert other["n_samples"] == 500 and other["seed"] == 1 and sum(other["per_mode_counts"]) == round(other["hq"] * 500)


def test_mode_coverage_of_the_true_mixture_is_full():
    test = load_dataset("ring8:1000", split="test")
    q = sample_quality(_Points(), test)
    assert q["modes"] == 8 and q["hq"] > 0.99 and q["kl"] < 0.01 and q["n_samples"] == 2500


def test_image_gan_eval_prints_fid_kid_precision_recall_with_its_feature_network(runs, capsys):
    out = _eval(capsys, runs / "gan-digits")
    assert IMAGE_KEYS <= set(out) and out["n"] == out["n_samples"] == 359 and out["split"] == "test" and out["seed"] == 0
    net = out["feature_network"]
    assert net["name"].startswith("classifier") and net["data"] == "digits" and net["dim"] == 128 and net["test_accuracy"] > 0.9
    assert out["fid"] > 0 and 0 <= out["precision"] <= 1 and 0 <= out["recall"] <= 1
    # the printed FID is the library function's, same samples (seed 0) against the same split
    model, test = reprlab.load(runs / "gan-digits"), load_dataset("digits", split="test")
    features = classifier_features("digits", log=lambda m: None)
    direct = generated_image_quality(model, test.x, features, 359, seed=0)
    assert {k: out[k] for k in IMAGE_KEYS} == pytest.approx(direct, rel=1e-12)
    seeded = _eval(capsys, runs / "gan-digits", "--samples", "200", "--seed", "2")
    assert seeded["n_samples"] == 200 and seeded["seed"] == 2 and seeded["fid"] != out["fid"]


def test_generated_image_quality_is_gan_mnist_s_scoring_and_zero_on_the_real_images(runs):
    """``benchmarks/gan_mnist.py`` scores through the library now: the same numbers as its former
    inline code; and the real split scored against itself gives FID ~0, precision = recall = 1."""
    model, test = reprlab.load(runs / "gan-digits"), load_dataset("digits", split="test")
    features = classifier_features("digits", log=lambda m: None)
    n, seed = 2000, 1
    fake = torch.cat([model.sample(1000, torch.Generator().manual_seed(seed * 100 + i)) for i in range(n // 1000)])
    before = image_quality(test.x, fake.clamp(0, 1), features, kid_subsets=50, kid_subset_size=min(1000, n))
    assert generated_image_quality(model, test.x, features, n, seed=seed) == before
    same = sample_quality(_Replay(test.x), test, log=lambda m: None)
    assert same["fid"] == pytest.approx(0, abs=1e-6) and same["precision"] == same["recall"] == 1.0
    assert same["n_samples"] == len(test)


@pytest.mark.parametrize("run", ["aae-digits", "tempered-digits"])
def test_aae_and_tempered_gan_runs_print_sample_quality(runs, capsys, run):
    out = _eval(capsys, runs / run, "--samples", "300")
    assert IMAGE_KEYS <= set(out) and out["n_samples"] == 300 and out["feature_network"]["dim"] == 128
    if run == "aae-digits":  # the AAE still prints its reconstruction metrics
        assert "mse" in out


def test_too_few_samples_for_fid_is_one_line_exit_2(runs, capsys):
    code, out, err = run_cli(capsys, "eval", str(runs / "gan-digits"), "--samples", "50")
    line = error_line(err)
    assert code == 2 and out == "" and "--samples >= 128" in line and "50" in line


def test_a_family_without_samples_keeps_its_eval(runs, capsys):
    out = _eval(capsys, runs / "ae-digits")
    assert "mse" in out and not IMAGE_KEYS & set(out) and "n_samples" not in out
    code, _, err = run_cli(capsys, "eval", str(runs / "ae-digits"), "--samples", "200")
    assert code == 2 and "--samples" in error_line(err)


# ------------------------------------------------------------------ the truncation trick
def test_truncated_normal_has_the_truncated_density_and_is_deterministic():
    """Every coordinate lies in [-ψ, ψ] and follows φ(z)/(2Φ(ψ) − 1) there (a KS test against scipy's
    truncnorm, an independent implementation); the same generator seed gives the same draws."""
    from scipy import stats

    from reprlab.models.gan.model import truncated_normal

    psi = 0.7
    z = truncated_normal(4000, 8, psi, torch.Generator().manual_seed(3))
    assert z.shape == (4000, 8) and float(z.abs().max()) <= psi
    assert stats.kstest(z.flatten().numpy(), stats.truncnorm(-psi, psi).cdf).pvalue > 1e-3
    assert stats.kstest(z.flatten().numpy(), stats.norm.cdf).pvalue < 1e-6  # not the untruncated normal
    assert torch.equal(z, truncated_normal(4000, 8, psi, torch.Generator().manual_seed(3)))
    with pytest.raises(reprlab.errors.UsageError, match="> 0"):
        truncated_normal(2, 2, 0.0)
    # a tiny ψ is one draw, not a search; a huge ψ is the plain normal
    tiny = truncated_normal(1000, 4, 1e-6, torch.Generator().manual_seed(0))
    assert float(tiny.abs().max()) <= 1e-6 and float(tiny.std()) > 3e-7
    wide = truncated_normal(4000, 8, 1e6, torch.Generator().manual_seed(1)).flatten().numpy()
    assert stats.kstest(wide, stats.norm.cdf).pvalue > 1e-3


def test_a_gan_samples_decode_the_truncated_noise_and_eval_scores_them(runs, capsys):
    """``sample(truncation=ψ)`` is G applied to :func:`truncated_normal` of the same generator; ``reprlab
    eval --truncation`` scores those samples (the library function's numbers) and says which ψ."""
    from reprlab.models.gan.model import truncated_normal

    model = reprlab.load(runs / "gan-digits")
    z = truncated_normal(16, model.config.latent_dim, 0.5, torch.Generator().manual_seed(4))
    x = model.sample(16, torch.Generator().manual_seed(4), truncation=0.5)
    assert torch.allclose(x, model.decode(z)) and not torch.allclose(x, model.sample(16, torch.Generator().manual_seed(4)))
    out = _eval(capsys, runs / "gan-digits", "--samples", "200", "--truncation", "0.5")
    test = load_dataset("digits", split="test")
    direct = generated_image_quality(model, test.x, classifier_features("digits", log=lambda m: None), 200, truncation=0.5)
    assert out["truncation"] == 0.5 and {k: out[k] for k in IMAGE_KEYS} == pytest.approx(direct, rel=1e-12)
    plain = _eval(capsys, runs / "gan-digits", "--samples", "200")
    assert "truncation" not in plain and plain["fid"] != out["fid"]


@pytest.mark.parametrize("run,flag,expect", [("aae-digits", "1.0", "drop --truncation"),
                                             ("gan-digits", "-1", "must be > 0"),
                                             ("ae-digits", "1.0", "--truncation")])
def test_truncation_for_a_model_without_it_or_a_bad_psi_is_one_line_exit_2(runs, capsys, run, flag, expect):
    code, out, err = run_cli(capsys, "eval", str(runs / run), "--truncation", flag)
    assert code == 2 and out == "" and expect in error_line(err)


def test_sample_writes_a_grid_of_truncated_samples_and_refuses_a_bad_psi(runs, capsys, tmp_path):
    code, _, err = run_cli(capsys, "sample", str(runs / "gan-digits"), "-o", str(tmp_path / "t.png"), "--truncation", "0.8")
    assert code == 0 and (tmp_path / "t.png").stat().st_size > 0, err
    code, _, err = run_cli(capsys, "sample", str(runs / "aae-digits"), "-o", str(tmp_path / "a.png"), "--truncation", "0.8")
    assert code == 2 and "drop --truncation" in error_line(err) and not (tmp_path / "a.png").exists()
