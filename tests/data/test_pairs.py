"""Pairs and triplets: counts, ratios, hooks, files, determinism; random affine distortions."""

from __future__ import annotations

import math

import pytest
import torch

from reprlab.data.augment import random_affine
from reprlab.data.base import TensorBatches, TensorData
from reprlab.data.pairs import make_pairs, make_triplets, read_pairs
from reprlab.errors import DataError


def _data(counts=(3, 4, 5), groups=None):
    y = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    extras = {"alphabet": torch.as_tensor(groups)[y]} if groups is not None else {}
    return TensorData(torch.arange(len(y), dtype=torch.float32)[:, None].repeat(1, 3), y, name="toy", extras=extras)


def test_all_similar_pairs_and_the_dissimilar_ratio():
    d = _data()
    p = make_pairs(d, ratio=3, seed=0)
    n_sim = math.comb(3, 2) + math.comb(4, 2) + math.comb(5, 2)
    assert p.num_similar == n_sim and len(p) == 4 * n_sim
    y = d.y[p.pairs]
    assert torch.equal((y[:, 0] == y[:, 1]).float(), p.same)  # labels agree with `same`
    sim = {tuple(sorted(r)) for r in p.pairs[p.same == 1].tolist()}
    assert len(sim) == n_sim  # every similar pair once


def test_fractional_ratio_per_class_and_determinism():
    d = _data((10, 10, 10))
    p = make_pairs(d, ratio=2.5, per_class=7, seed=1)
    assert p.num_similar == 21
    assert abs((len(p) - 21) / 21 - 2.5) < 0.6
    q = make_pairs(d, ratio=2.5, per_class=7, seed=1)
    assert torch.equal(p.pairs, q.pairs) and torch.equal(p.same, q.same)
    assert not torch.equal(p.pairs, make_pairs(d, ratio=2.5, per_class=7, seed=2).pairs)


def test_same_group_negatives_and_a_user_hook():
    d = _data((4, 4, 4, 4), groups=[0, 0, 1, 1])  # classes 0,1 in alphabet 0; 2,3 in alphabet 1
    p = make_pairs(d, ratio=2, negatives="same:alphabet", seed=0)
    neg = p.pairs[p.same == 0]
    a = d.extras["alphabet"]
    assert torch.equal(a[neg[:, 0]], a[neg[:, 1]]) and (d.y[neg[:, 0]] != d.y[neg[:, 1]]).all()
    hook = make_pairs(d, ratio=1, negative_fn=lambda i, cand, rng: int(cand.max()), seed=0)
    neg = hook.pairs[hook.same == 0]
    assert set(neg[:, 1].tolist()) <= {11, 15}  # the largest index of another class
    with pytest.raises(DataError, match="own class"):
        make_pairs(d, ratio=1, negative_fn=lambda i, cand, rng: i)
    with pytest.raises(DataError, match="same:alphabet"):
        make_pairs(d, negatives="same:drawer")


def test_pair_batches_carry_both_images_and_the_label():
    d = _data()
    p = make_pairs(d, ratio=1, seed=0)
    b = TensorBatches(p, 5, seed=0).at_step(0)
    assert b.x.shape == (5, 3) and b.extras["x2"].shape == (5, 3)
    i, j = b.x[:, 0].long(), b.extras["x2"][:, 0].long()  # the toy image is its own index
    assert torch.equal((d.y[i] == d.y[j]).float(), b.y)


def test_read_pairs_from_a_file_and_its_errors(tmp_path):
    d = _data()
    f = tmp_path / "pairs.csv"
    f.write_text("i,j,same\n0,1,1\n0,5,0\n2,11,false\n")
    p = read_pairs(f, d)
    assert p.pairs.tolist() == [[0, 1], [0, 5], [2, 11]] and p.same.tolist() == [1.0, 0.0, 0.0]
    f.write_text("i,j,same\n0,1,maybe\n")
    with pytest.raises(DataError, match=":2: expected integers"):
        read_pairs(f, d)
    f.write_text("a,b\n0,1\n")
    with pytest.raises(DataError, match="header i,j,same"):
        read_pairs(f, d)
    f.write_text("i,j,same\n0,99,1\n")
    with pytest.raises(DataError, match=r"pairs.csv:2: row 99 does not exist: toy has 12 rows \(0..11\)"):
        read_pairs(f, d)
    with pytest.raises(DataError, match="not found"):
        read_pairs(tmp_path / "none.csv", d)


def test_unlabelled_data_or_singletons_are_clear_errors():
    with pytest.raises(DataError, match="need labels"):
        make_pairs(TensorData(torch.zeros(4, 2)))
    with pytest.raises(DataError, match="no class has 2 samples"):
        make_pairs(_data((1, 1, 1)))


def test_triplets_have_a_positive_and_a_negative():
    d = _data((3, 4, 5))
    t = make_triplets(d, 50, seed=0)
    y = d.y[t]
    assert t.shape == (50, 3) and (y[:, 0] == y[:, 1]).all() and (y[:, 0] != y[:, 2]).all()
    assert (t[:, 0] != t[:, 1]).all()
    assert torch.equal(t, make_triplets(d, 50, seed=0))


def test_random_affine_with_p0_is_the_identity_and_translation_moves_pixels():
    x = torch.zeros(2, 1, 21, 21)
    x[:, 0, 10, 10] = 1.0
    torch.testing.assert_close(random_affine(x, p=0.0), x)
    g = torch.Generator().manual_seed(0)
    y = random_affine(x, g, rotation=0, shear=0, scale=(1, 1), translate=3.0, p=1.0)
    assert y.shape == x.shape and y.sum(dim=(1, 2, 3)).allclose(torch.ones(2), atol=1e-5)  # mass kept
    assert (y[:, 0, 10, 10] < 1).all()  # the dot moved
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(random_affine(x, g1), random_affine(x, g2))


def test_pairs_file_rows_are_rows_of_the_whole_data_set_even_in_a_split(tmp_path):
    from reprlab.data.splits import seeded_split

    d = _data((6, 6))
    train = seeded_split(d, "train", seed=0)  # carries extras["row"]
    rows = train.extras["row"].tolist()
    outside = next(r for r in range(12) if r not in rows)
    f = tmp_path / "pairs.csv"
    f.write_text(f"i,j,same\n{rows[0]},{rows[1]},1\n{rows[2]},{outside},0\n")
    p = read_pairs(f, train)
    assert p.pairs.tolist() == [[0, 1]] and p.meta["pairs_outside_split"] == 1
    assert torch.equal(train.x[p.pairs[0]], d.x[[rows[0], rows[1]]])  # the same images as in the file's rows
    f.write_text(f"i,j,same\n{outside},{outside},1\n")
    with pytest.raises(DataError, match="none of its pairs"):
        read_pairs(f, train)


def test_groups_hold_k_samples_of_one_class_and_rotations_are_classes_of_their_own():
    import torch

    from reprlab.data.base import TensorData
    from reprlab.data.pairs import make_groups

    g = torch.Generator().manual_seed(0)
    x = torch.rand(30, 1, 5, 5, generator=g)
    y = torch.arange(30) % 3  # 10 samples per class
    data = TensorData(x, y, name="toy")
    groups = make_groups(data, 3, rounds=2, seed=1)
    assert groups.groups.shape == (2 * 3 * 3, 3)  # 2 rounds x 3 classes x floor(10 / 3) groups
    for row, label in zip(groups.groups, groups.labels):
        assert (y[row] == label).all() and len(set(row.tolist())) == 3
    assert torch.equal(groups.groups, make_groups(data, 3, rounds=2, seed=1).groups)  # seeded
    rot = make_groups(data, 2, rounds=1, rotations=True, seed=0)
    assert len(rot) == 4 * 3 * 5 and sorted(set(rot.rotations.tolist())) == [0, 1, 2, 3]
    idx = torch.tensor([0, len(rot) // 4 + 0, 3 * len(rot) // 4])  # the same group unturned, turned once, thrice
    b = rot.take(idx)
    assert b.x.shape == (6, 1, 5, 5) and b.y.tolist() == [4 * int(rot.labels[0]) + r for r in (0, 0, 1, 1, 3, 3)]
    assert torch.equal(b.x[2], torch.rot90(b.x[0], 1, dims=(-2, -1)))
    assert torch.equal(b.x[4], torch.rot90(b.x[0], 3, dims=(-2, -1)))


def test_groups_refuse_too_small_classes_in_one_line():
    import pytest
    import torch

    from reprlab.data.base import TensorData
    from reprlab.data.pairs import make_groups
    from reprlab.errors import DataError

    data = TensorData(torch.rand(6, 4), torch.tensor([0, 0, 1, 2, 3, 4]), name="few")
    with pytest.raises(DataError, match="lower the group size"):
        make_groups(data, 2)
    with pytest.raises(DataError, match="k >= 2"):
        make_groups(data, 1)


def test_a_pairs_file_naming_a_row_that_does_not_exist_is_one_line(tmp_path, capsys):
    from helpers import error_line, run_cli

    pairs = tmp_path / "pairs.csv"
    pairs.write_text("i,j,same\n0,1,1\n3,999999,0\n")
    code, _, err = run_cli(capsys, "-q", "train", "siamese", "--data", "digits", f"model.pairs_file={pairs}", "--steps", "2",
                           "--run-dir", str(tmp_path / "r"))
    line = error_line(err)
    assert code == 2 and f"{pairs}:3: row 999999 does not exist" in line and "1797 rows" in line
    assert not (tmp_path / "r").exists()


def test_family_batches_come_from_one_alphabet_and_cover_every_group_once():
    from reprlab.data.pairs import make_groups

    g = torch.Generator().manual_seed(0)
    y = torch.arange(120) % 12  # 12 classes of 10 samples
    alphabet = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2])  # 3 alphabets of 5, 3, 4 classes
    data = TensorData(torch.rand(120, 1, 4, 4, generator=g), y, name="toy", extras={"alphabet": alphabet[y]})
    groups = make_groups(data, 2, rounds=2, rotations=True, seed=0, family="alphabet")
    assert torch.equal(groups.families, alphabet[groups.labels])
    batches = TensorBatches(groups, 16, seed=3)
    order = batches.order(0)
    assert sorted(order.tolist()) == list(range(len(groups)))  # a permutation: every group once per epoch
    full_blocks = sum(int((groups.families == f).sum()) // 16 for f in range(3))
    for i in range(full_blocks):  # the leading blocks each from one alphabet
        assert len(set(groups.families[order[i * 16 : (i + 1) * 16]].tolist())) == 1
    assert not torch.equal(order, batches.order(1)) and torch.equal(order, TensorBatches(groups, 16, seed=3).order(0))
    b = batches.at_step(0)
    assert len(set(alphabet[b.y // 4].tolist())) == 1  # labels 4y + r: the batch's characters share an alphabet
    plain = make_groups(data, 2, rounds=2, rotations=True, seed=0)
    assert plain.families is None and plain.epoch_order(16, torch.Generator()) is None
    with pytest.raises(DataError, match="use model.negatives=random"):
        make_groups(TensorData(data.x, y, name="toy"), 2, family="alphabet")
    sub = groups.subset(torch.arange(10))
    assert torch.equal(sub.families, groups.families[:10])
