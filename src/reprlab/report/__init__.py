"""The HTML report of ``reprlab tour``: one self-contained page, figures embedded."""

from ..viz.html import Section, render_report

__all__ = ["Section", "render_report"]
