"""Change flags: a model id or fingerprint of a system that changed between two observations.

Observations are the runs (model id and ``system_fingerprint`` as reported,
behaviour fingerprint as stamped) and the canary probes in the audit chain.
Each change is a flag, "possible unapproved model change", for the tester to
explain with an approved change ticket or report as a CC8.1 exception.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.store import audit
from app.store.models import AISystem, AuditEvent, Run, Scenario, TestWindow

if TYPE_CHECKING:
    from sqlmodel import Session


# The audit action a behaviour probe records (app.changes.probes writes it; the flags below read it):
# here, beside its reader, so an export reading the flags never loads the module that opens connections.
PROBED = "system.probed"


def systems_query(engagement_id: int) -> Any:
    """Every AI system of the engagement (a select the caller narrows)."""
    from sqlmodel import select

    return select(AISystem).where(AISystem.engagement_id == engagement_id)


KINDS = ("model_id", "system_fingerprint", "behaviour_fingerprint")
KIND_LABELS = {"model_id": "model id", "system_fingerprint": "system fingerprint",
               "behaviour_fingerprint": "behaviour fingerprint"}
FLAG_TITLE = "possible unapproved model change"


@dataclass(frozen=True)
class ChangeFlag:
    """A value that identifies the model changed between two observations of one system."""

    system_id: int
    system: str
    kind: str  # model_id | system_fingerprint | behaviour_fingerprint
    before: str
    after: str
    before_window: str  # "" when the observation was outside every window
    after_window: str
    before_at: datetime
    after_at: datetime
    evidence: str  # where the new value was first seen, e.g. "run 14" or "canary probe (audit event #9)"
    model: str = ""  # the model id reported with the new value ("" when none was)
    seen: int = 1  # observations (scenarios, probes) showing the same change

    @property
    def message(self) -> str:
        where = (f"between {self.before_window or 'outside any window'} and {self.after_window or 'outside any window'}"
                 if self.before_window != self.after_window else f"within {self.after_window or 'no window'}")
        model = f" (model {self.model})" if self.model and self.kind != "model_id" else ""
        return (f"{FLAG_TITLE}: {self.system}'s {KIND_LABELS[self.kind]}{model} changed from {_short(self.before)} to "
                f"{_short(self.after)} {where} (first seen in {self.evidence})")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(before_at=self.before_at.isoformat(), after_at=self.after_at.isoformat(), message=self.message)
        return data


def _short(value: str) -> str:
    return value[:16] + "…" if len(value) > 20 else value


@dataclass(order=True)
class _Seen:
    at: datetime
    stream: tuple[Any, ...] = field(compare=False)
    kind: str = field(compare=False)
    value: str = field(compare=False)
    window: str = field(compare=False)
    evidence: str = field(compare=False)
    model: str = field(compare=False, default="")


def _observations(db: Session, engagement_id: int) -> dict[int, list[_Seen]]:
    """Per system, every recorded model id and fingerprint, oldest first.

    Model ids and fingerprints come from the turns that completed, never from
    one that ended in a fault (a cut-off stream or a 503 says nothing about
    which model would have answered). Each is compared only with the same step
    of earlier runs of the same scenario, and a fingerprint only where the same
    model answered: a scenario may deliberately ask for another model (a
    staging one) or trigger a failover, and a step that did not complete in one
    run must not make the run's other models look like a change.
    """
    from sqlmodel import col, select

    from app.store.models import Turn

    windows = {w.id: w.name for w in db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement_id)).all()}
    seen: dict[int, list[_Seen]] = {}
    runs = {run.id: (run, scenario_id) for run, scenario_id in db.exec(
        select(Run, Scenario.scenario_id).join(Scenario, Scenario.id == Run.scenario_pk)  # type: ignore[arg-type]
        .where(Run.engagement_id == engagement_id, Run.status == "finished")).all()}
    reported = db.exec(select(Turn.run_id, Turn.step, Turn.model_id, Turn.system_fingerprint)
                       .where(col(Turn.run_id).in_(list(runs)), Turn.status == "done")
                       .order_by(col(Turn.run_id), col(Turn.step), col(Turn.sample))).all()
    noted: set[tuple[Any, ...]] = set()
    for run_id, step, model_id, fingerprint in reported:
        run, scenario_id = runs[run_id]
        at = run.started_at or run.created_at
        window = windows.get(run.window_id, "") if run.window_id is not None else ""
        for kind, value, stream in (("model_id", model_id, ("run", scenario_id, step)),
                                    ("system_fingerprint", fingerprint, ("run", scenario_id, step, model_id))):
            if value and (run_id, stream, kind, value) not in noted:
                noted.add((run_id, stream, kind, value))
                seen.setdefault(run.system_id, []).append(_Seen(at, stream, kind, value, window, f"run {run.id}",
                                                                model_id))
    for run, _scenario_id in runs.values():
        if run.behaviour_fingerprint:
            window = windows.get(run.window_id, "") if run.window_id is not None else ""
            seen.setdefault(run.system_id, []).append(_Seen(
                run.started_at or run.created_at, ("probe",), "behaviour_fingerprint", run.behaviour_fingerprint,
                window, f"run {run.id}", run.model_id))
    events = db.exec(select(AuditEvent).where(AuditEvent.chain == audit.chain_name(engagement_id),
                                              AuditEvent.action == PROBED)).all()
    for event in events:
        system_id = int(event.entity.partition(":")[2] or 0)
        for kind in KINDS:
            value = event.payload.get(kind) or ""
            if value:
                seen.setdefault(system_id, []).append(_Seen(event.at, ("probe",), kind, value,
                                                            event.payload.get("window") or "",
                                                            f"canary probe (audit event #{event.seq})",
                                                            event.payload.get("model_id") or ""))
    return {system_id: sorted(items) for system_id, items in seen.items()}


def change_flags(db: Session, engagement_id: int) -> list[ChangeFlag]:
    """Every possible unapproved model change in the engagement, oldest first.

    One flag per system, signal and (before, after) pair, however many
    scenarios or probes showed it (``seen`` counts them).
    """
    names = {s.id: s.name for s in db.exec(systems_query(engagement_id)).all()}
    flags: dict[tuple[int, str, str, str], ChangeFlag] = {}
    witnesses: dict[tuple[int, str, str, str], set[str]] = {}  # the runs and probes that showed each change
    for system_id, items in _observations(db, engagement_id).items():
        last: dict[tuple[Any, ...], _Seen] = {}
        for item in items:
            key = (item.stream, item.kind)
            previous = last.get(key)
            last[key] = item
            if previous is None or previous.value == item.value:
                continue
            ident = (system_id, item.kind, previous.value, item.value)
            known = flags.get(ident)
            if item.evidence in witnesses.setdefault(ident, set()):
                continue  # two steps of one run showing the same change are one observation
            witnesses[ident].add(item.evidence)
            if known is None:
                flags[ident] = ChangeFlag(system_id, names.get(system_id, f"system {system_id}"), item.kind,
                                          previous.value, item.value, previous.window, item.window, previous.at,
                                          item.at, item.evidence, item.model)
            else:
                flags[ident] = ChangeFlag(**{**asdict(known), "seen": known.seen + 1})
    return sorted(flags.values(), key=lambda f: (f.after_at, f.system, KINDS.index(f.kind)))
