"""One-shot evaluation: task sampling, accuracy against a loop, Lake's runs with the pixel 1-NN."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reprlab.data import load_dataset
from reprlab.data.base import TensorData
from reprlab.errors import DataError
from reprlab.data.fewshot import sample_tasks
from reprlab.eval.oneshot import fewshot_accuracy, pixel_cosine_similarity, pixel_similarity


def _toy(n_classes=8, per_class=4, groups=2):
    y = torch.arange(n_classes).repeat_interleave(per_class)
    x = (y.float()[:, None] + 0.01 * torch.arange(len(y)).float()[:, None]).repeat(1, 2)  # x encodes the class
    return TensorData(x, y, name="toy", extras={"alphabet": y % groups})


def test_sampled_tasks_have_distinct_classes_right_answers_and_stay_in_one_group():
    d = _toy()
    t = sample_tasks(d, n_way=3, k_shot=2, n_tasks=40, n_query=1, seed=0, within="alphabet")
    y, g = d.y, d.extras["alphabet"]
    assert t.support.shape == (40, 6) and t.query.shape == (40, 3)
    for k in range(40):
        sy, qy = y[t.support[k]], y[t.query[k]]
        assert len(set(sy.tolist())) == 3 and len(set(g[t.support[k]].tolist())) == 1
        for q, a in zip(qy.tolist(), t.answer[k].tolist()):  # the answer points at the query's class
            assert set(sy[t.support_class[k] == a].tolist()) == {q}
        assert not set(t.support[k].tolist()) & set(t.query[k].tolist())  # a query is never its own shot
    assert torch.equal(t.support, sample_tasks(d, 3, 2, 40, seed=0, within="alphabet").support)


def test_accuracy_of_an_oracle_a_liar_and_a_loop():
    d = _toy()
    t = sample_tasks(d, n_way=4, k_shot=1, n_tasks=30, n_query=2, seed=1)
    oracle = lambda q, s: -(q[:, None, 0].round() - s[None, :, 0].round()).abs()  # noqa: E731
    assert fewshot_accuracy(oracle, t).tolist() == [1.0] * 30
    rng = torch.Generator().manual_seed(0)
    random_scores = {}

    def noise(q, s):
        out = torch.rand(len(q), len(s), generator=rng)
        random_scores.setdefault("all", []).append(out)
        return out

    acc = fewshot_accuracy(noise, t)
    # the same decision computed by hand from the recorded scores
    for k, s in enumerate(random_scores["all"]):
        expected = float((s.argmax(1) == t.answer[k]).double().mean())  # 1-shot: the best support image
        assert float(acc[k]) == expected


def test_too_few_classes_is_an_error_or_fits():
    d = _toy(n_classes=3)
    with pytest.raises(DataError, match="5-way 1-shot tasks need 5 classes"):
        sample_tasks(d, 5, 1, 10)
    assert sample_tasks(d, 5, 1, 10, fit=True).n_way == 3
    with pytest.raises(DataError, match="n_way must be at least 2"):
        sample_tasks(d, 1, 1, 10)
    with pytest.raises(DataError, match="k_shot must be at least 1"):
        sample_tasks(d, 2, 0, 10)


def test_lake_runs_pixel_nearest_neighbour(data_dir):
    tasks = load_dataset("omniglot-oneshot", data_dir=data_dir)
    acc = fewshot_accuracy(pixel_similarity, tasks)
    assert acc.shape == (20,)
    # independent computation: per run, each test image gets the training image at the smallest distance
    per_run = []
    for r in range(20):
        s = tasks.x[tasks.support[r]].flatten(1).double().numpy()
        q = tasks.x[tasks.query[r]].flatten(1).double().numpy()
        d = ((q[:, None, :] - s[None, :, :]) ** 2).sum(-1)
        per_run.append(float((d.argmin(1) == tasks.answer[r].numpy()).mean()))
    np.testing.assert_allclose(acc.numpy(), per_run)
    assert 0.1 < float(acc.mean()) < 0.4  # the lecture's table: 1-NN on pixels 21.7 %


def test_lake_runs_pixel_cosine_nearest_neighbour_against_sklearn(data_dir):
    from sklearn.metrics.pairwise import cosine_similarity

    tasks = load_dataset("omniglot-oneshot", data_dir=data_dir)
    acc = fewshot_accuracy(pixel_cosine_similarity, tasks)
    per_run = []
    for r in range(20):
        s = tasks.x[tasks.support[r]].flatten(1).double().numpy()
        q = tasks.x[tasks.query[r]].flatten(1).double().numpy()
        per_run.append(float((cosine_similarity(q, s).argmax(1) == tasks.answer[r].numpy()).mean()))
    np.testing.assert_allclose(acc.numpy(), per_run)
    assert not np.allclose(acc.numpy(), fewshot_accuracy(pixel_similarity, tasks).numpy())  # a different rule


def test_too_many_shots_or_ways_are_one_line_and_the_advice_works():
    """A shot larger than the drawers and a way larger than an alphabet: the messages name the
    largest value that works, and that value works."""
    import re

    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 12  # 12 classes of 5 samples, 2 alphabets of 6 classes
    d = TensorData(torch.rand(60, 1, 4, 4, generator=g), y, name="toy", extras={"alphabet": y // 6})
    with pytest.raises(DataError) as e:
        sample_tasks(d, 3, k_shot=7, n_tasks=5)
    most = int(re.search(r"at most (\d+)", str(e.value)).group(1))
    assert most == 4 and sample_tasks(d, 3, k_shot=most, n_tasks=5).k_shot == 4
    with pytest.raises(DataError) as e:
        sample_tasks(d, 9, k_shot=1, n_tasks=5, within="alphabet")
    assert "the largest alphabet has 6" in str(e.value)
    most = int(re.search(r"at most (\d+)", str(e.value)).group(1))
    assert sample_tasks(d, most, k_shot=1, n_tasks=5, within="alphabet").n_way == 6


def test_prototypes_by_hand_and_equal_to_nearest_shot_for_one_shot():
    """Codes are the images themselves (2-D points); class prototypes are the mean of the shots.
    A query nearer to one shot of class B but to the mean of class A is answered A."""
    from reprlab.data.fewshot import FewShotTasks

    pts = torch.tensor([[0.0, 0.0], [2.0, 0.0],    # class A: shots at 0 and 2 -> prototype (1, 0)
                        [3.2, 0.0], [9.0, 0.0],    # class B: shots at 3.2 and 9 -> prototype (6.1, 0)
                        [2.9, 0.0]])               # query: nearest shot 3.2 (B), nearest prototype 1 (A)
    x = pts.view(5, 1, 1, 2)
    t = FewShotTasks(x, support=torch.tensor([[0, 1, 2, 3]]), support_class=torch.tensor([[0, 0, 1, 1]]),
                     query=torch.tensor([[4]]), answer=torch.tensor([[0]]), n_way=2, k_shot=2)
    encode = lambda imgs: imgs.flatten(1)  # noqa: E731
    neg_dist = lambda a, b: -torch.cdist(a, b)  # noqa: E731
    assert t.prototype_accuracy(encode, neg_dist).tolist() == [1.0]
    nearest_shot = FewShotTasks(x, support=torch.tensor([[0, 2]]), support_class=torch.tensor([[0, 1]]),
                                query=torch.tensor([[4]]), answer=torch.tensor([[1]]), n_way=2, k_shot=1)
    assert nearest_shot.prototype_accuracy(encode, neg_dist).tolist() == nearest_shot.accuracy(
        lambda q, s: neg_dist(encode(q), encode(s))).tolist() == [1.0]
    # random 1-shot tasks: prototypes are the shots themselves
    g = torch.Generator().manual_seed(0)
    d = TensorData(torch.rand(60, 1, 3, 3, generator=g), torch.arange(60) % 10, name="toy")
    tasks = sample_tasks(d, 5, 1, 40, seed=2)
    torch.testing.assert_close(tasks.prototype_accuracy(encode, neg_dist),
                               tasks.accuracy(lambda q, s: neg_dist(encode(q), encode(s))))
