"""The built-in demo engagement: a fully aligned Type II engagement against the demo AI system.

It lets a consultant train, demo and show the whole flow (run, triage, findings,
evidence) with no network and no client data. It is built through the same
alignment functions the wizard uses, so its audit chain reads like a real one.
The control matrix maps each row to the bundled scenarios that declare that
criterion or control, so it follows the scenario library as it grows.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from app import alignment
from app.errors import RedlineError
from app.operations import DEMO_OPERATIONS
from app.store.models import Engagement

if TYPE_CHECKING:
    from sqlmodel import Session

DEMO_NAME = "demo"
DEMO_CLIENT = "(built-in)"
DEMO_SYSTEM = "support-bot"

# (criterion or AI control, client control id, control activity in the client's own words)
DEMO_MATRIX: tuple[tuple[str, str, str], ...] = (
    ("CC6.1", "ACME-AC-01", "The support API accepts requests only with a valid, unrevoked tenant key."),
    ("CC6.6", "ACME-SEC-12", "Customer prompts are screened for injected instructions before they reach the model."),
    ("CC6.8", "ACME-SEC-14", "Obfuscated or adversarial prompts are normalised and filtered."),
    ("CC7.2", "ACME-MON-03", "Attempts to subvert the assistant raise a security alert reviewed daily."),
    ("C1.1", "ACME-DATA-07", "The assistant never discloses its configuration or other customers' records."),
    ("PI1.1", "ACME-QA-02", "Answers about policies are limited to the published knowledge base."),
    ("PI1.5", "ACME-OPS-05", "Failures of the model return a graceful message, never internal details."),
    ("AI-GOV-01", "ACME-GOV-01", "Every model reachable in production is listed in the model inventory."),
    ("AI-SEC-01", "ACME-SEC-12b", "Prompt-injection defences are tested before each model release."),
    ("AI-DATA-02", "ACME-DATA-09", "Conversations are isolated per customer session."),
)


def _demo_constants() -> tuple[str, tuple[str, ...]]:
    from app.demo.server import DEMO_CANARY, DOCUMENTED_MODELS

    return DEMO_CANARY, tuple(DOCUMENTED_MODELS)


def demo_scenarios(library: Any, criterion: str) -> list[str]:
    """The bundled scenarios that declare ``criterion`` (in library order)."""
    return alignment.suggested_scenarios(criterion, library)


def _windows_around(today: date, start: date, end: date) -> list[Any]:
    """The suggested quarterly windows, except that the current quarter's window
    holds ``today``: a newcomer's first demo run lands inside a test window, as a
    scheduled Type II test would."""
    from dataclasses import replace

    from app.alignment.windows import period_slices

    plans = alignment.suggest_windows(start, end)
    for index, (first, last) in enumerate(period_slices(start, end)):
        if first <= today <= last and index < len(plans):
            length = plans[index].end - plans[index].start
            window_start = max(first, min(today - length // 2, last - length))
            plans[index] = replace(plans[index], start=window_start, end=min(last, window_start + length))
    return plans


def ensure_demo_engagement(db: Session, *, today: date | None = None) -> Engagement:
    """The demo engagement, created on first use and returned unchanged afterwards.

    Its period is the calendar year of ``today`` (default: the current date) with
    a suggested quarterly window in each quarter; every wizard step is done.
    """
    existing = alignment.find_engagement(db, DEMO_NAME)
    if existing is not None:
        if not existing.is_demo:
            raise RedlineError(f"an engagement named '{DEMO_NAME}' exists and is not the built-in demo; "
                               "rename it to open the demo")
        return existing
    from app.catalog import load_catalog
    from app.library import load_library

    today = today or date.today()
    canary, documented = _demo_constants()
    catalog, library = load_catalog(), load_library()
    engagement = alignment.create_engagement(db, DEMO_NAME, client=DEMO_CLIENT)
    engagement.is_demo = True
    db.add(engagement)
    eid = engagement.id or 0
    alignment.save_system(db, eid, alignment.system_spec(
        name=DEMO_SYSTEM, kind="demo", model=documented[0], owner="Acme support engineering",
        description="Acme Support assistant (the built-in demo AI system, started in-process)",
        models=documented, canaries=[canary], operations=DEMO_OPERATIONS))
    for criterion, client_ref, activity in DEMO_MATRIX:
        if criterion not in catalog.ids():
            continue  # an older catalog: leave the row out rather than store an unknown id
        alignment.save_row(db, eid, criterion=criterion, client_ref=client_ref, activity=activity,
                           scenarios=demo_scenarios(library, criterion))
    start, end = alignment.calendar_year(today)
    alignment.set_type2(db, eid, start, end, _windows_around(today, start, end))
    alignment.set_evidence(db, eid, ["report", "workpapers", "oscal"], cpa_firm="Example CPA LLP")
    for step in alignment.STEPS:
        engagement = alignment.complete_step(db, eid, step)
    return engagement

