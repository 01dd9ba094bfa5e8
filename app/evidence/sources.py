"""What the bundle takes from outside the store: the catalog, the alignment coverage, and the secrets to scrub.

Each comes from the module that owns it (``app.catalog``, ``app.alignment``,
``app.secrets``); nothing here re-derives their logic. Where the owning module
cannot answer (a user catalog file that no longer loads, say), the bundle
falls back to the snapshot the store holds and says so, rather than failing
the export an auditor is waiting for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError

if TYPE_CHECKING:
    from sqlmodel import Session

CROSSWALK_KEYS = ("iso42001", "nist_ai_rmf", "eu_ai_act")


def plain(value: Any) -> Any:
    """Dataclasses and pydantic models as plain dicts/lists, for JSON and templates."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return plain(value.model_dump())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return value


class CatalogView:
    """Names, crosswalk rows and methodology for the ids an engagement uses."""

    def __init__(self, db: Session) -> None:
        from sqlmodel import select

        from app.store.models import Control, Criterion

        self.problem = ""
        self._catalog: Any = None
        try:
            from app.catalog import load_catalog

            self._catalog = load_catalog()
        except ModuleNotFoundError as exc:
            if exc.name != "app.catalog":
                raise
            self.problem = "the control catalog is not installed; names come from the store's snapshot"
        except RedlineError as exc:
            self.problem = f"the control catalog did not load ({exc}); names come from the store's snapshot"
        self._criteria = {c.id: c for c in db.exec(select(Criterion)).all()}
        self._controls = {c.id: c for c in db.exec(select(Control)).all()}

    @property
    def catalog(self) -> Any:
        return self._catalog

    def name(self, control_id: str) -> str:
        """The criterion's name or the AI control's objective; "" when nobody knows the id."""
        if self._catalog is not None:
            entry = _safe_get(self._catalog, control_id)
            if entry is not None:
                return str(getattr(entry, "name", "") or getattr(entry, "objective", "") or "")
        if control_id in self._criteria:
            return self._criteria[control_id].name
        if control_id in self._controls:
            return self._controls[control_id].objective
        return ""

    def related_criteria(self, control_id: str) -> list[str]:
        """For an AI control, the Trust Services Criteria it serves."""
        if self._catalog is not None:
            entry = _safe_get(self._catalog, control_id)
            if entry is not None:
                return [str(c) for c in getattr(entry, "criteria", None) or []]
        if control_id in self._controls:
            return list(self._controls[control_id].criteria)
        return []

    def crosswalk(self, control_id: str) -> list[dict[str, str]]:
        """ISO 42001 / NIST AI RMF / EU AI Act rows for an id; an AI control reports its criteria's rows."""
        own = self._crosswalk_of(control_id)
        if own:
            return [dict(own, via="")]
        rows = []
        for criterion in self.related_criteria(control_id):
            found = self._crosswalk_of(criterion)
            if found:
                rows.append(dict(found, via=criterion))
        return rows

    def _crosswalk_of(self, control_id: str) -> dict[str, str] | None:
        found: Any = None
        if self._catalog is not None and hasattr(self._catalog, "crosswalk_for"):
            found = plain(self._catalog.crosswalk_for(control_id))
        if not found and control_id in self._criteria:
            found = dict(self._criteria[control_id].crosswalk)
        if not found:
            return None
        return {key: str(found.get(key) or "") for key in CROSSWALK_KEYS}

    def taxonomy(self, field_name: str) -> list[dict[str, str]]:
        """The catalog's entries of a scenario taxonomy (``owasp`` or ``atlas``), in catalog order."""
        if self._catalog is None or not hasattr(self._catalog, "taxonomy"):
            return []
        return [{"id": row.id, "name": row.name, "tactic": str(getattr(row, "tactic", "") or "")}
                for row in self._catalog.taxonomy(field_name).values()]

    def methodology(self, categories: Iterable[str]) -> list[dict[str, str]]:
        """The catalog's methodology bullets for the categories tested, in catalog order."""
        wanted = set(categories)
        items = getattr(self._catalog, "methodology", None) if self._catalog is not None else None
        if isinstance(items, dict):
            items = list(items.values())
        rows = []
        for item in plain(list(items or [])):
            if isinstance(item, dict) and item.get("category") in wanted:
                rows.append({"key": str(item.get("key", "")), "category": str(item["category"]),
                             "text": str(item.get("text", ""))})
        return rows


def _safe_get(catalog: Any, control_id: str) -> Any:
    try:
        return catalog.get(control_id)
    except (KeyError, LookupError, RedlineError):
        return None


def coverage(db: Session, engagement_id: int, catalog: Any,
             scenarios_as_run: Iterable[str]) -> tuple[dict[str, Any] | None, str]:
    """The alignment's coverage of the control matrix (rows, gaps, unmapped AI controls), or why not.

    A scenario counts as known when the engagement's library holds it or when
    the store holds it as run: evidence already gathered is coverage even if
    the scenario file has since been moved.
    """
    try:
        from app.alignment.matrix import coverage as alignment_coverage
        from app.alignment.matrix import engagement_library
    except ModuleNotFoundError as exc:
        if exc.name not in ("app.alignment", "app.alignment.matrix"):
            raise
        return None, "coverage is not available in this build"
    known = set(scenarios_as_run)
    note = ""
    library = None
    try:
        library = engagement_library(db, engagement_id)
        known |= set(library.ids())
    except RedlineError as exc:
        note = f"the scenario library did not load ({exc}); coverage counts only scenarios as run"
    try:
        result = alignment_coverage(db, engagement_id, catalog=catalog, known_scenarios=known, library=library)
    except (RedlineError, ModuleNotFoundError) as exc:
        return None, f"coverage could not be computed: {exc}"
    data = plain(result)
    rows = data.get("rows", []) if isinstance(data, dict) else []
    gaps = [row for row in rows if isinstance(row, dict) and not row.get("scenarios")]
    summary = result.summary() if hasattr(result, "summary") else ""
    return {"rows": rows, "gaps": gaps, "unmapped_ai_controls": list(data.get("unmapped_ai_controls", [])),
            "summary": summary}, note


def secret_values(targets: Iterable[dict[str, Any]]) -> list[str]:
    """The values behind the systems' key references, so the bundle can prove it carries none of them.

    The store holds references only; this is belt and braces against a secret
    echoed back by a target or pasted into a note. A reference that cannot be
    read here (no keyring, variable unset) is skipped: nothing can leak from a
    secret this process cannot see.
    """
    from app.formats.engagement import KeyRef
    from app.secrets import SecretResolver

    resolver = SecretResolver()
    values: set[str] = set()
    for target in targets:
        for field in ("api_key", "revoked_key"):
            ref = target.get(field)
            if not isinstance(ref, dict):
                continue
            try:
                values.add(resolver.resolve(KeyRef(**ref)))
            except (RedlineError, ValueError):
                continue
    return sorted(v for v in values if v)


def model_output(db: Session, run_ids: Sequence[int], batch: int = 500) -> Iterator[str]:
    """Every stored answer of the given runs, as the model gave it: what the secret census counts."""
    from sqlmodel import select

    from app.store.models import Turn

    for start in range(0, len(run_ids), batch):
        chunk = list(run_ids[start:start + batch])
        for (text,) in db.execute(select(Turn.response_text).where(Turn.run_id.in_(chunk))):  # type: ignore[attr-defined]
            if text:
                yield text


class Scrubber:
    """The one export-time filter every string of a record passes: known secret values, then any redactions.

    ``filters`` are text filters from :mod:`app.evidence.redaction` (``--redact``).
    ``changed_turns`` and ``changed_verdicts`` collect the rows the filter altered,
    so the manifest can say which digests a bundle cannot reproduce.
    """

    def __init__(self, secrets: Iterable[str], filters: Sequence[Callable[[str], str]] = (),
                 names: Sequence[str] = ()) -> None:
        self.secrets = [s for s in secrets if s]
        self.filters = list(filters)
        self.names = list(names)  # the redactions applied, by name (empty: secrets only)
        self.changed_turns: set[int] = set()
        self.changed_verdicts: set[int] = set()
        self.changed_events: set[int] = set()  # audit events (by seq) exported with a redacted payload

    def __bool__(self) -> bool:
        return bool(self.secrets or self.filters)

    def secrets_only(self) -> Scrubber:
        """The same secret scrubbing without redactions: for the audit trail, whose hashes cover what was recorded."""
        return Scrubber(self.secrets)

    def text(self, value: str) -> str:
        if self.secrets:
            from app.secrets import redact

            value = redact(value, self.secrets)
        for apply in self.filters:
            value = apply(value)
        return value

    def deep(self, value: Any) -> Any:
        if not self:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        return value

    def raw(self, value: bytes) -> bytes | None:
        """A raw body with secrets redacted; None (withheld) when a redaction finds something in it.

        A body's bytes can hold the same data as its text in another spelling
        (JSON escapes, split across frames), so a body with anything to redact is
        left out rather than patched.
        """
        if self.secrets:
            from app.secrets import redact_bytes

            value = redact_bytes(value, self.secrets)
        if self:  # what is left, read as text: a key still spelled there (escaped) withholds the body
            decoded = value.decode("utf-8", "replace")
            if self.text(decoded) != decoded:
                return None
        return value
