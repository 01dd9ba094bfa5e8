"""Scenario files: one scenario mapping, or a list of them, per YAML file.

Loading goes beyond the model: control ids must exist in the catalog, the
methodology key must be one the catalog defines, detectors and strategies must
exist with valid parameters, and a scenario id may be defined only once across
everything loaded. Every problem in every file is collected before anything
is reported, so a scenario author fixes a whole library in one pass.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.errors import FileFormatError, Problem
from app.formats.scenario import DetectorSpec, ScenarioSpec, title_names_the_outcome
from app.formats.yamlsource import DataPath, LocationIndex, did_you_mean, field_name, load_yaml, validate

SUFFIXES = (".yaml", ".yml")
_PARAMETER = re.compile(r"parameter '([^']+)'")


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and exactly the text it was read from (hashed, so a run can cite it)."""

    spec: ScenarioSpec
    path: Path
    line: int  # 1-based line where the scenario starts
    text: str  # the scenario's YAML as written; for a list file, that item's slice
    sha256: str  # of ``text`` (UTF-8)
    # Located notes that do not stop a run, e.g. a regex that may backtrack without end (file:line:column: ...).
    warnings: tuple[str, ...] = ()


@dataclass
class _Item:
    """One scenario as read: its raw mapping for the cross checks, and the model's result if it passed."""

    path: Path
    raw: Any
    locations: LocationIndex
    at: DataPath  # where the scenario sits in its document: () or (index,)
    loaded: LoadedScenario | None  # None when the model rejected it

    def problem(self, rel: DataPath, message: str) -> Problem:
        """A problem about the value at ``rel`` inside this scenario."""
        full = self.at + rel
        line, column = self.locations.value(full) or self.locations.nearest(full)
        return Problem(str(self.path), line, column, field_name(full), message)


def scenario_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders recursively into their ``*.yaml``/``*.yml`` files; files are kept as given."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        else:
            found.append(path)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())



def load_scenarios(paths: Iterable[Path], *, catalog: Any = None) -> list[LoadedScenario]:
    """Every scenario in ``paths`` (files or folders), checked; all problems raised together.

    The cross checks also run on scenarios the model rejected, so one pass
    shows an author every problem, not the first layer of them.
    """
    items: list[_Item] = []
    problems: list[Problem] = []
    for path in scenario_files(paths):
        try:
            items.extend(_read_file(path, problems))
        except FileFormatError as exc:
            problems.extend(exc.problems)
    problems.extend(_check(items, catalog))
    if problems:
        raise FileFormatError(sorted(problems, key=lambda p: (p.path, p.line or 0, p.column or 0)))
    return [replace(item.loaded, warnings=_warnings(item)) for item in items if item.loaded is not None]


def _warnings(item: _Item) -> tuple[str, ...]:
    """What a detector's own check flags as risky but allowed, located in the file."""
    from app.detectors import detector_warning

    assert item.loaded is not None
    found: list[str] = []
    for d, det in enumerate(item.loaded.spec.detectors):
        message = detector_warning(det)
        if message:
            named = _PARAMETER.search(message)
            param = named.group(1) if named and named.group(1) in det.params else "type"
            found.append(str(item.problem(("detectors", d, param), message)))
    return tuple(found)


def _read_file(path: Path, problems: list[Problem]) -> list[_Item]:
    """The file's scenarios; model problems are appended to ``problems``."""
    data, locations = load_yaml(path)
    if isinstance(data, dict):
        raw_items: list[tuple[DataPath, Any]] = [((), data)]
    elif isinstance(data, list) and data:
        raw_items = [((i,), item) for i, item in enumerate(data)]
    else:
        line, column = locations.nearest(())
        problems.append(Problem(str(path), line, column, "",
                                "expected a scenario (a mapping) or a list of scenarios"))
        return []
    items = []
    for at, raw in raw_items:
        loaded: LoadedScenario | None = None
        try:
            spec = validate(ScenarioSpec, raw, locations, path, at=at)
        except FileFormatError as exc:
            problems.extend(exc.problems)
        else:
            text = locations.source if not at else _item_text(locations, at, raw)
            line = locations.nearest(at)[0] if at else _first_line(locations)
            loaded = LoadedScenario(spec=spec, path=path, line=line, text=text,
                                    sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
        items.append(_Item(path, raw, locations, at, loaded))
    return items



def _first_line(locations: LocationIndex) -> int:
    return locations.nearest(())[0]


def _item_text(locations: LocationIndex, at: DataPath, raw: Any) -> str:
    """The text of item ``at`` of a list file, such that it reads back as ``[raw]``.

    Normally the lines from the item's ``- `` to the next item's. When that
    slice does not stand alone (it uses an alias anchored in another item),
    the whole file is the snapshot: a reader picks the scenario out by id.
    """
    text = _item_lines(locations, at)
    try:
        if yaml.safe_load(text) == [raw]:
            return text
    except yaml.YAMLError:
        pass
    return locations.source


def _item_lines(locations: LocationIndex, at: DataPath) -> str:
    """Whole lines (with the ``- `` that opens the item), or the exact span for items sharing a line."""
    source = locations.source
    start, end = locations.span(at) or (0, len(source))
    line_start = source.rfind("\n", 0, start) + 1
    following = locations.span(at[:-1] + (int(at[-1]) + 1,))
    if following is not None:
        next_line_start = source.rfind("\n", 0, following[0]) + 1
        return source[line_start:next_line_start] if next_line_start > start else source[start:end]
    if end > 0 and source[end - 1] == "\n":
        return source[line_start:end]
    newline = source.find("\n", end)
    return source[line_start:len(source) if newline == -1 else newline + 1]



# ----------------------------------------------------------------- cross checks


def _check(items: list[_Item], catalog: Any) -> list[Problem]:
    """Titles that name a failure, catalog ids, methodology keys, detectors, strategies and unique ids,
    read from the raw mappings."""
    items = [item for item in items if isinstance(item.raw, dict)]
    if not items:
        return []
    from app.detectors import check_detector
    from app.strategies import apply, check_strategy

    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    known_ids = set(catalog.ids())
    methodologies = sorted(catalog.methodology_keys())
    taxonomies = {name: sorted(catalog.taxonomy(name)) for name in ("owasp", "atlas")}
    problems: list[Problem] = []
    first_seen: dict[str, _Item] = {}
    for item in items:
        raw = item.raw
        scenario_id = raw.get("id")
        if isinstance(scenario_id, str):
            original = first_seen.setdefault(scenario_id, item)
            if original is not item:
                line, column = original.locations.value(original.at + ("id",)) or (1, 1)
                problems.append(item.problem(("id",), f"duplicate scenario id '{scenario_id}' "
                                                      f"(also defined at {original.path}:{line}:{column})"))
        title, expected = raw.get("title"), raw.get("expected")
        if isinstance(title, str):
            why = title_names_the_outcome(title, expected if isinstance(expected, str) else "")
            if why:
                problems.append(item.problem(("title",), f"the title names the expected behaviour ({why}); name the "
                                             "failure instead, e.g. 'is answered' for 'is rejected': a failing run "
                                             "files its finding under this title"))
        for i, control in _strings(raw.get("controls")):
            if control not in known_ids:
                problems.append(item.problem(("controls", i), f"unknown control '{control}'"
                                             + did_you_mean(control, known_ids)))
        for taxonomy, known in taxonomies.items():
            for i, ident in _strings(raw.get(taxonomy)):
                if ident not in known:
                    problems.append(item.problem((taxonomy, i), f"unknown {taxonomy} id '{ident}'"
                                                 + did_you_mean(ident, known)))
        methodology = raw.get("methodology")
        if isinstance(methodology, str) and methodology not in methodologies:
            problems.append(item.problem(("methodology",), f"unknown methodology '{methodology}'"
                                         + did_you_mean(methodology, methodologies)))
        for d, detector in _mappings(raw.get("detectors")):
            try:
                spec = DetectorSpec.model_validate(detector)
            except ValidationError:
                continue  # the model has reported it
            try:
                check_detector(spec)
            except ValueError as exc:
                # Point at the parameter the message names when it is in the file, else at the type.
                named = _PARAMETER.search(str(exc))
                param = named.group(1) if named and named.group(1) in spec.params else None
                problems.append(item.problem(("detectors", d, param or "type"), str(exc)))
        for form in ("turns", "steps"):
            for s, step in _mappings(raw.get(form)):
                strategy = step.get("strategy")
                if step.get("type", "chat") == "chat" and isinstance(strategy, str):
                    try:
                        check_strategy(strategy, single_turn=True)
                        if isinstance(step.get("user"), str):  # a language must have this message translated
                            apply(strategy, step["user"])
                    except ValueError as exc:
                        problems.append(item.problem((form, s, "strategy"), str(exc).split(" (known:")[0]))
    return problems


def _strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def _mappings(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []
