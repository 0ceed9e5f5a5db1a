"""The layering DESIGN.md draws, checked on the source: the library (`ingest/`, `assistant/`)
imports neither Gradio nor the shells, and no module of the project imports itself back
through others (every import counts, also one inside a function)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ingest", "assistant", "app", "cli")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    out["ui"] = ROOT / "ui.py"
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module the file imports, as a name (project modules resolved to the deepest one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if node.module else anchor
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
            # `from . import x` of submodules imports them, not the package's own names
            out.update(subs if len(subs) == len(node.names) else [base, *subs])
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for target in _imports(name, path, modules):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_among_the_projects_modules():
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_library_imports_no_gradio_and_no_shell():
    modules = _modules()
    for name, path in modules.items():
        if name.split(".")[0] not in ("ingest", "assistant"):
            continue
        bad = {t for t in _imports(name, path, modules)
               if t.split(".")[0] in ("gradio", "app", "cli", "ui")}
        assert not bad, f"{name} imports {sorted(bad)}"


def _environment_uses(path: Path) -> list[str]:
    """Where the code (not its docstrings or comments) reads or writes the process environment."""
    tree = ast.parse(path.read_text("utf-8"))
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in ("environ", "getenv", "putenv", "unsetenv", "environb"):
            hits.append(f"{path.relative_to(ROOT)}:{node.lineno} os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(a.name in ("environ", "getenv", "putenv") for a in node.names):
            hits.append(f"{path.relative_to(ROOT)}:{node.lineno} from os import ...")
    return hits


def test_the_library_neither_reads_nor_writes_the_environment():
    # Settings are read once by an entry point (cli, app, benchmarks, tests) and passed down.
    hits = [h for pkg in ("ingest", "assistant") for p in sorted((ROOT / pkg).rglob("*.py"))
            for h in _environment_uses(p)]
    assert hits == []
    # the check finds what it looks for
    assert _environment_uses(ROOT / "cli" / "main.py")
