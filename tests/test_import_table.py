"""The layer table of code-style 4.2, for agentctl's own modules, read from the source.

`test_layers.py` imports each layer and checks which third-party modules it loads at
start-up. This file reads every `agentctl.*` import with `ast` (top-level and inside
functions, so a lazy import cannot hide a dependency) and checks it against the table
below; it also checks that module-level imports form no cycle.

Imports under `if TYPE_CHECKING:` are not counted: they name the type of data that crosses
a layer (a plan, a record) and run nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which layer a module belongs to: the longest matching prefix wins. A new top-level
# module must be placed here.
LAYER_OF = {
    # shared knowledge, stdlib only: every layer may use it
    "agentctl": "base",
    "agentctl.__main__": "cli",
    "agentctl.errors": "base",
    "agentctl.exit_codes": "base",
    "agentctl.fileio": "base",
    "agentctl.hosts": "base",  # what a host name says (loopback, private)
    "agentctl.secretset": "base",  # the values a run never prints
    "agentctl.record": "base",  # what a field of the agent record is
    "agentctl.protocol": "base",  # the live session's event names
    "agentctl.g711": "base",  # the telephony audio codec (stdlib only)
    "agentctl.settings": "settings",
    "agentctl.profiles": "settings",
    "agentctl.spec": "spec",
    "agentctl.api": "api",
    "agentctl.session": "session",
    "agentctl.render": "render",
    "agentctl.usecases": "usecases",
    "agentctl.testing": "testing",  # agentctl test: conversations over live sessions
    "agentctl.emulator": "emulator",
    "agentctl.cli": "cli",
}

# What each layer may import of agentctl (code-style 4.2; its own layer always).
MAY_IMPORT = {
    "base": {"base"},
    "settings": {"base"},
    "spec": {"base"},
    "api": {"base"},
    # the WebSocket session takes URL and auth from the API's transport, nothing else
    "session": {"base", "agentctl.api.transport"},
    "render": {"base"},
    "usecases": {"base", "settings", "spec", "api", "session"},
    "emulator": {"base", "spec"},  # validates like the service
    # conversation tests: test files (spec), live sessions (session); no HTTP of its own
    "testing": {"base", "spec", "session"},
    # The CLI may use every layer, but of the emulator only what runs it and what
    # `emulator serve` checks before it binds (faults, the live script).
    "cli": {"base", "settings", "spec", "api", "session", "render", "usecases", "testing",
            "agentctl.emulator.server", "agentctl.emulator.faults",
            "agentctl.emulator.script"},
}

# Known violations, each with the step that removes it. An entry that no longer occurs
# fails the test too, so the mark goes when the fix lands.
KNOWN: dict[tuple[str, str], str] = {
}

# Known module-level cycles (as sorted module tuples), same rule.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / "agentctl").rglob("*.py"))}


def layer_of(module: str) -> str:
    best = max((p for p in LAYER_OF if module == p or (module.startswith(p + ".") and "." in p)),
               key=len, default=None)  # the package itself ("agentctl") only by its name
    assert best is not None, f"{module}: not in the layer table (tests/test_import_table.py)"
    return LAYER_OF[best]


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imports(
    path: Path, known: dict[str, Path], root: Path = ROOT
) -> Iterator[tuple[str, int, bool]]:
    """(imported agentctl module, line, at module level) for each import in the file."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, top: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                yield from (i for c in child.orelse for i in visit_one(c, top))
                continue
            yield from visit_one(child, top)

    def visit_one(node: ast.AST, top: bool) -> Iterator[tuple[str, int, bool]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, top
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:  # `from agentctl.x import y`: y may be a module
                sub = f"{source}.{alias.name}"
                yield (sub if sub in known else source), node.lineno, top
        else:
            nested = top and not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from visit(node, nested)

    for name, line, top in visit(ast.parse(path.read_text("utf-8")), True):
        if name == "agentctl" or name.startswith("agentctl."):
            yield name, line, top


def allowed(importer: str, imported: str) -> bool:
    mine, theirs = layer_of(importer), layer_of(imported)
    rules = MAY_IMPORT[mine]
    return theirs == mine or theirs in rules or imported in rules  # a layer, or one module


def violations() -> dict[tuple[str, str], list[int]]:
    known = modules()
    found: dict[tuple[str, str], list[int]] = {}
    for module, path in known.items():
        for imported, line, _ in imports(path, known):
            if not allowed(module, imported):
                lines = found.setdefault((module, imported), [])
                if line not in lines:
                    lines.append(line)
    return found


def cycles(root: Path = ROOT) -> list[tuple[str, ...]]:
    """Strongly connected components of the module-level import graph (Tarjan)."""
    known = modules(root)
    graph = {m: sorted({i for i, _, top in imports(p, known, root)
                        if top and i in known and i != m})
             for m, p in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for v in graph:
        if v not in index:
            connect(v)
    return found


def test_every_module_has_a_layer() -> None:
    found = modules()
    assert len(found) > 40
    for module in found:
        layer_of(module)


def test_agentctl_imports_follow_the_layer_table() -> None:
    found = violations()
    new = {f"{a} -> {b} (line {', '.join(map(str, lines))})"
           for (a, b), lines in found.items() if (a, b) not in KNOWN}
    assert not new, "imports the layer table (code-style 4.2) forbids:\n" + "\n".join(sorted(new))
    gone = sorted(f"{a} -> {b}" for a, b in KNOWN if (a, b) not in found)
    assert not gone, f"fixed: remove from KNOWN in {Path(__file__).name}: {gone}"


def test_no_import_cycle() -> None:
    found = cycles()
    new = [c for c in found if c not in KNOWN_CYCLES]
    assert not new, f"module-level import cycles: {new}"
    gone = [c for c in KNOWN_CYCLES if c not in found]
    assert not gone, f"fixed: remove from KNOWN_CYCLES in {Path(__file__).name}: {gone}"


# -- the checks themselves can fail ----------------------------------------------------------


@pytest.mark.parametrize(("importer", "imported", "ok"), [
    ("agentctl.api.apply", "agentctl.spec.plan", False),
    ("agentctl.render.plans", "agentctl.spec.plan", False),
    ("agentctl.render.live", "agentctl.session.events", False),
    ("agentctl.cli.tab", "agentctl.emulator.store", False),
    ("agentctl.spec.load", "agentctl.api.client", False),
    ("agentctl.emulator.app", "agentctl.render.output", False),
    ("agentctl.session.ws", "agentctl.api.client", False),
    ("agentctl.session.ws", "agentctl.api.transport", True),
    ("agentctl.emulator.app", "agentctl.spec.rules", True),
    ("agentctl.usecases.apply", "agentctl.spec.plan", True),
    ("agentctl.usecases.apply", "agentctl.api.client", True),
    ("agentctl.usecases.apply", "agentctl.render.plans", False),
    ("agentctl.cli.state", "agentctl.emulator.server", True),
    ("agentctl.cli.agents", "agentctl.usecases.create", True),
    ("agentctl.settings", "agentctl.spec.rules", False),
])
def test_the_table_judges(importer: str, imported: str, ok: bool) -> None:
    assert allowed(importer, imported) is ok


def test_the_scanner_sees_function_level_and_skips_type_checking(tmp_path: Path) -> None:
    source = tmp_path / "agentctl" / "render" / "x.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from agentctl.errors import UsageError\n"
        "if TYPE_CHECKING:\n    from agentctl.spec.plan import Plan\n"
        "def f():\n    from agentctl.api import client\n"
        "class C:\n    def g(self):\n        import agentctl.session.ws\n",
        "utf-8",
    )
    found = list(imports(source, {"agentctl.api.client": source}, root=tmp_path))
    assert found == [("agentctl.errors", 2, True), ("agentctl.api.client", 6, False),
                     ("agentctl.session.ws", 9, False)]


def test_the_cycle_finder_finds_a_cycle_and_ignores_a_lazy_import(tmp_path: Path) -> None:
    package = tmp_path / "agentctl" / "emulator"
    package.mkdir(parents=True)
    for name in ("__init__", "app", "live", "store"):
        (package / f"{name}.py").write_text("", "utf-8")
    (package / "app.py").write_text("from agentctl.emulator import live\n", "utf-8")
    (package / "live.py").write_text("from . import app\nfrom .store import X\n", "utf-8")
    (package / "store.py").write_text("def f():\n    from agentctl.emulator import app\n",
                                      "utf-8")
    assert cycles(tmp_path) == [("agentctl.emulator.app", "agentctl.emulator.live")]
