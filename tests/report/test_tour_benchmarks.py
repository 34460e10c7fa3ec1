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
from reprlab.report.benchmarks import benchmark_names, benchmarks_dir, fill_from_results
from reprlab.viz.html import Section

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
    assert "sdae_mnist.published.paper" in rows and "Vincent" in rows["sdae_mnist.published.paper"]["reference"]
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
    assert s.summary.startswith("Skipped")


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
