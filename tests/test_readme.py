"""The README opens with the two set-up commands, and CI runs exactly the second one."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_readme_opens_with_the_tour_and_the_test_command():
    commands = _readme_commands()
    assert len(commands) >= 2
    main, tests = commands[0], commands[1]
    assert "pip install" in main and main.rstrip().endswith("reprlab tour")
    assert "pip install" in tests and "'.[test]'" in tests and "pytest" in tests
    # Both come before any other section of the README.
    text = (REPO / "README.md").read_text()
    assert text.index(tests) < text.index("\n## ")


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = [
        line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))
    ]
    # besides it, only the optional, never-failing install of Chromium for the report's browser test
    assert ci_lines[-1] == _readme_commands()[1]
    assert all("chromium" in line and line.endswith("|| true") for line in ci_lines[:-1]) and len(ci_lines) <= 2


def test_every_readme_number_comes_from_a_committed_benchmark_result():
    import json

    text = (REPO / "README.md").read_text()
    results = {p.stem: json.loads(p.read_text()) for p in (REPO / "benchmarks" / "results").glob("*.json")}
    # Rows of the benchmark table quote `name` and `key` and a value (a number, or a string such as a
    # method's name, in backticks); each must match the JSON.
    quoted = re.findall(r"\| `(\w+)` \| `(\w+)` \| ([^|]*?) \|", text)
    for name, key, value in quoted:
        assert name in results, f"README quotes benchmark {name} without benchmarks/results/{name}.json"
        got = results[name]["headline"][key]
        if isinstance(got, str):
            assert value.strip("` ") == got, (name, key, value, got)
            continue
        number = re.match(r"-?[\d.]+", value)
        assert number is not None, (name, key, value, got)
        assert abs(got - float(number.group())) <= 0.0051 * max(1.0, abs(got)), (name, key, value, got)
    # and every committed headline number is quoted
    for name, record in results.items():
        for key in record["headline"]:
            assert (name, key) in {(n, k) for n, k, _ in quoted}, f"README does not quote {name}.{key}"
