"""A self-contained HTML page: every figure is embedded as a base64 PNG, no external asset."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..files import ensure_dir, write_text

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .sub{color:#666;margin-top:0}
section{border-top:1px solid #ddd;margin-top:2em;padding-top:.5em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f5f5f5} .num{text-align:right;font-variant-numeric:tabular-nums}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top} figcaption{color:#555;font-size:.9em;max-width:480px}
img{max-width:480px;image-rendering:pixelated;border:1px solid #eee}
.error{background:#fff0f0;border:1px solid #e99;padding:.6em;white-space:pre-wrap;font-family:monospace}
.ok{color:#080} .failed{color:#b00} .skipped{color:#a60} code{background:#f5f5f5;padding:0 .2em}
"""


@dataclass
class Section:
    """One section of the report: what was run, its numbers and its pictures (or its error)."""

    key: str
    title: str
    summary: str = ""
    settings: dict = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)  # rows: {"metric", "value", "reference"}
    figures: list[tuple[str, Path]] = field(default_factory=list)  # (caption, png path)
    # more tables after the metrics: (caption, header, rows); a cell is a value or (value, css class)
    tables: list[tuple[str, list[str], list[list]]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _cell(c) -> str:
    value, cls = c if isinstance(c, tuple) else (c, "")
    return f'<td class="{html.escape(cls)}">{_fmt(value)}</td>' if cls else f"<td>{_fmt(value)}</td>"


def status_word(s: Section) -> str:
    """``failed`` (it raised), ``skipped`` (its summary starts with "Skipped": data absent) or ``ok``."""
    return "failed" if s.error else "skipped" if s.summary.startswith("Skipped") else "ok"


def _status(s: Section) -> str:
    word = status_word(s)
    return f'<span class="{word}">{word}</span>'


def render_section(s: Section) -> str:
    status = _status(s)
    out = [f'<section id="{html.escape(s.key)}"><h2>{html.escape(s.title)} — {status} <small>({s.seconds:.1f} s)</small></h2>']
    if s.summary:
        out.append(f"<p>{html.escape(s.summary)}</p>")
    if s.settings:
        cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in s.settings.items())
        out.append(f"<table><caption>what was run</caption>{cells}</table>")
    if s.metrics:
        rows = "".join(
            f"<tr><td>{html.escape(r['metric'])}</td><td class=num>{_fmt(r['value'])}</td>"
            f"<td>{_fmt(r.get('reference', ''))}</td></tr>"
            for r in s.metrics
        )
        out.append(f"<table><tr><th>metric</th><th>value</th><th>reference</th></tr>{rows}</table>")
    for caption, header, rows in s.tables:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
        out.append(f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>")
    for caption, path in s.figures:
        out.append(f"<figure>{_img(path)}<figcaption>{html.escape(caption)}</figcaption></figure>")
    if s.error:
        out.append(f'<div class="error">{html.escape(s.error)}</div>')
    out.append("</section>")
    return "\n".join(out)


def render_report(sections: list[Section], path: str | os.PathLike, title: str, subtitle: str = "") -> Path:
    """Write the report page atomically and return its path."""
    path = Path(path)
    ensure_dir(path.parent)
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(
        f'<tr><td><a href="#{html.escape(s.key)}">{html.escape(s.title)}</a></td><td>{_status(s)}</td>'
        f"<td class=num>{s.seconds:.1f} s</td></tr>"
        for s in sections
    )
    total = sum(s.seconds for s in sections)
    toc = f"<table><tr><th>section</th><th>status</th><th>time</th></tr>{toc}<tr><th>sum of the sections</th><td></td><td class=num>{total:.1f} s</td></tr></table>"
    body = "\n".join(render_section(s) for s in sections)
    page = (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f'<p class="sub">{html.escape(subtitle)} — generated {when}</p>{toc}{body}</body></html>'
    )
    return write_text(path, page)
