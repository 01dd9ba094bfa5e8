"""How the Run screen turns what the tester picked into queued runs: the runner's own planning, and strategies.

``r`` plans with :func:`app.runner.plan_runs` (library, window tagging) and
then :func:`app.runner.plan.add_variants`, exactly as ``redline run`` does: each
scenario runs plainly, then once per strategy the tester chose with ``v`` and
per strategy its control rows name. A variant that cannot be built (a message
with no translation) is said, never run half-transformed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work

from screens.base import report_error, with_store
from screens.run_records import RunRecords

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.runner import PlannedRun
    from screens.widgets.run_queue import RunQueue


class RunPlanning(RunRecords):
    """The Run screen's planning: scenarios x systems, plus the strategies chosen for the next runs."""

    queue: RunQueue
    strategies: list[str]

    def _fill_table(self, select: str | None = None) -> None:
        raise NotImplementedError

    def _hint(self) -> None:
        raise NotImplementedError

    def strategies_hint(self) -> Text:
        """`` · under base64, french`` for the pick line, or nothing when the runs go plain only."""
        if not self.strategies:
            return Text("")
        return Text(" · also under ", style="dim") + Text(", ".join(self.strategies), style="magenta")

    def action_strategies(self) -> None:
        from screens.widgets.strategy_form import StrategyScreen

        def chosen(chains: list[str] | None) -> None:
            if chains is None:
                return
            self.strategies = chains
            self._hint()
            said = ", ".join(chains) if chains else "no strategy: plain runs only"
            self.notify(f"Next runs: {said}", markup=False)

        self.app.push_screen(StrategyScreen(self.strategies), chosen)

    def queue_scenarios(self, scenario_ids: list[str], system: str | None = None) -> None:
        """Run these scenarios against ``system`` (default: every in-scope system), as ``r`` would."""
        from screens.widgets.picker import ScenarioPicker

        picker = self.query_one(ScenarioPicker)
        systems = [system] if system else (picker.source.systems if picker.source else [])
        self.plan([(s, sc) for sc in scenario_ids for s in systems])

    @work(thread=True, group="run-plan", exit_on_error=False)
    def plan(self, pairs: list[tuple[str, str]]) -> None:
        """Plan with the runner's own rules (library, window tagging, strategies) per system, off the UI thread."""
        from app.alignment import get_engagement
        from app.errors import RedlineError
        from app.runner import plan_runs
        from app.runner.plan import add_variants

        by_system: dict[str, list[str]] = {}
        for system, scenario in pairs:
            by_system.setdefault(system, []).append(scenario)
        chains = list(self.strategies)

        def planned_in(db: Session) -> tuple[list[PlannedRun], list[str]]:
            engagement = get_engagement(db, self.engagement_id)
            plain = [p for system, ids in by_system.items()
                     for p in plan_runs(db, engagement, scenario_ids=ids, system=system)]
            return add_variants(db, engagement, plain, chains)

        try:
            planned, notes = with_store(planned_in)
        except RedlineError as exc:
            self.app.call_from_thread(report_error, self, exc, "cannot plan the runs")
            return
        self.app.call_from_thread(self._enqueue, planned, notes)

    def _enqueue(self, planned: list[PlannedRun], notes: list[str] | None = None) -> None:
        first = None
        for entry in self.queue.put(planned):
            self.entries[entry.key] = entry
            first = first or entry.key
        self._fill_table(select=first)
        if notes:
            shown = "\n".join(notes[:6]) + (f"\n… and {len(notes) - 6} more" if len(notes) > 6 else "")
            self.notify(shown, title=f"{len(notes)} variant{'s' if len(notes) != 1 else ''} not run",
                        severity="warning", markup=False, timeout=10)
