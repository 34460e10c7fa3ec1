"""TensorData and TensorBatches: the one batching path of every model."""

from __future__ import annotations

import pytest
import torch

from reprlab.data import Batch, TensorBatches, TensorData
from reprlab.errors import DataError


def _data(n: int = 103, labelled: bool = True) -> TensorData:
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2)
    y = (torch.arange(n) % 3) if labelled else None
    return TensorData(x, y, name="toy", extras={"idx": torch.arange(n)})


def _ids(batch: Batch) -> list[int]:
    return batch.x[:, 0].long().tolist()


def test_epoch_covers_each_index_once():
    batches = TensorBatches(_data(), 10, drop_last=False, seed=3)
    assert len(batches) == 11
    seen = [i for b in batches.epoch(0) for i in _ids(b)]
    assert sorted(seen) == list(range(103)) and seen != list(range(103))
    sizes = [b.size for b in batches.epoch(0)]
    assert sizes == [10] * 10 + [3]


def test_batches_slice_x_y_and_extras_together():
    for b in TensorBatches(_data(), 16, seed=0).epoch(1):
        ids = torch.tensor(_ids(b))
        assert torch.equal(b.extras["idx"], ids) and torch.equal(b.y, ids % 3)


def test_drop_last_and_no_shuffle():
    batches = TensorBatches(_data(), 10, shuffle=False)
    assert len(batches) == 10
    assert [i for b in batches.epoch(4) for i in _ids(b)] == list(range(100))


def test_deterministic_given_seed_and_epochs_differ():
    a = TensorBatches(_data(), 8, seed=7)
    b = TensorBatches(_data(), 8, seed=7)
    c = TensorBatches(_data(), 8, seed=8)
    assert [_ids(x) for x in a.epoch(0)] == [_ids(x) for x in b.epoch(0)]
    assert [_ids(x) for x in a.epoch(0)] != [_ids(x) for x in a.epoch(1)]
    assert [_ids(x) for x in a.epoch(0)] != [_ids(x) for x in c.epoch(0)]
    # going back to an earlier epoch gives its batches again (the cache is per epoch)
    first = _ids(a.batch(0, 0))
    a.batch(5, 0)
    assert _ids(a.batch(0, 0)) == first


def test_at_step_matches_epoch_and_index():
    batches = TensorBatches(_data(), 10, seed=1)
    fresh = TensorBatches(_data(), 10, seed=1)
    n = len(batches)
    for step in range(3 * n + 2):
        assert _ids(batches.at_step(step)) == _ids(fresh.batch(step // n, step % n))


@pytest.mark.parametrize("drop_last", [True, False])
def test_ranks_partition_the_global_batch(drop_last):
    single = TensorBatches(_data(), 10, drop_last=drop_last, seed=2)
    ranks = [TensorBatches(_data(), 10, drop_last=drop_last, seed=2, rank=r, world_size=2) for r in range(2)]
    assert len(ranks[0]) == len(single)
    for epoch in range(2):
        for i in range(len(single)):
            parts = [_ids(r.batch(epoch, i)) for r in ranks]
            assert parts[0] + parts[1] == _ids(single.batch(epoch, i))
            assert abs(len(parts[0]) - len(parts[1])) <= 1


def test_batch_errors():
    with pytest.raises(DataError, match="not divisible by the 2 processes"):
        TensorBatches(_data(), 5, world_size=2)
    with pytest.raises(DataError, match="batch_size must be >= 1"):
        TensorBatches(_data(), 0)
    with pytest.raises(DataError, match="fewer than batch_size"):
        TensorBatches(_data(5), 8)
    assert len(TensorBatches(_data(5), 8, drop_last=False)) == 1


def test_split_stratified_and_deterministic():
    y = torch.cat([torch.zeros(50), torch.ones(30), torch.full((20,), 2)]).long()
    data = TensorData(torch.randn(100, 4), y, extras={"idx": torch.arange(100)})
    train, test = data.split(0.2, seed=0)
    assert torch.bincount(test.y).tolist() == [10, 6, 4]
    assert torch.bincount(train.y).tolist() == [40, 24, 16]
    ids = torch.cat([train.extras["idx"], test.extras["idx"]])
    assert sorted(ids.tolist()) == list(range(100))
    assert torch.equal(test.x, data.x[test.extras["idx"]])  # x and extras stay aligned
    again = data.split(0.2, seed=0)[1]
    other = data.split(0.2, seed=1)[1]
    assert torch.equal(again.extras["idx"], test.extras["idx"])
    assert not torch.equal(other.extras["idx"], test.extras["idx"])


def test_split_unlabelled():
    data = _data(50, labelled=False)
    train, test = data.split(0.2, seed=4)
    assert len(test) == 10 and len(train) == 40 and test.y is None
    assert torch.equal(test.x, data.split(0.2, seed=4)[1].x)
    with pytest.raises(DataError, match=r"must be in \(0, 1\)"):
        data.split(1.0, seed=0)


def test_tensordata_validation():
    with pytest.raises(DataError, match="floating point"):
        TensorData(torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(DataError, match=r"\(N, D\) or \(N, C, H, W\)"):
        TensorData(torch.zeros(3))
    with pytest.raises(DataError, match="empty"):
        TensorData(torch.zeros(0, 2))
    with pytest.raises(DataError, match="int64"):
        TensorData(torch.zeros(3, 2), torch.zeros(3, dtype=torch.int32))
    with pytest.raises(DataError, match=r"y must have shape \(3,\)"):
        TensorData(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(DataError, match="extras"):
        TensorData(torch.zeros(3, 2), extras={"a": torch.zeros(2)})
    d = TensorData(torch.zeros(4, 1, 5, 5), torch.tensor([0, 2, 1, 0]))
    assert d.is_image and d.sample_shape == (1, 5, 5) and d.num_classes == 3
