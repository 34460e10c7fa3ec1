"""The tour's section machinery: sections are listed in tour.py in the lecture's order (the decorator
registers nothing), section modules never import tour.py, and every number has a unique id."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from reprlab.report import sections, tour
from reprlab.report.sections import add_metric, metric_row, metric_values, tour_section
from reprlab.viz.html import Section, render_section

REPORT = Path(sections.__file__).parent


def test_sections_are_listed_in_the_lectures_order():
    assert list(tour.SECTIONS) == ["autoencoder", "autoencoder-mnist", "denoising", "stacked", "domain-adaptation",
                                   "latent", "siamese", "vae", "style", "gan", "aae", "benchmarks", "compare"]
    assert [fn.tour_key for fn in tour.ORDER] == list(tour.SECTIONS)
    assert all(tour.SECTIONS[fn.tour_key] == (fn.tour_title, fn) for fn in tour.ORDER)


def test_the_decorator_only_names_a_function():
    before = dict(tour.SECTIONS)

    @tour_section("extra", "An extra section")
    def extra(ctx, s):
        pass

    assert (extra.tour_key, extra.tour_title) == ("extra", "An extra section")
    assert tour.SECTIONS == before  # nothing registered by decorating or importing


@pytest.mark.parametrize("module", ["tour_autoencoders", "tour_representations", "tour_adversarial", "benchmarks", "sections"])
def test_section_modules_never_import_the_tour(module):
    tree = ast.parse((REPORT / f"{module}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [f"{node.module or ''}.{a.name}".lstrip(".") for a in node.names]
            assert not any(n in ("tour", "reprlab.report.tour") for n in names), (module, ast.dump(node))


def test_metrics_have_unique_ids_and_render_as_before():
    s = Section("k", "t")
    add_metric(s, "a_mse", "a: test MSE", 0.25, "PCA 0.5", pca=0.5)
    add_metric(s, "b_name", "b", "text")
    assert metric_values(s) == {"a_mse": 0.25, "b_name": "text"}
    assert metric_row(s, "a_mse")["pca"] == 0.5
    with pytest.raises(ValueError, match="a_mse"):
        add_metric(s, "a_mse", "again", 1.0)
    with pytest.raises(KeyError, match="a_mse, b_name"):
        metric_row(s, "nope")
    # the page shows the text, value and reference, as rows without ids did
    plain = Section("k", "t", metrics=[{"metric": "a: test MSE", "value": 0.25, "reference": "PCA 0.5"},
                                       {"metric": "b", "value": "text"}])
    assert render_section(s) == render_section(plain)
