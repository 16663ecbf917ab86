"""The gateway package's module-level imports form no cycle.

A cycle forces imports into functions to dodge it (so a module's dependencies stop being visible at
its top) and makes import order matter. Imports inside functions are deliberate lazy loads (cold
start) and are not edges here; ``if TYPE_CHECKING:`` blocks are skipped too.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "gateway" / "gateway"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node: ast.stmt, here: str, modules: set[str]) -> set[str]:
    names: set[str] = set()
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module:
        base = node.module
        if node.level:
            base = ".".join(here.split(".")[: -node.level] + [node.module])
        names = {base} | {f"{base}.{alias.name}" for alias in node.names}
    found = set()
    for name in names:
        while name and name not in modules:  # "gateway.keys.resolve.load" -> "gateway.keys.resolve"
            name = name.rpartition(".")[0]
        if name:
            parts = name.split(".")  # importing a.b.c runs a/__init__ and a.b/__init__ first
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in modules)
    return found


def _top_level_imports(tree: ast.Module) -> list[ast.stmt]:
    imports: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
        elif isinstance(node, ast.Try):
            imports += [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return imports


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(files)
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text())
        edges: set[str] = set()
        for node in _top_level_imports(tree):
            edges |= _targets(node, name if path.name != "__init__.py" else name + ".__init__", modules)
        edges.discard(name)
        graph[name] = {e for e in edges if not name.startswith(e + ".")}  # a module's own packages run first
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_is_built_from_real_imports():
    graph = import_graph()
    assert "gateway.keys.resolve" in graph["gateway.auth"]  # auth uses keys at module level
    assert "gateway.principal" in graph["gateway.keys.resolve"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_runtime_never_imports_the_dev_package():
    """``gateway_dev`` (moto stack, table creation, local batch worker) is not in the Lambda layer: no
    import of it anywhere in ``gateway``, not even inside a function."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            found += [f"{path.relative_to(PACKAGE.parent)}: {n}" for n in names if n.split(".")[0] in {"gateway_dev", "moto"}]
    assert not found, found


def test_the_check_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


# Read at import by the libraries themselves too (Powertools' service/namespace, litellm's log level).
IMPORT_TIME_ENV_ALLOWED = {"gateway.observability"}


def _reads_environment(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr in ("environ", "getenv")
               and isinstance(n.value, ast.Name) and n.value.id == "os" for n in ast.walk(node))


def import_time_environment_reads() -> list[str]:
    """Modules whose top level (not a function or method body) reads ``os.environ``."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.ClassDef):
                body = [n for n in node.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
                if any(_reads_environment(n) for n in body):
                    found.append(_module_name(path))
            elif _reads_environment(node):
                found.append(_module_name(path))
    return sorted(set(found) - IMPORT_TIME_ENV_ALLOWED)


def test_no_environment_reads_at_import_time():
    """Settings objects (gateway.settings, gateway.keys.settings, gateway.batch.settings) read the
    environment when asked, so a test or a SnapStart restore can change it and re-read."""
    assert import_time_environment_reads() == []
    assert _reads_environment(ast.parse("X = os.environ.get('A')"))
