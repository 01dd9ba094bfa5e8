"""Strategies users add: YAML templates in the data dir, and Python plugins through an entry point.

A YAML strategy is text around one ``{prompt}`` slot, so it needs no code and
its inverse is exact. Files live in ``<data dir>/strategies/*.yaml`` and are
read with the bounded loader; a bad file is an error naming file, line and
field, never a strategy quietly missing. Code comes in only through the
``redline.strategies`` entry-point group of an installed package: Redline
never imports a Python file from a folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.strategies.framing import SLOT, Template

if TYPE_CHECKING:
    from app.strategies.base import Strategy

ENTRY_POINT_GROUP = "redline.strategies"
MAX_STRATEGY_FILES = 200
MAX_TEMPLATE_CHARS = 8000
_problems: list[str] = []


class _TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=40)
    summary: str = Field(default="", max_length=200)
    template: str = Field(min_length=len(SLOT), max_length=MAX_TEMPLATE_CHARS)

    @field_validator("template")
    @classmethod
    def _one_slot(cls, value: str) -> str:
        if value.count(SLOT) != 1:
            raise ValueError(f"needs exactly one {SLOT} slot where the request goes (found {value.count(SLOT)})")
        return value


class _StrategyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    strategies: list[_TemplateSpec] = Field(min_length=1, max_length=100)


def strategies_dir() -> Path:
    from app.paths import home_dir

    return home_dir(create=False) / "strategies"


def load_strategy_file(path: Path, taken: Iterable[str] = ()) -> list[Strategy]:
    """The strategies one YAML file defines; FileFormatError (file, line, field) for any problem in it."""
    from app.errors import FileFormatError, Problem
    from app.formats.yamlsource import load_yaml, validate
    from app.strategies.base import Strategy

    data, where = load_yaml(path)
    spec = validate(_StrategyFile, data, where, path)
    seen = set(taken)
    found: list[Strategy] = []
    for i, item in enumerate(spec.strategies):
        if item.name in seen:
            line, column = where.nearest(("strategies", i, "name"))
            raise FileFormatError([Problem(str(path), line, column, f"strategies[{i}].name",
                                           f"'{item.name}' is already a strategy; choose another name")])
        seen.add(item.name)
        template = Template(item.template)
        found.append(Strategy(item.name, "custom", template.fill, template.strip, item.summary or "user template",
                              origin=str(path)))
    return found


def user_strategies(reserved: tuple[str, ...] = ()) -> list[Strategy]:
    """Every strategy in the data dir's ``strategies`` folder (re-read when a file changes); ``reserved``
    are the names already taken (built-in and shipped), which a user file may not reuse."""
    folder = strategies_dir()
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.yaml"))[:MAX_STRATEGY_FILES]
    return list(_load_files(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files), reserved))


@lru_cache(maxsize=8)
def _load_files(stamps: tuple[tuple[str, int, int], ...], reserved: tuple[str, ...]) -> tuple[Strategy, ...]:
    taken = list(reserved)
    found: list[Strategy] = []
    for path, _, _ in stamps:
        found += load_strategy_file(Path(path), taken + [s.name for s in found])
    return tuple(found)


def plugin_strategies() -> tuple[Strategy, ...]:
    """Strategies from installed packages' ``redline.strategies`` entry points.

    Each entry point names a :class:`~app.strategies.Strategy`, or a callable
    returning one or several. One that fails to load is left out and its
    problem kept for ``redline strategies list``, so a broken plugin never stops a run.
    """
    return _plugins()


def plugin_problems() -> list[str]:
    _plugins()
    return list(_problems)


@lru_cache(maxsize=1)
def _plugins() -> tuple[Strategy, ...]:
    from importlib.metadata import entry_points

    from app.strategies.base import Strategy

    found: list[Strategy] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded: Any = ep.load()
            made = loaded() if callable(loaded) and not isinstance(loaded, Strategy) else loaded
            items = [made] if isinstance(made, Strategy) else list(made)
            if not all(isinstance(s, Strategy) for s in items):
                raise TypeError("it must give Strategy objects")
        except Exception as exc:  # a third-party plugin's failure is reported, not raised
            _problems.append(f"entry point '{ep.name}' ({ep.value}): {type(exc).__name__}: {exc}")
            continue
        found += [Strategy(s.name, s.family, s.transform, s.inverse, s.summary, f"entry point {ep.name}",
                           s.turns, s.join) for s in items]
    return tuple(found)
