"""The folder ``reprlab compare`` writes: ``compare.json``, ``compare.csv``, ``config.json``,
``table.png``, ``maps.png`` and ``index.html``, every file through :mod:`reprlab.files`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..files import atomic_open, write_json


def cell_text(cell: dict, probe, short: bool = False) -> str:
    """A cell as the table shows it: ``0.953 ± 0.004``, ``failed: <reason>`` or ``n/a: <reason>``
    (``short``: ``n/a`` without its reason)."""
    if "error" in cell:
        return f"failed: {cell['error']}"
    if "na" in cell:
        return "n/a" if short else f"n/a: {cell['na']}"
    mean, std = cell["mean"], cell["std"]
    if probe.name == "code_size":
        return f"{mean:g}"
    fmt = "{:.1f}" if probe.name == "train_seconds" else "{:.3g}" if probe.name == "encode_per_s" else "{:.3f}"
    return fmt.format(mean) + ("" if std is None else " ± " + fmt.format(std))


def cell_status(cell: dict) -> str:
    return "failed" if "error" in cell else "n/a" if "na" in cell else "ok"


def write_outputs(result, maps: dict, split) -> list[Path]:
    """Write the result's folder (see the module docstring); ``maps``: ``{method: (Map2D, index,
    T(10))}`` of the first seed, ``split``: that seed's (train, test) data. Returns the paths."""
    out = result.out
    probes = [{"name": p.name, "label": p.label, "better": p.better, "group": p.group} for p in result.probes]
    files = [write_json(out / "compare.json", {
        **result.settings, "probes": probes, "table": result.cells, "methods": result.methods, "failures": result.failures,
    })]
    files.append(write_json(out / "config.json", {
        **result.settings,
        "methods": {m: {k: v for k, v in info.items() if k != "seconds"} for m, info in result.methods.items()},
    }))
    files.append(_write_csv(out / "compare.csv", result))
    files.append(_table_figure(out / "table.png", result))
    if maps:
        files.append(_maps_figure(out / "maps.png", result, maps, split))
    files.append(_page(out / "index.html", result, files))
    return files


def _write_csv(path: Path, result) -> Path:
    """One row per cell: method, probe, mean, std, n_seeds, values (;-separated), status, reason."""
    with atomic_open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "probe", "mean", "std", "n_seeds", "values", "status", "reason"])
        for method, cells in result.cells.items():
            for p in result.probes:
                c = cells.get(p.name, {"na": "not measured"})
                w.writerow([method, p.name, _num(c.get("mean")), _num(c.get("std")), c.get("n", ""),
                            ";".join(_num(v) for v in c.get("values", [])), cell_status(c), c.get("error", c.get("na", ""))])
    return path


def _num(v) -> str:
    return "" if v is None else f"{v:.6g}"


def _grid(result, short: bool = False) -> tuple[list[str], np.ndarray, list[list[str]], list[list[str]]]:
    rows = list(result.cells)
    means = np.array([[result.cells[m].get(p.name, {}).get("mean", np.nan) for p in result.probes] for m in rows], dtype=float)
    texts = [[cell_text(result.cells[m].get(p.name, {"na": "not measured"}), p, short) for p in result.probes] for m in rows]
    status = [[cell_status(result.cells[m].get(p.name, {"na": ""})) for p in result.probes] for m in rows]
    return rows, means.reshape(len(rows), len(result.probes)), texts, status


def _table_figure(path: Path, result) -> Path:
    from ..viz.compare import plot_probe_table

    rows, means, texts, status = _grid(result, short=True)
    s = result.settings
    title = result.title or (f"{s['data']}: codes of size {s['code_size']}, mean ± std over seeds {s['seeds']} "
                             "(colour: rank within each probe, green = best)")
    return plot_probe_table(rows, [p.name for p in result.probes], means, texts, [p.better for p in result.probes],
                            path, status=status, title=title)


def _maps_figure(path: Path, result, maps: dict, split) -> Path:
    from ..viz.maps import plot_map_grid

    names = list(maps)
    test = split[1]
    idx = maps[names[0]][1]
    labels = None if test.y is None else test.y.numpy()[idx]
    return plot_map_grid([maps[n][0] for n in names], path, labels, classes=test.classes,
                         qualities=[{"trustworthiness_k10": maps[n][2]} if isinstance(maps[n][2], float) else {} for n in names],
                         ncols=min(4, len(names)), titles=names,
                         title=f"t-SNE maps of {len(idx)} test codes of {test.name}, seed {result.settings['seeds'][0]}")


def _page(path: Path, result, files: list[Path]) -> Path:
    from ..viz.html import Section, render_report

    s = result.settings
    rows, _, texts, status = _grid(result)
    css = {"ok": "", "failed": "failed", "n/a": "skipped"}
    table = [[m] + [(t, css[st]) for t, st in zip(texts[i], status[i])] for i, m in enumerate(rows)]
    summary = result.summary or (
        f"Each method's codes of {s['data']} (size {s['code_size']}; raw keeps the inputs' size) read by the same "
        f"probes; a cell is the mean ± std over the seeds {s['seeds']}. Linear probes: logistic regression, C by "
        "cross-validation on the labelled training codes only; robustness: the all-labels probe trained on clean "
        "codes, scored on codes of corrupted test inputs; few-shot: cosine prototypes on codes of classes the "
        "training data lack (or of the test split).")
    main = Section("table", "Methods x probes", summary=summary, seconds=sum(i.get("seconds", 0) for i in result.methods.values()),
                   settings={k: s[k] for k in ("data", "tasks", "code_size", "seeds", "labels", "corruptions", "probes")
                             if k in s},
                   metrics=[{"metric": p.name, "value": p.label,
                             "reference": f"{p.better} is better" if p.better else "not ranked"} for p in result.probes],
                   tables=[("mean ± std over seeds (failed: the reason; n/a: the probe does not apply)",
                            ["method"] + [p.name for p in result.probes], table)],
                   figures=[("the table, each probe's column coloured by rank (green: best)", path.parent / "table.png")])
    sections = [main]
    if (path.parent / "maps.png").exists() and any(f.name == "maps.png" for f in files):
        sections.append(Section("maps", "2-D maps of the codes", summary="t-SNE of the test codes of the first seed, "
                                "coloured by label, with the trustworthiness T(10) of each map.",
                                figures=[("t-SNE maps side by side", path.parent / "maps.png")]))
    budget = [[m, info.get("kind", ""), info.get("family", ""), _short(info.get("options") or info.get("run", "")),
               f"{info.get('seconds', 0):.1f} s"] for m, info in result.methods.items()]
    sections.append(Section("methods", "What was run", summary="Each learned method's options: its budget, then yours.",
                            tables=[("methods", ["method", "kind", "family", "options / run folder", "time"], budget)]))
    if result.failures:
        sections.append(Section("failures", "Failures", error="\n".join(result.failure_lines())))
    return render_report(sections, path, title="reprlab compare", subtitle=f"{s['data']}, code size {s['code_size']}")


def _short(options) -> str:
    if isinstance(options, dict):
        return " ".join(f"{k}={v}" for k, v in options.items())
    return str(options)
