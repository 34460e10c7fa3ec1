"""Helpers shared by test modules (importable: ``pythonpath = ["tests"]`` in pyproject.toml)."""

from __future__ import annotations

from reprlab.cli import main


def run_cli(capsys, *argv):
    """Run ``reprlab`` in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    """The one ``reprlab: error: ...`` line of ``err`` (fails when there are more lines)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    assert lines[0].startswith("reprlab: error: ")
    return lines[0]
