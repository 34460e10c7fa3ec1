"""The Dirac-GAN (Mescheder et al. 2018): the field through the library's losses equals the paper's
closed form, the Jacobian at (0, 0) has the paper's eigenvalues, and gradient descent does what
the paper says (unregularized: no convergence; R1, R2, Roth, instance noise: convergence)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import error_line, run_cli
from reprlab.errors import ConfigError
from reprlab.models.gan.dirac import (
    MODES,
    PAPER_METHODS,
    DiracMethod,
    closed_form_eigenvalues,
    closed_form_field,
    closed_form_jacobian,
    dirac_method,
    numeric_field,
    numeric_jacobian,
    sort_eigenvalues,
    trajectory,
)
from reprlab.viz.dirac import plot_dirac

COMBOS = [(loss, reg) for loss in ("minimax", "ns", "logratio", "wgan") for reg in ("none", "r1", "r2", "gp", "roth", "noise")
          if not (loss == "wgan" and reg == "roth")]
H = 0.1


def _dist(traj: np.ndarray) -> np.ndarray:
    return np.hypot(traj[..., 0], traj[..., 1])


@pytest.mark.parametrize("loss,reg", COMBOS)
def test_numeric_field_through_the_library_equals_the_closed_form(loss, reg):
    g = torch.Generator().manual_seed(0)
    theta, psi = (torch.rand(2, 64, generator=g, dtype=torch.float64) * 4 - 2).unbind(0)
    method = DiracMethod(loss, reg, gamma=0.7)
    num, closed = numeric_field(method, theta, psi), closed_form_field(method, theta, psi)
    tol = {"noise": 2e-3, "gp": 1e-6}.get(reg, 1e-10)  # noise: 512 quantiles vs Gauss-Hermite; gp: sqrt(ψ²+1e-12)
    for a, b in zip(num, closed):
        assert a.shape == (64,)
        torch.testing.assert_close(a, b, atol=tol, rtol=0)


def test_field_by_hand_at_one_point():
    theta, psi = 1.0, 0.5
    # ns: v = (ψ/(1 + e^{θψ}), −θ/(1 + e^{−θψ}))
    v = numeric_field(DiracMethod("ns"), theta, psi)
    assert float(v[0]) == pytest.approx(0.5 / (1 + math.exp(0.5)), abs=1e-12)
    assert float(v[1]) == pytest.approx(-1.0 / (1 + math.exp(-0.5)), abs=1e-12)
    # minimax + roth (γ = 2): v_ψ = −θσ(θψ) − γ[ψ/4 + σ²ψ + σ²(1 − σ)θψ²]
    s = 1 / (1 + math.exp(-0.5))
    v = numeric_field(DiracMethod("minimax", "roth", 2.0), theta, psi)
    assert float(v[0]) == pytest.approx(0.5 * s, abs=1e-12)
    assert float(v[1]) == pytest.approx(-s - 2 * (0.5 / 4 + s * s * 0.5 + s * s * (1 - s) * 0.25), abs=1e-12)
    # wgan-gp (γ = 3): v = (ψ, −θ − 2γ(|ψ| − 1)), ψ > 0
    v = numeric_field(DiracMethod("wgan-gp", gamma=3.0), theta, psi)
    assert (float(v[0]), float(v[1])) == pytest.approx((0.5, -1.0 + 3.0), abs=1e-9)


@pytest.mark.parametrize("loss,reg", [c for c in COMBOS if c[1] != "gp"])
def test_numeric_jacobian_at_equilibrium_matches_the_closed_form(loss, reg):
    method = DiracMethod(loss, reg, gamma=0.7)
    J = numeric_jacobian(method)
    np.testing.assert_allclose(J, closed_form_jacobian(method), atol=1e-9)
    lam = sort_eigenvalues(np.linalg.eigvals(J))
    np.testing.assert_allclose(lam, closed_form_eigenvalues(method), atol=1e-7)


def test_eigenvalues_are_the_papers():
    # unregularized: ±i f'(0) = ±i/2 (GAN), ±i (WGAN); R1/R2: −γ/2 ± sqrt(γ²/4 − f'(0)²)
    np.testing.assert_allclose(closed_form_eigenvalues(DiracMethod("minimax")), [-0.5j, 0.5j], atol=1e-12)
    np.testing.assert_allclose(sort_eigenvalues(np.linalg.eigvals(numeric_jacobian(DiracMethod("wgan")))), [-1j, 1j], atol=1e-12)
    for gamma in (0.3, 2.0):
        root = np.sqrt(complex(gamma**2 / 4 - 0.25))
        expected = sort_eigenvalues([-gamma / 2 - root, -gamma / 2 + root])
        for reg in ("r1", "r2"):
            got = sort_eigenvalues(np.linalg.eigvals(numeric_jacobian(DiracMethod("minimax", reg, gamma))))
            np.testing.assert_allclose(got, expected, atol=1e-12)
            assert np.all(got.real < 0)


def test_wgan_gp_has_no_closed_form_jacobian_and_the_smoothed_one_is_unstable():
    method = DiracMethod("wgan-gp", gamma=1.0)
    assert closed_form_jacobian(method) is None and closed_form_eigenvalues(method) is None
    lam = np.linalg.eigvals(numeric_jacobian(method))
    assert lam.real.max() > 1e5  # ∂v_ψ/∂ψ ≈ 2γ/1e-6 from sqrt(ψ² + 1e-12)
    # the one-sided zero of v at (2γ, 0⁺): the critic's gradient θ balances the penalty's −2γ
    v = closed_form_field(method, 2.0, 1e-9)
    assert abs(float(v[0])) < 1e-8 and abs(float(v[1])) < 1e-8


def test_simultaneous_descent_on_the_minimax_gan_moves_away_every_step():
    traj = trajectory(DiracMethod("minimax"), (1.0, 1.0), H, 200, "simultaneous")
    r2 = (traj**2).sum(-1)
    v = torch.stack(numeric_field(DiracMethod("minimax"), traj[:-1, 0], traj[:-1, 1]), -1).numpy()
    # v ⟂ (θ, ψ), so r²_{k+1} = r²_k + h²‖v_k‖² > r²_k
    np.testing.assert_allclose(np.diff(r2), H**2 * (v**2).sum(-1), rtol=1e-9)
    assert np.all(np.diff(r2) > 0)


@pytest.mark.parametrize("method", [DiracMethod("minimax"), DiracMethod("ns"), DiracMethod("logratio"), DiracMethod("wgan")],
                         ids=lambda m: m.loss)
def test_simultaneous_descent_spirals_out_of_the_unregularized_equilibrium(method):
    start = np.array([0.05, 0.05])
    traj = trajectory(method, start, H, 300, "simultaneous")
    assert _dist(traj[-1]) > 1.2 * _dist(start)


def test_linear_growth_rate_is_the_modulus_of_one_plus_h_lambda():
    traj = trajectory(DiracMethod("minimax"), (1e-4, 0.0), H, 300, "simultaneous")
    lam = closed_form_eigenvalues(DiracMethod("minimax"))
    assert _dist(traj[-1]) / 1e-4 == pytest.approx(abs(1 + H * lam[0]) ** 300, rel=1e-4)


@pytest.mark.parametrize("name", ["gan", "ns", "logratio", "wgan", "wgan-gp"])
@pytest.mark.parametrize("mode", MODES)
def test_unregularized_gans_and_wgans_do_not_converge(name, mode):
    traj = trajectory(PAPER_METHODS[name][1], (1.0, 1.0), H, 200, mode)
    assert _dist(traj[-100:]).min() > 0.3


@pytest.mark.parametrize("name", ["r1", "r2", "roth", "noise"])
@pytest.mark.parametrize("mode", MODES)
def test_zero_centered_penalties_and_instance_noise_converge(name, mode):
    traj = trajectory(PAPER_METHODS[name][1], (1.0, 1.0), H, 300, mode)
    assert _dist(traj[-1]) < 1e-2


def test_alternating_descent_keeps_the_unregularized_gan_on_a_bounded_cycle():
    method = DiracMethod("minimax")
    alt_traj = trajectory(method, (1.0, 1.0), H, 500, "alternating")
    alt, sim = _dist(alt_traj), _dist(trajectory(method, (1.0, 1.0), H, 500, "simultaneous"))
    r0 = math.sqrt(2)
    assert 0.95 * r0 < alt.min() and alt.max() < 1.01 * r0  # circles: neither in nor out
    assert sim[-1] > 1.4 * r0  # simultaneous: spirals out
    # it does go round: θ changes sign several times
    assert (np.diff(np.sign(alt_traj[:, 0])) != 0).sum() >= 4


def test_wgan_clipping_keeps_psi_in_range_and_trajectories_match_both_fields():
    method = dirac_method("wgan")  # the paper's defaults: |ψ| ≤ 1, n_d = 5
    assert method.clip == 1.0 and method.n_critic == 5
    traj = trajectory(method, (1.5, 0.5), H, 50, "alternating")
    assert traj.shape == (51, 2) and np.abs(traj[:, 1]).max() <= 1.0
    r1 = DiracMethod("minimax", "r1", 1.0)
    batch = trajectory(r1, [(1.0, 1.0), (-0.5, 1.5)], H, 40, "simultaneous", field="numeric")
    assert batch.shape == (41, 2, 2)
    np.testing.assert_allclose(batch, trajectory(r1, [(1.0, 1.0), (-0.5, 1.5)], H, 40, "simultaneous", field="closed"),
                               atol=1e-12)
    np.testing.assert_allclose(batch[:, 1], trajectory(r1, (-0.5, 1.5), H, 40, "simultaneous"), atol=1e-15)


def test_the_gp_field_leaves_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    numeric_field(DiracMethod("wgan-gp"), torch.ones(4), torch.ones(4))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kwargs", [dict(loss="foo"), dict(reg="bar"), dict(loss="wgan", reg="roth"),
                                    dict(loss="wgan-gp", reg="r1"), dict(gamma=-1.0), dict(clip=0.0),
                                    dict(n_critic=0)])
def test_bad_settings_raise_config_errors(kwargs):
    with pytest.raises(ConfigError):
        DiracMethod(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(lr=0.0), dict(steps=0), dict(mode="sideways"), dict(field="both")])
def test_bad_dynamics_raise_config_errors(kwargs):
    with pytest.raises(ConfigError):
        trajectory(DiracMethod(), **kwargs)


def test_plot_dirac_draws_one_panel_per_method(tmp_path):
    analyses = plot_dirac(["gan", DiracMethod("minimax", "r1", 1.0)], tmp_path / "f.png", steps=30)
    assert [a.title for a in analyses] == ["standard GAN", "minimax + r1 (γ=1)"]
    assert set(analyses[0].trajectories) == set(MODES) and analyses[0].trajectories["alternating"].shape == (31, 2)
    with Image.open(tmp_path / "f.png") as im:
        assert im.size[0] > 2 * im.size[1] * 0.9  # two panels side by side
    with pytest.raises(ConfigError):
        plot_dirac(["nope"], tmp_path / "g.png")


def test_cli_dirac_writes_a_png_and_prints_the_eigenvalues(tmp_path, capsys):
    out = tmp_path / "r1.png"
    code, stdout, _ = run_cli(capsys, "dirac", "--loss", "minimax", "--reg", "r1", "--gamma", "1", "--steps", "300",
                              "--mode", "both", "-o", str(out))
    assert code == 0
    with Image.open(out) as im:
        im.verify()
    rec = json.loads(stdout)
    assert set(rec["final_distance"]) == set(MODES) and max(rec["final_distance"].values()) < 1e-2
    np.testing.assert_allclose(rec["numeric_eigenvalues"], [[-0.5, 0.0], [-0.5, 0.0]], atol=1e-6)
    np.testing.assert_allclose(rec["closed_form_eigenvalues"], [[-0.5, 0.0], [-0.5, 0.0]], atol=1e-12)
    code, stdout, _ = run_cli(capsys, "dirac", "--all", "--steps", "5", "--mode", "alternating", "-o", str(out))
    recs = json.loads(stdout)
    assert code == 0 and [r["method"] for r in recs] == [t for t, _ in PAPER_METHODS.values()]
    assert all(list(r["final_distance"]) == ["alternating"] for r in recs)
    assert next(r for r in recs if r["reg"] == "gp")["closed_form_eigenvalues"] is None


@pytest.mark.parametrize("argv", [["--loss", "foo"], ["--reg", "roth", "--loss", "wgan"], ["--lr", "0"], ["--mode", "x"],
                                  ["--start", "1"], ["--gamma", "-1"], ["--steps", "0"], ["--loss", "wgan", "--clip", "-1"],
                                  ["--n-critic", "0"], ["-o", "fig.jpg"]])
def test_cli_dirac_bad_values_give_one_line_and_exit_2(argv, tmp_path, capsys):
    args = argv if "-o" in argv else [*argv, "-o", str(tmp_path / "x.png")]
    code, _, err = run_cli(capsys, "dirac", *args)
    assert code == 2
    error_line(err)
