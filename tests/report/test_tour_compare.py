"""The tour's last section, `compare`: every representation of digits under the same probes, its
numbers under stable ids, the table figure, and a text generated from the numbers."""

from __future__ import annotations

import pytest

from reprlab.report import tour
from reprlab.report.sections import metric_row, metric_values
from reprlab.report.tour_representations import COMPARE_METHODS
from reprlab.viz.html import Section

pytestmark = pytest.mark.usefixtures("one_thread")


def test_compare_closes_the_tour():
    assert list(tour.SECTIONS)[-1] == "compare"


def test_compare_section_names_the_best_method_of_each_probe_from_its_numbers(tmp_path):
    ctx = tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None)  # 40 steps per method, small maps
    s = Section("compare", "t")
    tour.SECTIONS["compare"][1](ctx, s)
    values = metric_values(s)
    probes = ("linear_100", "linear_all", "knn5", "knn5_loo", "fewshot_5w1s", "fewshot_5w5s", "robust_masking0.25",
              "robust_gaussian0.2", "tsne_T10", "train_seconds", "encode_per_s")
    for p in probes:
        row = metric_row(s, f"{p}_best")
        assert set(row["by_method"]) == set(COMPARE_METHODS), p
        pick = max if p not in ("train_seconds",) else min
        assert row["method"] == pick(row["by_method"], key=row["by_method"].get)
        assert row["value"] == row["by_method"][row["method"]]
        for m in COMPARE_METHODS:
            assert values[f"{m}.{p}"] == row["by_method"][m]
    for m in COMPARE_METHODS:
        assert 0.5 < values[f"{m}.linear_all"] <= 1 and values[f"{m}.code_size"] == (64 if m == "raw" else 16)
    assert values["raw.train_seconds"] == 0 and values["ae.train_seconds"] > 0
    # the text says which method is best for each task, with the number the table shows
    best100 = metric_row(s, "linear_100_best")
    assert f"a linear classifier from 100 labels: {best100['method']} ({best100['value']:.3f})" in s.summary
    assert "Failed" not in s.summary
    captions = [c for c, _ in s.figures]
    assert captions[0].startswith("the table") and any("t-SNE maps" in c for c in captions)
    assert all(path.is_file() and path.stat().st_size > 0 for _, path in s.figures)
    assert s.tables and s.tables[0][1][0] == "method" and [r[0] for r in s.tables[0][2]] == list(COMPARE_METHODS)
    assert list(values)[0] == "linear_100_best"  # the bests first: the tour's printed summary shows them
