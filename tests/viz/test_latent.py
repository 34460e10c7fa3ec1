"""Morphing: straight and spherical paths, decoded interpolations, traversal grids."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from reprlab.errors import UsageError
from reprlab.models.autoencoder import AutoEncoder, AutoEncoderConfig
from reprlab.viz.latent import interpolate, lerp, slerp, traversal_codes, traversal_grid


def test_lerp_ends_at_both_codes_with_equal_steps():
    z0, z1 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([3.0, -1.0, 0.0])
    path = lerp(z0, z1, 4)
    assert path.shape == (4, 3)
    torch.testing.assert_close(path[0], z0.double())
    torch.testing.assert_close(path[-1], z1.double())
    steps = path.diff(dim=0).norm(dim=1)
    torch.testing.assert_close(steps, torch.full((3,), float((z1 - z0).norm() / 3), dtype=torch.float64))


def test_slerp_follows_the_great_circle_at_constant_angle():
    z0 = torch.tensor([2.0, 0.0, 0.0])
    z1 = torch.tensor([0.0, 2.0, 0.0])
    path = slerp(z0, z1, 5)
    torch.testing.assert_close(path.norm(dim=1), torch.full((5,), 2.0, dtype=torch.float64))
    # hand-worked: the point at t = 1/4 of a right angle is 2(cos 22.5°, sin 22.5°, 0)
    a = math.pi / 8
    torch.testing.assert_close(path[1], torch.tensor([2 * math.cos(a), 2 * math.sin(a), 0.0], dtype=torch.float64))
    cos = (path[:-1] * path[1:]).sum(1) / 4
    torch.testing.assert_close(cos, torch.full((4,), math.cos(a), dtype=torch.float64))


def test_slerp_of_parallel_or_zero_codes_is_the_straight_line():
    z0 = torch.tensor([1.0, 1.0])
    torch.testing.assert_close(slerp(z0, 3 * z0, 4), lerp(z0, 3 * z0, 4))
    torch.testing.assert_close(slerp(torch.zeros(2), z0, 3), lerp(torch.zeros(2), z0, 3))


@pytest.mark.parametrize(
    "z0, z1, steps, match",
    [
        (torch.zeros(2), torch.zeros(3), 5, "same size"),
        (torch.zeros(2), torch.zeros(2), 1, "at least 2 steps"),
        (torch.tensor([0.0, float("nan")]), torch.zeros(2), 5, "NaN"),
    ],
)
def test_bad_paths_are_clear_errors(z0, z1, steps, match):
    with pytest.raises(UsageError, match=match):
        lerp(z0, z1, steps)


@pytest.fixture(scope="module")
def ae2():
    torch.manual_seed(0)
    return AutoEncoder(AutoEncoderConfig(hidden=[16], latent_dim=2, loss="bce"), (1, 8, 8)).eval()


def test_interpolation_ends_are_the_reconstructions(ae2):
    x = torch.rand(2, 1, 8, 8)
    for path in ("linear", "slerp"):
        imgs = interpolate(ae2, x[0], x[1], steps=6, path=path)
        assert imgs.shape == (6, 1, 8, 8)
        with torch.no_grad():
            rec = ae2.reconstruct(x)
        torch.testing.assert_close(imgs[0], rec[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(imgs[-1], rec[1], atol=1e-5, rtol=0)


def test_traversal_codes_gaussian_grid_is_the_inverse_cdf_of_a_uniform_grid():
    z = traversal_codes(4, prior="gaussian")
    u = norm.ppf((np.arange(4) + 0.5) / 4)
    assert z.shape == (16, 2)
    np.testing.assert_allclose(z[:4, 0].numpy(), u)  # first row: z1 increases left to right
    np.testing.assert_allclose(z[::4, 1].numpy(), u[::-1])  # first column: z2 decreases top to bottom


def test_traversal_codes_span_the_codes_range():
    codes = torch.tensor([[x, y] for x in range(11) for y in range(-5, 6)], dtype=torch.float64)
    z = traversal_codes(3, codes, quantile=0.0)
    assert sorted(set(z[:, 0].tolist())) == [0.0, 5.0, 10.0]
    assert sorted(set(z[:, 1].tolist())) == [-5.0, 0.0, 5.0]


def test_traversal_grid_decodes_n_squared_images_and_needs_2d_codes(ae2):
    assert traversal_grid(ae2, 5, prior="gaussian").shape == (25, 1, 8, 8)
    with pytest.raises(UsageError, match="2-D codes"):
        traversal_codes(5, torch.zeros(10, 3))
    with pytest.raises(UsageError, match="needs the data's codes"):
        traversal_codes(5)


def test_oneshot_answer_rows_frame_the_choice_by_correctness():
    import torch

    from reprlab.data.fewshot import FewShotTasks
    from reprlab.viz.oneshot import GREEN, GREY, RED, oneshot_answer_rows

    x = torch.stack([torch.full((1, 4, 4), v) for v in (0.0, 0.5, 1.0, 0.52)])  # 4 images
    tasks = FewShotTasks(x, support=torch.tensor([[0, 1, 2], [0, 1, 2]]), support_class=torch.tensor([[0, 1, 2], [0, 1, 2]]),
                         query=torch.tensor([[3], [3]]), answer=torch.tensor([[1], [2]]), n_way=3, k_shot=1)
    pixel = lambda q, s: -torch.cdist(q.flatten(1), s.flatten(1))  # noqa: E731  (chooses image 1 = 0.5)
    rows, per_row = oneshot_answer_rows(pixel, tasks, n=2, seed=None)
    assert per_row == 4 and rows.shape == (8, 3, 6, 6)
    corner = lambda img: tuple(round(float(v), 2) for v in img[:, 0, 0])  # noqa: E731
    assert corner(rows[0]) == GREY and corner(rows[2]) == GREEN  # task 1: right
    assert corner(rows[6]) == RED and corner(rows[7]) != RED  # task 2: chose image 1, the answer was 2
    shuffled, _ = oneshot_answer_rows(pixel, tasks, n=2, seed=3)  # same frames, in another order
    assert sorted(corner(r) for r in shuffled) == sorted(corner(r) for r in rows)
