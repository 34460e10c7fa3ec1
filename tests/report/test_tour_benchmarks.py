"""The tour's benchmarks section: committed results with their targets, and ``--full`` running the
scripts of a benchmarks folder (here a stand-in folder), failures reported, the others shown."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from reprlab.cli import main
from reprlab.report import tour
from reprlab.report.benchmarks import PAPER_HEADER, benchmark_names, benchmarks_dir, fill_from_results, paper_rows, result_targets
from reprlab.report.sections import metric_row
from reprlab.viz.html import Section, render_section

REPO = Path(__file__).resolve().parents[2]


def test_committed_results_are_shown_with_their_targets(monkeypatch, tmp_path):
    monkeypatch.delenv("REPRLAB_BENCHMARKS", raising=False)
    assert benchmarks_dir() == REPO / "benchmarks"
    s = Section("benchmarks", "t")
    tour.SECTIONS["benchmarks"][1](tour.TourContext(tmp_path, quick=True, seed=0, data_dir=None), s)
    rows = {m["id"]: m for m in s.metrics}
    results = sorted((REPO / "benchmarks" / "results").glob("*.json"))
    assert len(results) >= 10
    for path in results:
        record = json.loads(path.read_text())
        assert path.stem in s.settings and record["command"] in s.settings[path.stem]
        for key, value in record["headline"].items():
            row = rows[f"{path.stem}.{key}"]
            assert row["value"] == value
            target = (record.get("targets") or {}).get(key)
            if isinstance(target, dict):  # a target not met says so
                assert ("NOT met" in row["reference"]) == (not target["met"])
    tables = {caption.split(":")[0]: rows for caption, _, rows in s.tables}
    sdae = {r[0]: r for r in tables["sdae_mnist"]}  # the papers' numbers next to ours, cited
    assert sdae["test_error / SdA-3"][1:3] == ["0.0128", "0.0129 (test_error_sda3)"] and "Vincent" in sdae["test_error / SdA-3"][4]
    assert sdae["test_error / DBN-3"][2] == "—"
    assert {"oneshot_omniglot", "vae_mnist", "gan_toy"} <= set(tables)
    _assert_no_json(render_section(s))
    shown = {p.name for _, p in s.figures}
    assert {"tsne.png", "gan_toy_table_ring8.png", "aae_mnist_codes.png"} <= shown
    assert not any(n.startswith("msda_speed") for n in shown)  # msda_amazon's figures only by their own name


def _stand_in(folder: Path) -> Path:
    folder.mkdir()
    (folder / "_common.py").write_text("raise SystemExit('a helper, never run')\n")
    (folder / "good.py").write_text(textwrap.dedent('''
        import json, os, sys
        from pathlib import Path
        from PIL import Image
        out = Path(os.environ["REPRLAB_BENCH_RESULTS"])
        assert Path.cwd().resolve() == out.resolve(), "runs in its results folder"
        Image.new("RGB", (8, 8), (200, 10, 10)).save(out / "good_curve.png")
        (out / "good.json").write_text(json.dumps({
            "name": "good", "command": "python benchmarks/good.py", "date": "today", "git": "abc",
            "machine": {"cpu": "test"}, "headline": {"accuracy": 0.5, "data": os.environ.get("REPRLAB_DATA", "")},
            "targets": {"accuracy": {"target": ">= 0.9", "value": 0.5, "met": False}},
            "published_table": {"paper": 0.93}}))
        print("good finished")
    '''))
    (folder / "bad.py").write_text("print('kaput: out of luck')\nraise SystemExit(3)\n")
    return folder


def test_full_tour_runs_every_benchmark_and_reports_the_failed_one(monkeypatch, tmp_path, capsys):
    folder = _stand_in(tmp_path / "benchmarks")
    monkeypatch.setenv("REPRLAB_BENCHMARKS", str(folder))
    assert benchmark_names(folder) == ["bad", "good"]
    out = tmp_path / "tour"
    assert main(["tour", "--full", "--only", "benchmarks", "--out", str(out), "--data-dir", str(tmp_path / "d")]) == 0
    html = (out / "report.html").read_text()
    assert "bad: exit status 3" in html and "kaput: out of luck" in html  # the failure, with the end of its log
    assert "good: accuracy" in html and "target &gt;= 0.9: NOT met" in html and "published_table" in html
    assert str(tmp_path / "d") in html  # the data folder reached the benchmark
    assert html.count("data:image/png;base64,") == 1  # good_curve.png
    assert (out / "benchmarks" / "good.log").read_text().strip() == "good finished"
    assert not (folder / "results").exists()  # nothing written next to the scripts


def test_full_tour_runs_only_the_named_benchmarks(monkeypatch, tmp_path):
    folder = _stand_in(tmp_path / "benchmarks")
    monkeypatch.setenv("REPRLAB_BENCHMARKS", str(folder))
    out = tmp_path / "tour"
    assert main(["tour", "--full", "--benchmarks", "good", "--only", "benchmarks", "--out", str(out)]) == 0
    assert not (out / "benchmarks" / "bad.log").exists() and (out / "benchmarks" / "good.json").is_file()


def test_benchmark_options_are_checked_before_anything_runs(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("REPRLAB_BENCHMARKS", str(_stand_in(tmp_path / "benchmarks")))
    assert main(["tour", "--benchmarks", "good", "--out", str(tmp_path / "a")]) == 2
    assert "add --full" in capsys.readouterr().err
    assert main(["tour", "--full", "--benchmarks", "nope", "--out", str(tmp_path / "b")]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
    assert main(["tour", "--full", "--quick", "--out", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_full_without_a_benchmarks_folder_says_where_to_run_it(monkeypatch, tmp_path):
    monkeypatch.setenv("REPRLAB_BENCHMARKS", str(tmp_path / "nowhere"))
    s = Section("benchmarks", "t")
    ctx = tour.TourContext(tmp_path, quick=False, seed=0, data_dir=None, full=True)
    try:
        tour.SECTIONS["benchmarks"][1](ctx, s)
    except Exception as e:
        assert "checkout" in str(e) and "REPRLAB_BENCHMARKS" in str(e)
    else:
        raise AssertionError("--full without benchmarks/ must fail the section")
    s = Section("benchmarks", "t")
    tour.SECTIONS["benchmarks"][1](tour.TourContext(tmp_path, quick=False, seed=0, data_dir=None), s)
    assert s.summary.startswith("Skipped") and "`REPRLAB_BENCHMARKS=<checkout>/benchmarks reprlab tour --only benchmarks`" in s.summary


def test_an_unreadable_result_is_named_not_fatal(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    s = Section("benchmarks", "t")
    assert fill_from_results(s, tmp_path, ["x", "missing"]) == 0
    assert s.metrics[0]["id"] == "x.unreadable" and s.metrics[0]["value"] == "unreadable"


def test_benchmark_results_folder_follows_the_environment(tmp_path):
    code = "import sys; sys.path.insert(0, sys.argv[1]); import _common; print(_common.RESULTS_DIR)"
    env_out = subprocess.run([sys.executable, "-c", code, str(REPO / "benchmarks")], capture_output=True, text=True,
                             env={"REPRLAB_BENCH_RESULTS": str(tmp_path), "PATH": "/usr/bin:/bin"}, check=True)
    assert env_out.stdout.strip() == str(tmp_path)
    default = subprocess.run([sys.executable, "-c", code, str(REPO / "benchmarks")], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin"}, check=True)
    assert default.stdout.strip() == str(REPO / "benchmarks" / "results")


def _assert_no_json(html: str) -> None:
    """No dict printed as JSON or as Python, raw or escaped by html.escape."""
    for brace in ("{'", '{"', "{&#x27;", "{&quot;"):
        assert brace not in html, brace


def _result(folder: Path, name: str, **record) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "command": f"python benchmarks/{name}.py", **record}))


def test_papers_numbers_are_a_table_next_to_ours(tmp_path):
    _result(tmp_path, "toy", headline={"test_error_sda3": 0.0129, "speed": 2.0},
            targets={"test_error_sda3": {"target": "<= 0.0128", "value": 0.0129, "met": False}},
            paper={"source": "Vincent et al. 2010, Table 3", "test_error": {"SdA-3": 0.0128, "DBN-3": 0.0124}})
    s = Section("benchmarks", "t")
    assert fill_from_results(s, tmp_path, ["toy"]) == 1
    html = render_section(s)
    head = "".join(f"<th>{h}</th>" for h in ("metric", "paper", "value (ours)", "target", "source"))
    assert f"<table><caption>toy: the papers&#x27; numbers next to ours</caption><tr>{head}</tr>" in html
    assert ("<tr><td>test_error / SdA-3</td><td>0.0128</td><td>0.0129 (test_error_sda3)</td>"
            '<td class="failed">&lt;= 0.0128: NOT met</td><td>Vincent et al. 2010, Table 3</td></tr>') in html
    assert "<tr><td>test_error / DBN-3</td><td>0.0124</td><td>—</td><td>—</td><td>Vincent et al. 2010, Table 3</td></tr>" in html
    assert metric_row(s, "toy.speed")["value"] == 2.0  # ours without a paper: in the headline table
    _assert_no_json(html)


def test_every_shape_of_papers_numbers_is_rows_not_json(tmp_path):
    _result(tmp_path, "shapes", headline={"lake20_accuracy": 0.9, "test_nll_nats": 88.3, "ring8_modes": 8.0},
            lecture_table_percent={"Humans": 95.5, "Convolutional Siamese Net": 92.0},
            anchors=[{"method": "Unrolled GAN", "ring8_modes": 7.6}, {"ring8_modes": 8.0, "seeds": [0, 1]}],
            settings={"published_nll_nats": 86.76, "published": "Burda et al. 2016", "paper_notes": ["x", {"y": 1}]},
            note="one seed")
    rows = {r["metric"]: r for r in paper_rows(json.loads((tmp_path / "shapes.json").read_text()), "shapes")}
    assert rows["Humans"]["paper"] == 95.5 and rows["Humans"]["percent"] and rows["Humans"]["ours"] is None
    assert rows["published_nll_nats"]["ours"] == "test_nll_nats" and rows["published_nll_nats"]["source"] == "Burda et al. 2016"
    assert rows["Unrolled GAN / ring8_modes"]["paper"] == 7.6 and rows["Unrolled GAN / ring8_modes"]["ours"] is None
    assert rows["[1] / ring8_modes"]["ours"] == "ring8_modes" and rows["[1] / seeds"]["source"] == "0, 1"
    assert rows["[1] / ring8_modes"]["source"] == "anchors"
    assert rows["note"]["source"] == "one seed" and rows["[1] / y"]["paper"] == 1 and rows["[1] / y"]["source"] == "paper_notes"
    s = Section("benchmarks", "t")
    fill_from_results(s, tmp_path, ["shapes"])
    (caption, header, cells), = s.tables
    assert header == list(PAPER_HEADER) and all(len(c) == len(header) for c in cells)
    _assert_no_json(render_section(s))


def test_target_shapes_say_met_or_not():
    record = {"headline": {"a": 0.5, "b": 3, "c": 1.0, "d": 0.7},
              "targets": {"a": ">= 0.9", "b": "== cases", "c": {"target": "<= 2", "value": 1.0, "met": True}},
              "targets_met": {"b": True}, "target": {"d": 0.6, "met": False}}
    assert result_targets(record) == {"a": (">= 0.9", False), "b": ("== cases", True), "c": ("<= 2", True),
                                      "d": ("0.6", False)}
    assert result_targets({"headline": {"a": 1}, "targets": {"a": ">= a_other"}}) == {"a": (">= a_other", None)}


def test_a_missing_result_says_the_command_that_writes_it(tmp_path):
    s = Section("benchmarks", "t")
    assert fill_from_results(s, tmp_path, ["gan_toy"]) == 0
    assert "`python benchmarks/gan_toy.py` (from the repository&#x27;s root) writes it" in render_section(s)
    assert metric_row(s, "gan_toy.missing")["value"] == "not run"
