"""The mapping table that turns another tool's probe names and tags into Redline's controls and taxonomies.

Shipped in ``assets/importers/mapping.yaml`` and editable: a user file (``--mapping`` or
``$REDLINE_HOME/import-mapping.yaml``) replaces entries key by key. Every control and taxonomy id is checked
against the catalog when the table loads, with the file, line and field of a wrong one, so an import never
writes a control the catalog does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from app.errors import FileFormatError, Problem

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.importers.model import ImportedProbe

SEVERITY_BY_CATEGORY = {"security": "high", "confidentiality": "high", "privacy": "high",
                        "processing_integrity": "medium", "availability": "medium"}


class Target(BaseModel):
    """What a tag or plugin evidences in Redline's terms."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    controls: list[str] = Field(default_factory=list)
    owasp: list[str] = Field(default_factory=list)
    atlas: list[str] = Field(default_factory=list)
    category: str | None = None


class MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    garak_probes: dict[str, list[str]] = Field(default_factory=dict)
    tags: dict[str, Target] = Field(default_factory=dict)
    promptfoo_plugins: dict[str, Target] = Field(default_factory=dict)


@dataclass(frozen=True)
class Mapped:
    """A probe's place in the catalog; ``sources`` names the tags or plugin it came through."""

    controls: list[str] = field(default_factory=list)
    owasp: list[str] = field(default_factory=list)
    atlas: list[str] = field(default_factory=list)
    category: str = "security"
    sources: list[str] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return SEVERITY_BY_CATEGORY.get(self.category, "medium")


@dataclass(frozen=True)
class MappingTable:
    garak_probes: dict[str, list[str]]
    tags: dict[str, Target]
    promptfoo_plugins: dict[str, Target]
    files: tuple[str, ...]  # where it was read from, for the import's audit event

    def map(self, tool: str, probe: ImportedProbe) -> Mapped:
        if tool == "garak":
            module = probe.name.split(".", 1)[0]
            tags = list(dict.fromkeys([*probe.tags, *self.garak_probes.get(module, [])]))
            targets = [(tag, self.tags[tag]) for tag in tags if tag in self.tags]
        else:
            plugin = next((t.split(":", 1)[1] for t in probe.tags if t.startswith("plugin:")), probe.name)
            key = max((k for k in self.promptfoo_plugins if plugin == k or plugin.startswith(k + ":")
                       or plugin.startswith(k + "-")), key=len, default=None)
            targets = [(f"plugin:{key}", self.promptfoo_plugins[key])] if key else []
        merged = Mapped(sources=[name for name, _ in targets],
                        category=next((t.category for _, t in targets if t.category), "security"))
        for _, target in targets:
            for attr in ("controls", "owasp", "atlas"):
                values = getattr(merged, attr)
                values.extend(v for v in getattr(target, attr) if v not in values)
        return merged


def default_file() -> Path:
    from app.resources import assets_dir

    return assets_dir() / "importers" / "mapping.yaml"


def user_file() -> Path | None:
    from app.paths import home_dir

    path = home_dir(create=False) / "import-mapping.yaml"
    return path if path.is_file() else None


def _read(path: Path, catalog: Catalog) -> tuple[MappingFile, list[Problem]]:
    from app.formats.plainwords import did_you_mean
    from app.formats.scenario import CATEGORIES
    from app.formats.yamlsource import load_yaml, validate

    data, locations = load_yaml(path)
    body = validate(MappingFile, data if data is not None else {}, locations, path)
    known = {"controls": catalog.ids(), "owasp": set(catalog.taxonomy("owasp")), "atlas": set(catalog.taxonomy("atlas"))}
    problems = []

    def problem(at: tuple[Any, ...], message: str) -> Problem:
        line, column = locations.value(at) or locations.nearest(at)
        return Problem(str(path), line, column, ".".join(str(a) for a in at), message)

    for section in ("tags", "promptfoo_plugins"):
        for key, target in getattr(body, section).items():
            for attr, ids in known.items():
                for i, ident in enumerate(getattr(target, attr)):
                    if ident not in ids:
                        what = "control" if attr == "controls" else attr
                        problems.append(problem((section, key, attr, i), f"unknown {what} id '{ident}'"
                                                + did_you_mean(ident, ids)))
            if target.category is not None and target.category not in CATEGORIES:
                problems.append(problem((section, key, "category"), f"unknown category '{target.category}'"))
    return body, problems


def load_mapping(extra: Path | None = None, catalog: Catalog | None = None) -> MappingTable:
    """The shipped table, overlaid by the user's file and then ``extra``; every problem raised at once."""
    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    paths = [default_file(), *(p for p in (user_file(), extra) if p is not None)]
    probes: dict[str, list[str]] = {}
    tags: dict[str, Target] = {}
    plugins: dict[str, Target] = {}
    problems: list[Problem] = []
    for path in paths:
        body, found = _read(Path(path), catalog)
        problems += found
        probes.update(body.garak_probes)
        tags.update(body.tags)
        plugins.update(body.promptfoo_plugins)
    if problems:
        raise FileFormatError(problems)
    return MappingTable(probes, tags, plugins, tuple(str(p) for p in paths))
