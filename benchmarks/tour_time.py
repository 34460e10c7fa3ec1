"""The default ``reprlab tour``'s running time: the budget the issues give it is 5 minutes in all.

Runs ``reprlab tour`` at its default budget (every section, the data folder of ``--data-dir`` /
``$REPRLAB_DATA`` so that the MNIST, Omniglot and Amazon sections run too), each repetition a fresh
process writing a fresh output folder, as a user would; reads the wall-clock seconds and each
section's seconds and status from the ``tour.json`` the tour writes. With several ``--jobs``
values the repetitions are interleaved (auto 1 auto 1 ...). Headline: ``tour_seconds`` (the median
wall-clock time of the default, ``--jobs auto``; target <= 300), ``tour_jobs`` (what auto resolved
to here), ``sections_ok`` (sections that ran without error, of ``sections``), ``slowest_section``
and its median seconds. With ``--jobs auto,1`` also ``tour_seconds_jobs1`` and
``parallel_speedup`` (median jobs-1 time / median auto time). An absolute time: it holds for the
machine in the JSON (2 cores, no GPU here), and is measured on an otherwise idle machine.

    python benchmarks/tour_time.py                      # 5 repetitions of the default tour (~20 min here)
    python benchmarks/tour_time.py --jobs auto,1        # and the one-process tour, interleaved
    python benchmarks/tour_time.py --quick --no-write   # smoke run: --quick tours, 1 repetition
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, check_targets, command_line, data_dir, median, print_table, results_lock, write_result  # noqa: E402

TARGETS = {"tour_seconds": ("<=", 300.0)}


def one_tour(jobs: str, out: Path, data: Path, quick: bool) -> dict:
    """Run ``reprlab tour`` once in a fresh process; returns its ``tour.json``."""
    cmd = [sys.executable, "-m", "reprlab.cli", "tour", "--out", str(out), "--data-dir", str(data), "--jobs", jobs]
    if quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads((out / "tour.json").read_text())


def summarize(rows: list[dict]) -> tuple[dict, dict, dict]:
    """(headline, targets, median seconds per section of the auto tours) of the rows; printed."""
    auto = [r for r in rows if r["jobs_option"] == "auto"]
    section_seconds = {k: median([r["sections"][k]["seconds"] for r in auto]) for k in auto[0]["sections"]}
    slowest = max(section_seconds, key=section_seconds.get)
    headline = {"tour_seconds": round(median([r["seconds"] for r in auto]), 1), "tour_jobs": auto[0]["jobs"],
                "sections": len(section_seconds),
                "sections_ok": min(sum(s["status"] == "ok" for s in r["sections"].values()) for r in auto),
                "slowest_section": slowest, "slowest_section_seconds": round(section_seconds[slowest], 1)}
    one = [r["seconds"] for r in rows if r["jobs_option"] == "1"]
    if one:
        headline["tour_seconds_jobs1"] = round(median(one), 1)
        headline["parallel_speedup"] = round(median(one) / median([r["seconds"] for r in auto]), 3)
    print_table([{"section": k, "seconds": v} for k, v in sorted(section_seconds.items(), key=lambda kv: -kv[1])],
                [("section", "section (--jobs auto)", "s"), ("seconds", "median s", ".1f")])
    print("headline:", headline)
    return headline, check_targets(headline, TARGETS), section_seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", default="auto", help="comma-separated --jobs values, interleaved (default auto)")
    p.add_argument("--reps", type=int, help="repetitions of each (default 5; quick 1)")
    p.add_argument("--quick", action="store_true", help="smoke run: the --quick tour, one repetition")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    jobs_values = [j.strip() for j in args.jobs.split(",") if j.strip()]
    reps = args.reps or (1 if args.quick else 5)
    if "auto" not in jobs_values:
        print("error: --jobs must include auto (the default tour, whose time is the headline)", file=sys.stderr)
        return 2
    data = data_dir()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tour-time-") as tmp:
        for rep in range(reps):
            for jobs in jobs_values:
                t = one_tour(jobs, Path(tmp) / f"{jobs}-{rep}", data, args.quick)
                rows.append({"jobs_option": jobs, "jobs": t["jobs"], "rep": rep, "seconds": t["seconds"],
                             "cpu_count": t["cpu_count"], "quick": args.quick,
                             "sections": {k: {"seconds": v["seconds"], "status": v["status"]} for k, v in t["sections"].items()}})
                print(f"rep {rep} --jobs {jobs}: {t['seconds']:.1f} s", flush=True)
    if args.no_write or args.quick:
        summarize(rows)
        return 0
    with results_lock("tour_time"):
        path = RESULTS_DIR / "tour_time.json"
        old = json.loads(path.read_text()) if path.exists() else {"rows": []}
        rows = [r for r in old["rows"] if r["jobs_option"] not in jobs_values] + rows  # a part replaces its own rows
        headline, targets, section_seconds = summarize(rows)
        settings = {"reps": reps, "jobs": sorted({r["jobs_option"] for r in rows}), "budget": "default (not --quick)",
                    "section_seconds_median": {k: round(v, 1) for k, v in section_seconds.items()},
                    "data": "the shared data folder: every section runs, none is skipped"}
        print("wrote", write_result("tour_time", headline, rows, command_line(), {"targets": targets, "settings": settings}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
