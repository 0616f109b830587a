"""The engine's shape, read from its source: workers never import each other, no import cycles, no Textual,
small modules and no untyped shared state."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.paths import PROJECT_ROOT

ENGINE = PROJECT_ROOT / "engine"
MAX_MODULE_LINES = 500
# Modules still over the limit, each with the work that splits it; the list only shrinks.


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _engine_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ENGINE.rglob("*.py"))}


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, modules: dict[str, Path], *, top_level_only: bool) -> set[str]:
    """The engine modules this file imports at run time (TYPE_CHECKING blocks left out). With
    top_level_only, imports inside functions are left out too: they run after every module has loaded,
    so they cannot form a cycle at import time."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking_block(child):
                continue
            if top_level_only and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return {name for name in found if name in modules}


def _worker_modules(modules: dict[str, Path]) -> set[str]:
    workers = set()
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(base, ast.Name) and base.id == "BaseWorker") for base in node.bases
            ):
                workers.add(name)
    return workers


def test_no_worker_module_imports_another_workers_module():
    modules = _engine_modules()
    workers = _worker_modules(modules)
    assert len(workers) >= 7, workers  # the seven workers are found, so the check below checks something
    offenders = {
        (name, imported)
        for name in workers
        for imported in _imports(modules[name], modules, top_level_only=False)
        if imported in workers and imported != name
    }
    assert not offenders, offenders


def test_no_import_cycle_inside_the_engine():
    modules = _engine_modules()
    graph = {name: _imports(path, modules, top_level_only=True) - {name} for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how packages work, not a cycle.
    for name in graph:
        graph[name] = {
            dep
            for dep in graph[name]
            if not (dep.startswith(name + ".") and modules[name].name == "__init__.py")
        }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                walk(dep)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name)
    assert not cycles, cycles[:5]


def test_the_engine_never_imports_textual_or_the_console():
    modules = _engine_modules()
    offenders = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            offenders += [(name, n) for n in names if n.split(".")[0] in {"textual", "zapbot_tui"}]
    assert not offenders, offenders


def test_no_engine_module_is_over_500_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in _engine_modules().items()}
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_long, too_long


def test_no_untyped_shared_state():
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in ENGINE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "ctx.shared" in line or 'adata("' in line
    ]
    assert not offenders, offenders
