"""The package's shape, checked from the source (docs/design.md): no module-level import cycle, no
module over about 400 lines. Code vendored unchanged under edge_sdk/third_party/ is not ours to shape."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edge_sdk"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if "third_party" not in p.relative_to(PACKAGE).parts}


def _top_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """edge_sdk modules imported when `name` is imported (module level, not under TYPE_CHECKING)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body + node.orelse + getattr(node, "finalbody", []) + [s for h in getattr(node, "handlers", []) for s in h.body])
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("edge_sdk"))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                if not base.startswith("edge_sdk"):
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in known else base)

    visit(ast.parse(path.read_text()).body)
    found.discard(name)
    return found


def test_no_module_level_import_cycle():
    modules = _modules()
    graph = {name: _top_level_imports(path, name, set(modules)) & set(modules) for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = walk(name)
            assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)


def test_no_module_is_over_about_400_lines():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these along a real seam: {long}"
