"""One direction of dependencies (issue 20): every import inside ``src/reprlab`` goes down the layers

    base → data → nets → models → train → eval → viz → pipelines → (the ``reprlab`` package) → report → cli

read from the AST of every module (function-level imports included), and the module-level
imports form no circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "reprlab"

LAYERS = ["base", "data", "nets", "models", "train", "eval", "viz", "pipelines", "api", "report", "cli"]
#: modules at the top of the package that every layer may use (stdlib-like helpers)
BASE = {"errors", "config", "files", "memory", "runfolder", "weights", "_version"}


def layer_of(module: str) -> str:
    """The layer of ``module`` (dotted, relative to ``reprlab``; ``""`` is the package itself)."""
    head = module.split(".")[0]
    if module == "" or head == "__init__":
        return "api"
    if head in BASE:
        return "base"
    if head in LAYERS:
        return head
    raise AssertionError(f"reprlab.{module} belongs to no layer: put it in a layer's package or add it to BASE")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path, tree: ast.AST, *, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, imported reprlab module) for each import in ``tree``; ``from .x import y`` names the
    submodule ``x.y`` when it exists, else ``x``."""
    me = module_name(path)
    package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    package = [p for p in package if p]
    nodes = tree.body if top_level_only else ast.walk(tree)
    out = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            elif node.module and (node.module == "reprlab" or node.module.startswith("reprlab.")):
                base = []
            else:
                continue
            mod = base + (node.module.split(".") if node.module and node.level else
                          node.module.split(".")[1:] if node.module else [])
            for alias in node.names:
                sub = mod + [alias.name]
                is_module = (SRC.joinpath(*sub).with_suffix(".py").is_file() or (SRC.joinpath(*sub) / "__init__.py").is_file())
                out.append((node.lineno, ".".join(sub if is_module else mod)))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "reprlab" or alias.name.startswith("reprlab."):
                    out.append((node.lineno, alias.name[len("reprlab."):] if "." in alias.name else ""))
    return out


def violations(path: Path, source: str) -> list[str]:
    me = module_name(path)
    mine = LAYERS.index(layer_of(me))
    bad = []
    for line, target in imports(path, ast.parse(source)):
        theirs = LAYERS.index(layer_of(target))
        if theirs > mine:
            bad.append(f"{path.relative_to(SRC.parent)}:{line}: {layer_of(me)} module reprlab.{me} imports "
                       f"reprlab.{target or '(package)'} of the higher layer {layer_of(target)}")
    return bad


def all_modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_import_goes_down_the_layers():
    bad = [v for path in all_modules() for v in violations(path, path.read_text())]
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_module_level_imports_form_no_circle():
    graph: dict[str, set[str]] = {}
    for path in all_modules():
        me = module_name(path)
        graph[me] = {t for _, t in imports(path, ast.parse(path.read_text()), top_level_only=True)}
        # importing a.b.c runs a/__init__ and a/b/__init__ first (but a package that is an
        # ancestor of the importing module is already being initialized: no edge to it)
        graph[me] |= {".".join(t.split(".")[:i]) for t in set(graph[me]) for i in range(1, t.count(".") + 1)}
        graph[me] = {t for t in graph[me] if t != me and not me.startswith(t + ".") and t != ""}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                circle = stack[stack.index(n):] + [n]
                raise AssertionError("import circle: " + " -> ".join("reprlab." + c if c else "reprlab" for c in circle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


@pytest.mark.parametrize("module, source, layer", [
    ("models/thing.py", "from ..viz import save_samples\n", "viz"),
    ("nets/thing.py", "def f():\n    from ..train.checkpoint import save_weights\n", "train"),
    ("data/thing.py", "import reprlab.pipelines.training\n", "pipelines"),
    ("train/thing.py", "from reprlab import load\n", "api"),
])
def test_the_checker_finds_a_wrong_import(module, source, layer):
    """The check can fail: an import against the order, at module or function level, relative or
    absolute, is reported with the layer it reaches."""
    (found,) = violations(SRC / module, source)
    assert f"of the higher layer {layer}" in found


def test_the_checker_allows_imports_down_the_layers():
    assert violations(SRC / "viz" / "thing.py", "from ..models.base import ReprModel\nfrom ..errors import UsageError\n") == []
