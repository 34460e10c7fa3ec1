"""Too little data (issue 19, B9): a split or a batch size that the rows cannot fill is one line
that says how many rows the file has, what each side would get, and what to change; the advice,
followed, works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import error_line, run_cli
from reprlab.data import TensorBatches, TensorData, load_dataset
from reprlab.errors import DataError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def train(capsys, data, *overrides):
    return run_cli(capsys, "-q", "train", "ae", "--data", data, "model.hidden=[8]", "model.latent_dim=2",
                   "train.tensorboard=false", "train.progress=false", *overrides)


def test_two_rows_say_two_rows_not_empty(here, capsys):
    np.save("two.npy", np.random.default_rng(0).random((2, 5)).astype("float32"))
    code, _, err = train(capsys, "two.npy", "train.max_steps=5")
    line = error_line(err)
    assert code == 2 and "empty" not in line
    assert "two.npy has 2 rows; after the 80/20 train/test split 1 is left for training" in line
    assert "training would get 1, validation 0" in line and "data.val_fraction=0" in line
    assert not (here / "runs").exists()


def test_batch_size_message_names_the_file_rows_and_the_advice_works(here, capsys):
    np.save("two.npy", np.random.default_rng(0).random((2, 5)).astype("float32"))
    code, _, err = train(capsys, "two.npy", "train.max_steps=5", "data.val_fraction=0")
    line = error_line(err)
    assert code == 2 and "has 1 samples" not in line
    assert "two.npy has 2 rows; after the 80/20 train/test split 1 is left for training, fewer than batch_size=128" in line
    assert "train.batch_size to at most 1" in line
    # the advice, followed
    code, _, err = train(capsys, "two.npy", "train.max_steps=2", "data.val_fraction=0", "train.batch_size=1")
    assert code == 0, err


def test_one_row_cannot_be_split_into_train_and_test(here, capsys):
    np.save("one.npy", np.ones((1, 5), dtype="float32"))
    code, _, err = train(capsys, "one.npy")
    line = error_line(err)
    assert code == 2 and "empty" not in line
    assert "one.npy has 1 row, too few for the 80/20 train/test split (training would get 1, testing 0)" in line
    assert "at least 2" in line


def test_labelled_classes_too_small_for_a_test_side(here):
    np.savez("lab.npz", x=np.ones((4, 3), dtype="float32"), y=np.arange(4))  # four classes of one row
    with pytest.raises(DataError) as e:
        load_dataset("lab.npz", split="train")
    line = str(e.value)
    assert "lab.npz has 4 rows" in line and "training would get 4, testing 0" in line
    assert "some class needs at least 3 rows" in line
    # the advice, followed: a class with 3 rows gives the test side one
    np.savez("lab.npz", x=np.ones((6, 3), dtype="float32"), y=np.array([0, 0, 0, 1, 2, 3]))
    assert len(load_dataset("lab.npz", split="test")) == 1


def test_split_of_one_sample_names_both_sides():
    data = TensorData(torch.ones(1, 3), name="tiny")
    with pytest.raises(DataError, match=r"^tiny has 1 sample, too few for the 10% validation split "
                                        r"\(training would get 1, validation 0\); add rows"):
        data.split(0.1, seed=0)


def test_batches_count_the_rows_taken_by_both_splits(tmp_path):
    np.save(tmp_path / "ten.npy", np.ones((10, 3), dtype="float32"))
    train = load_dataset(str(tmp_path / "ten.npy"), split="train")  # 8 rows
    train, val = train.split(0.25, seed=0)  # 6 + 2
    assert (len(train), len(val)) == (6, 2)
    with pytest.raises(DataError) as e:
        TensorBatches(train, 8)
    assert str(e.value).endswith(
        "ten.npy has 10 rows; after the 80/20 train/test split and the 25% validation split 6 are left for "
        "training, fewer than batch_size=8; lower train.batch_size to at most 6, or add rows")
