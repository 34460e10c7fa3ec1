"""The fast elementwise log-likelihood pieces against PyTorch's log1p-based ones and float64 references."""

import pytest
import torch
import torch.nn.functional as F

from reprlab.models.functional import bernoulli_log_prob, softplus


def reference_softplus(t: torch.Tensor) -> torch.Tensor:
    """log(1 + e^t) in float64 with log1p, without softplus's linear cut-off above t = 20."""
    t = t.double()
    return t.clamp(min=0) + torch.log1p(torch.exp(-t.abs()))


def test_softplus_keeps_log1p_accuracy_over_the_whole_float_range():
    t = torch.cat([torch.linspace(-120, 120, 20001), torch.tensor([-1e-6, 0.0, 1e-6, -16.7, -17.0, -17.4, 88.0, 200.0])])
    ours = softplus(t).double()
    ref = reference_softplus(t)
    normal = ref > torch.finfo(torch.float32).tiny  # below it float32 underflows (to subnormals, then 0), as log1p's
    rel = ((ours - ref).abs() / ref)[normal].max().item()
    # log1p in float32 is within a few ulps (2^-23 ≈ 1.2e-7); a plain log(1 + e^-|t|) is wrong by 100 % for t < -17
    assert rel < 5e-7
    assert (ours - ref)[~normal].abs().max().item() < 1e-44
    naive = (t.clamp(min=0) + torch.log(1 + torch.exp(-t.abs()))).double()
    assert ((naive - ref).abs() / ref.clamp(min=1e-300)).max().item() > 0.5  # the case Kahan's correction exists for
    assert torch.isinf(softplus(torch.tensor([float("inf")]))).all()
    assert softplus(torch.tensor([float("-inf")])).item() == 0.0
    assert torch.isnan(softplus(torch.tensor([float("nan")]))).all()
    # its derivative is sigmoid(t), at t = 0 too (where autograd through max(t, 0) and |t| gives 1)
    t64 = torch.linspace(-30, 30, 61, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(softplus(t64).sum(), t64)
    torch.testing.assert_close(grad, torch.sigmoid(t64.detach()))
    assert torch.autograd.gradgradcheck(softplus, (torch.randn(7, dtype=torch.float64, requires_grad=True) * 4,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bernoulli_log_prob_equals_minus_torch_bce_in_value_and_gradient(dtype):
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(64, 97, generator=g, dtype=dtype) * 8).requires_grad_()
    x = torch.rand(64, 97, generator=g, dtype=dtype)
    x[:, :40] = x[:, :40].round()  # binary pixels and grey ones
    ours = bernoulli_log_prob(logits, x)
    (g_ours,) = torch.autograd.grad(ours.sum(), logits)
    ref = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    (g_ref,) = torch.autograd.grad(ref.sum(), logits)
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(ours, ref, **tol)
    torch.testing.assert_close(g_ours, g_ref, **tol)


def test_bernoulli_log_prob_first_and_second_derivatives_pass_gradcheck():
    g = torch.Generator().manual_seed(1)
    logits = (torch.randn(6, 5, generator=g, dtype=torch.float64) * 4).requires_grad_()
    x = torch.rand(6, 5, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(bernoulli_log_prob, (logits, x))
    assert torch.autograd.gradgradcheck(bernoulli_log_prob, (logits, x))


def test_bernoulli_log_prob_is_stable_for_saturated_logits_and_broadcasts_x():
    logits = torch.tensor([[100.0, -100.0, 100.0, -100.0]])
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    out = bernoulli_log_prob(logits, x)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, -100.0, -100.0]]))
    # x of another dtype and a broadcastable shape, as a decoder's k samples of one image
    many = torch.randn(3, 2, 4, dtype=torch.float64)
    out = bernoulli_log_prob(many, x.bool())
    assert out.shape == (3, 2, 4) and out.dtype == torch.float64
    torch.testing.assert_close(out, -F.binary_cross_entropy_with_logits(many, x.double().expand_as(many), reduction="none"))
