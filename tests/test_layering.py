"""The layers the architecture describes, read from the source with ``ast`` (no module is imported).

What counts as an import: every ``import`` and ``from ... import`` statement, wherever it stands, at
module level, inside a function, or under ``if TYPE_CHECKING:``. A deferred import is a dependency that
runs later; a type-only import is a dependency of whoever reads the code. ``from package import name``
depends on ``package.name`` when that is a module, on ``package`` otherwise. A package's ``__init__``
counts only where it is imported by name: Python runs it before any of its modules, so a module importing
its sibling is no cycle through the package, but ``from app.changes import x`` does run everything
``app/changes/__init__.py`` imports.

The layer rules follow imports transitively (a detector reaching a transport through a third module
still knows about transports); the cycle rule reads the same graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "screens")


class ImportGraph:
    """The project's modules under ``root`` and what each imports."""

    def __init__(self, root: Path) -> None:
        self.modules: dict[str, Path] = {}
        for package in PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                parts = list(path.relative_to(root).with_suffix("").parts)
                self.modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
        self._imports: dict[str, frozenset[str]] = {}

    def _resolve(self, target: str, module: str) -> set[str]:
        if target.split(".")[0] not in PACKAGES:
            return {target.split(".")[0]}  # a third-party or standard library name: its top package
        # The longest project module the name starts with (``app.store.models.Run`` is app.store.models).
        parts = target.split(".")
        known = [m for i in range(len(parts), 0, -1) if (m := ".".join(parts[:i])) in self.modules]
        return {known[0]} - {module} if known else set()

    def imports(self, module: str) -> frozenset[str]:
        """What ``module`` imports: project modules, and the top package of anything else."""
        if module not in self._imports:
            path = self.modules[module]
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            found: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        found |= self._resolve(alias.name, module)
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                        base = ".".join([*anchor, base] if base else anchor)
                    for alias in node.names:
                        sub = f"{base}.{alias.name}"
                        found |= self._resolve(sub if sub in self.modules else base, module)
            self._imports[module] = frozenset(found)
        return self._imports[module]

    def reach(self, module: str, allowed: frozenset[tuple[str, str]] = frozenset()) -> dict[str, list[str]]:
        """Every name ``module`` imports, directly or through project modules, with one shortest path to it."""
        paths = {module: [module]}
        queue = [module]
        while queue:
            current = queue.pop(0)
            for target in sorted(self.imports(current)):
                if target not in paths and (current, target) not in allowed:
                    paths[target] = [*paths[current], target]
                    if target in self.modules:
                        queue.append(target)
        return paths

    def breaks(self, sources: tuple[str, ...], forbidden: tuple[str, ...],
               allowed: frozenset[tuple[str, str]] = frozenset(), exempt: tuple[str, ...] = ()) -> list[str]:
        """Each path by which a module under ``sources`` (other than ``exempt``) reaches one under
        ``forbidden``, not crossing an ``allowed`` edge (importer, imported)."""
        found = []
        for module in self.modules:
            if _under(module, sources) and module not in exempt:
                for target, path in self.reach(module, allowed).items():
                    if _under(target, forbidden) and not _under(target, sources):
                        found.append(" -> ".join(path))
        return found

    def cycles(self) -> list[list[str]]:
        """Groups of modules that import each other, directly or round a loop (strongly connected, Tarjan)."""
        graph = {m: sorted(t for t in self.imports(m) if t in self.modules) for m in self.modules}
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        groups: list[list[str]] = []

        def visit(node: str) -> None:
            index[node] = low[node] = len(index)
            stack.append(node)
            for target in graph[node]:
                if target not in index:
                    visit(target)
                    low[node] = min(low[node], low[target])
                elif target in stack:
                    low[node] = min(low[node], index[target])
            if low[node] == index[node]:
                group = []
                while (member := stack.pop()) != node:
                    group.append(member)
                group.append(node)
                if len(group) > 1:
                    groups.append(sorted(group))

        for module in graph:
            if module not in index:
                visit(module)
        return groups


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


GRAPH = ImportGraph(REPO)


# The entry point is the one place that knows both sides: ``redline`` with no command starts the
# cockpit. Nothing else in the core imports it (checked below), so the core never reaches the cockpit.
ENTRY_POINT = "app.cli"


def test_the_core_never_imports_the_cockpit_nor_textual() -> None:
    assert GRAPH.breaks(("app",), ("screens", "textual"), exempt=(ENTRY_POINT,)) == []
    assert [m for m in GRAPH.modules if _under(m, ("app",)) and ENTRY_POINT in GRAPH.imports(m)] == []


def test_detectors_and_strategies_know_nothing_of_targets_store_or_runner() -> None:
    assert GRAPH.breaks(("app.detectors", "app.strategies"), ("app.targets", "app.store", "app.runner")) == []


# ``verify`` re-decodes each stored raw body with the decoder of the adapter kind that read it
# (app.targets.replay), to show the stored text still matches the bytes. That module builds an adapter
# only to ask for its decoder and never opens a connection; it is the one edge from evidence to targets.
VERIFY_REPLAY = frozenset({("app.evidence.verify_evidence", "app.targets.replay")})


def test_export_never_reaches_the_network_nor_the_runner() -> None:
    assert GRAPH.breaks(("app.evidence",), ("app.targets", "app.runner"), allowed=VERIFY_REPLAY) == []


def test_only_verify_replays_through_an_adapter_decoder() -> None:
    """Without the one allowed edge, only verify reaches targets, and only through replay."""
    paths = GRAPH.breaks(("app.evidence",), ("app.targets", "app.runner"))
    assert paths and all(" -> app.targets.replay" in p and p.startswith("app.evidence.verify") for p in paths)


def test_no_import_cycles() -> None:
    assert GRAPH.cycles() == []


def test_the_reader_catches_a_break_through_a_third_module_and_a_cycle(tmp_path: Path) -> None:
    """The reader is not blind: a planted layer break and a planted cycle are both found."""
    files = {
        "app/__init__.py": "",
        "app/detectors/__init__.py": "",
        "app/detectors/probe.py": "def f():\n    from app.helpers import x\n",
        "app/helpers.py": "from . import other\nx = 1\n",
        "app/other.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.targets.base import T\n",
        "app/targets/__init__.py": "",
        "app/targets/base.py": "import app.helpers\n",
        "screens/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    graph = ImportGraph(tmp_path)
    assert graph.breaks(("app.detectors",), ("app.targets",)) == [
        "app.detectors.probe -> app.helpers -> app.other -> app.targets.base"]
    assert graph.cycles() == [["app.helpers", "app.other", "app.targets.base"]]
