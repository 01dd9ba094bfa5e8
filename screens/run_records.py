"""What a tester records against a run from the Run screen: a manual step's outcome and attached files.

The Run screen streams and schedules; these are the two ways a tester adds evidence to a run by hand,
each through the core's one function (:func:`app.manual.record_manual_outcome`,
:func:`app.attachments.attach`), so the CLI and the cockpit record the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from screens.base import EngagementScreen, report_error, with_store

if TYPE_CHECKING:
    from app.manual import ManualItem
    from screens.widgets.run_list import RunEntry


class RunRecords(EngagementScreen):
    """The Run screen's record-keeping actions; the screen supplies the runs shown and how to reload them."""

    entries: dict[str, RunEntry]

    def _highlighted_key(self) -> str | None:
        raise NotImplementedError

    def reload_runs(self) -> None:
        raise NotImplementedError

    def _selected_run(self) -> int | None:
        entry = self.entries.get(self._highlighted_key() or "")
        if entry is None or entry.run_id is None:
            self.notify("Highlight a run that has started.", markup=False)
            return None
        return entry.run_id

    def action_manual(self) -> None:
        """The highlighted run's first unrecorded manual step, as a checklist item to record."""
        from app.manual import checklist

        run_id = self._selected_run()
        if run_id is None:
            return
        pending = [item for item in with_store(lambda db: checklist(db, run_id)) if item.pending]
        if not pending:
            self.notify("The highlighted run has no manual step awaiting a record.", markup=False)
            return
        from screens.widgets.manual_form import ManualForm

        item = pending[0]
        self.app.push_screen(ManualForm(item), lambda result: self._record_manual(item, result))

    def _record_manual(self, item: ManualItem, result: dict[str, Any] | None) -> None:
        from app.errors import RedlineError
        from app.manual import record_manual_outcome

        if not result:
            return
        try:
            verdict = with_store(lambda db: record_manual_outcome(
                db, run_id=item.run_id, step=item.step, sample=item.sample, outcome=result["outcome"],
                note=result["note"], attachment=result["attachment"]))
        except RedlineError as exc:
            report_error(self, exc)
            return
        self.notify(f"step {item.step + 1} recorded: {result['outcome']}; run {item.run_id} is now {verdict}",
                    markup=False)
        self.reload_runs()  # the stored run is drawn again, its checklist item ticked

    def action_attach(self) -> None:
        from screens.widgets.attach_form import ask_to_attach

        run_id = self._selected_run()
        if run_id is not None:
            ask_to_attach(self, f"run {run_id}", run_id=run_id)
