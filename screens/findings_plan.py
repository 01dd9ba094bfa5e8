"""The findings register's remediation keys: p sets a finding's priority and due date, a attaches a file.

A mixin of :class:`screens.findings.FindingsScreen`, kept apart so the register
stays short. Each key only collects answers in small dialogs; the rules (the
suggested date, the audit event, the copy and its limits) are the core's:
:func:`app.remediation.set_plan` and :func:`app.attachments.attach`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.text import one_line
from screens.base import try_store, with_store
from screens.widgets.finding_form import ChoiceScreen
from screens.widgets.prompt import PromptScreen


class FindingPlanActions:
    """Needs the register's ``selected()``, ``all``, ``plans``, ``catalog``, ``engagement_id`` and ``reload``."""

    if TYPE_CHECKING:  # provided by the screen (declared for type checkers only: nothing here shadows it)
        all: list[Any]
        plans: dict[int, Any]
        catalog: Any
        engagement_id: int
        app: Any

        def selected(self) -> Any | None: ...
        def reload(self, select: int | None = None) -> None: ...
        def notify(self, message: str, **kwargs: Any) -> None: ...

    def action_priority(self) -> None:
        from app.remediation import PRIORITIES

        f = self.selected()
        if f is None:
            return
        plan = self.plans.get(f.id or 0)
        now = plan.priority.replace("_", " ") if plan is not None else "not set"
        self.app.push_screen(ChoiceScreen(f"Remediation priority of finding #{f.id} (now {now})",
                                          [(key, key.replace("_", " "), meaning) for key, meaning in PRIORITIES.items()],
                                          hint="A new priority moves the due date by its rule; the next step "
                                               "lets you change it."),
                             lambda priority: self._ask_due(f.id, priority))

    def _ask_due(self, finding_id: int, priority: str | None) -> None:
        from app.remediation import suggested_due
        from app.store.models import Engagement

        if not priority:
            return
        finding = next((f for f in self.all if f.id == finding_id), None)
        plan = self.plans.get(finding_id)
        if finding is None or plan is None:
            return
        due = plan.due_date
        if priority != plan.priority:
            engagement = with_store(lambda db: db.get(Engagement, self.engagement_id))
            end = engagement.period_end if engagement is not None and engagement.audit_type == "type2" else None
            due = suggested_due(priority, finding.created_at.date(), end, self.catalog)
        self.app.push_screen(PromptScreen(f"Due date of finding #{finding_id} ({priority.replace('_', ' ')})",
                                          hint="YYYY-MM-DD; enter keeps the date shown", value=str(due or "")),
                             lambda text: self._ask_plan_reason(finding_id, priority, text))

    def _ask_plan_reason(self, finding_id: int, priority: str, due_text: str | None) -> None:
        from datetime import date

        if due_text is None:
            return
        try:
            due = date.fromisoformat(due_text) if due_text else None
        except ValueError:
            self.notify(f"not a date as YYYY-MM-DD: {one_line(due_text, 40)}", markup=False, severity="error")
            return
        self.app.push_screen(PromptScreen(f"Why set finding #{finding_id} to {priority.replace('_', ' ')}"
                                          + (f", due {due}?" if due else "?"),
                                          hint="The reason goes into the audit trail."),
                             lambda reason: self._set_plan(finding_id, priority, due, reason)
                             if reason is not None else None)

    def _set_plan(self, finding_id: int, priority: str, due: Any, reason: str) -> None:
        from app.finding_plans import set_plan
        from app.store.models import Finding

        def edit(db: Any) -> Any:
            return set_plan(db, db.get(Finding, finding_id), priority=priority, due=due, reason=reason)

        done = try_store(self, edit)
        if done is not None:
            self.notify(f"finding #{finding_id}: {done.priority.replace('_', ' ')}, due {done.due_date}",
                        markup=False)
            self.reload(select=finding_id)

    def action_attach(self) -> None:
        from screens.widgets.attach_form import ask_to_attach

        f = self.selected()
        if f is not None:
            finding_id = f.id
            ask_to_attach(self, f"finding #{finding_id}", lambda: self.reload(select=finding_id),  # type: ignore[arg-type]
                          finding_id=finding_id)

