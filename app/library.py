"""The scenario library: the bundled scenarios plus an engagement's own, checked together.

The runner asks the library for a scenario by id and, before running it, calls
:func:`snapshot` so the store keeps the scenario's text exactly as run: an
auditor can later read what was sent and why it was judged as it was, even
after the library file changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.formats.scenario import CATEGORIES
from app.formats.scenario_files import LoadedScenario, load_scenarios, scenario_files
from app.resources import scenarios_dir
from app.store.models import Scenario

if TYPE_CHECKING:
    from sqlmodel import Session


class ScenarioLibrary:
    """Loaded, validated scenarios with unique ids."""

    def __init__(self, scenarios: Iterable[LoadedScenario], files: Iterable[Path] = ()):
        self._by_id: dict[str, LoadedScenario] = {s.spec.id: s for s in scenarios}
        self.files: tuple[Path, ...] = tuple(files)

    def get(self, scenario_id: str) -> LoadedScenario | None:
        return self._by_id.get(scenario_id)

    def ids(self) -> set[str]:
        return set(self._by_id)

    def all(self) -> list[LoadedScenario]:
        """Every scenario, in category order (as the catalog lists them), then by id."""
        order = {name: i for i, name in enumerate(CATEGORIES)}
        return sorted(self._by_id.values(), key=lambda s: (order.get(s.spec.category, 99), s.spec.id))

    def by_category(self) -> dict[str, list[LoadedScenario]]:
        """Category -> its scenarios, for every category that has at least one."""
        grouped: dict[str, list[LoadedScenario]] = {}
        for loaded in self.all():
            grouped.setdefault(loaded.spec.category, []).append(loaded)
        return grouped

    def for_controls(self, ids: Iterable[str]) -> list[LoadedScenario]:
        """Scenarios that evidence any of the given criteria or AI controls."""
        wanted = set(ids)
        return [s for s in self.all() if wanted.intersection(s.spec.controls)]

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[LoadedScenario]:
        return iter(self.all())

    def __contains__(self, scenario_id: object) -> bool:
        return scenario_id in self._by_id


def load_library(extra_paths: Iterable[Path] = (), *, builtin: bool = True,
                 catalog: Any = None) -> ScenarioLibrary:
    """The bundled library (unless ``builtin`` is false) plus ``extra_paths`` (files or folders).

    Raises :class:`app.errors.FileFormatError` listing every problem in every
    file, including an id defined twice anywhere in the set.
    """
    roots: list[Path] = [scenarios_dir()] if builtin and scenarios_dir().is_dir() else []
    roots.extend(Path(p) for p in extra_paths)
    files = scenario_files(roots)
    return ScenarioLibrary(load_scenarios(files, catalog=catalog), files)


def source_label(path: Path) -> str:
    """How a scenario's file is named in the store: ``builtin:<relative path>`` for bundled ones.

    A bundled file's absolute path says where Redline happened to be installed,
    which is noise in evidence; the relative name stays meaningful.
    """
    root = scenarios_dir().resolve()
    resolved = Path(path).resolve()
    if resolved.is_relative_to(root):
        return f"builtin:{resolved.relative_to(root).as_posix()}"
    return str(path)


def snapshot(db: Session, loaded: LoadedScenario) -> Scenario:
    """The stored copy of ``loaded`` (same id and same text hash), created the first time it runs."""
    from sqlmodel import select

    existing = db.exec(
        select(Scenario).where(Scenario.scenario_id == loaded.spec.id, Scenario.sha256 == loaded.sha256)
    ).first()
    if existing is not None:
        return existing
    spec = loaded.spec
    row = Scenario(scenario_id=spec.id, sha256=loaded.sha256, title=spec.title, category=spec.category,
                   severity=spec.severity, controls=list(spec.controls), source_path=source_label(loaded.path),
                   yaml_text=loaded.text)
    db.add(row)
    db.flush()
    return row
