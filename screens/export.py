"""Export: write the engagement's evidence bundle, watch it being written, then check it.

:func:`app.evidence.bundle.build_bundle` runs in a thread worker and reports
each file through ``on_progress``, which drives the progress bar. When it is
done the screen shows the manifest's summary (what the bundle holds, the audit
chain head it pins) and the result of :func:`app.evidence.verify.verify_bundle`
on the written file, the same check ``redline verify`` makes.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Label, ProgressBar, SelectionList, Static
from textual.widgets.selection_list import Selection

from app.resources import assets_dir
from app.text import for_terminal, one_line
from screens.base import EngagementScreen, report_error, with_store
from screens.widgets.literal import literal
from screens.widgets.toggles import TickList


def default_path(name: str, day: Any) -> Path:
    """``./<engagement>-evidence-<date>.zip`` in the folder Redline was started from."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name) or "engagement"
    return Path.cwd() / f"{safe}-evidence-{day.isoformat()}.zip"


def manifest_summary(path: Path) -> dict[str, Any]:
    """The parts of the written manifest worth showing (read back from the zip, as an auditor would)."""
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("manifest.json").decode("utf-8"))
    chain = data.get("audit_chain", {})
    return {"exported_at": data.get("exported_at", ""), "tool": data.get("tool", {}).get("version", ""),
            "files": len(data.get("files", [])), "counts": data.get("counts", {}),
            "windows": data.get("windows"), "chain_length": chain.get("length"),
            "head_hash": chain.get("head_hash", ""), "chain_ok": chain.get("ok"), "omitted": data.get("omitted", [])}


class ExportScreen(EngagementScreen):
    """Choose where and which windows; ctrl+s writes the bundle."""

    SCREEN_NAME = "export"

    CSS_PATH = assets_dir() / "tcss" / "export.tcss"
    HELP_TITLE = "export"
    HELP = ("Writes the evidence bundle (report, workpapers, data, transcripts, audit trail, OSCAL, manifest) "
            "as one zip, then verifies it against its manifest. Pick test windows to limit the runs; none "
            "picked means every run.")
    BINDINGS = [
        Binding("ctrl+s", "export", "Export", id="export.start", tooltip="Write the bundle and verify it"),
    ]

    def __init__(self, engagement_id: int) -> None:
        super().__init__(engagement_id)
        self.busy = False
        self.result: Any = None
        self.report: Any = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with VerticalScroll(id="export-form"):
            yield Label("Write the bundle to", classes="form-label")
            # Entering the field never selects the default path: a first key appends, it cannot wipe it.
            yield Input(id="export-path", compact=True, select_on_focus=False)
            yield Label("Test windows (none picked: every run)", classes="form-label")
            yield TickList(id="export-windows", compact=True)
            yield Button("Export and verify (ctrl+s)", id="export-go", variant="success", compact=True)
            yield ProgressBar(id="export-progress", show_eta=False)
            yield Static("", id="export-step")
            yield Static("", id="export-result")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        from app.alignment import get_engagement, windows_of

        engagement, windows = with_store(lambda db: (get_engagement(db, self.engagement_id),
                                                     windows_of(db, self.engagement_id)))
        self.engagement_name = engagement.name
        self.set_heading("export")
        self.query_one("#export-path", Input).value = str(default_path(engagement.name, self.redline.today()))
        picker = self.query_one("#export-windows", SelectionList)
        for window in windows:
            picker.add_option(Selection(Text(f"{one_line(window.name, 30)}  {window.start} .. {window.end}"),
                                        window.name))
        picker.display = bool(windows)
        self.query_one("#export-progress", ProgressBar).display = False
        # Focus starts on the button, not the path: R, ? and q keep their global meaning on arrival,
        # and the path is typed into only after the tester moves into it (tab).
        self.query_one("#export-go", Button).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export-go":
            event.stop()
            self.action_export()

    def action_export(self) -> None:
        if self.busy:
            return
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self.notify("Give the path of the zip to write.", markup=False, severity="warning")
            return
        path = Path(raw).expanduser()
        if path.suffix.lower() != ".zip":
            path = path.with_suffix(path.suffix + ".zip") if path.suffix else path.with_suffix(".zip")
        windows = list(self.query_one("#export-windows", SelectionList).selected) or None
        self.busy = True
        bar = self.query_one("#export-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#export-result", Static).update("")
        self.query_one("#export-step", Static).update(Text("collecting the evidence…", style="dim"))
        self.write_bundle(path, windows)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def write_bundle(self, path: Path, windows: list[str] | None) -> None:
        from app.errors import RedlineError
        from app.evidence.bundle import ExportProgress, build_bundle
        from app.evidence.verify import verify_bundle

        def progress(step: ExportProgress) -> None:
            self.app.call_from_thread(self._progress, step.path, step.done, step.total)

        try:
            result = with_store(lambda db: build_bundle(db, self.engagement_id, path, windows=windows,
                                                        on_progress=progress))
            self.app.call_from_thread(self._step, "verifying the bundle against its manifest…")
            report = verify_bundle(result.path)
            summary = manifest_summary(result.path)
        except (RedlineError, OSError) as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._done, result, report, summary)

    def _progress(self, path: str, done: int, total: int) -> None:
        self.query_one("#export-progress", ProgressBar).update(total=total, progress=done)
        self._step(f"writing {done}/{total}: {path}")

    def _step(self, message: str) -> None:
        self.query_one("#export-step", Static).update(literal(message, style="dim"))

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.query_one("#export-progress", ProgressBar).display = False
        self._step("")
        self.query_one("#export-result", Static).update(literal(f"Export failed: {exc}", style="red"))
        report_error(self, exc, "export failed")

    def _done(self, result: Any, report: Any, summary: dict[str, Any]) -> None:
        self.busy = False
        self.result, self.report = result, report
        self._step(f"wrote {result.path}")
        counts = summary["counts"]
        out = Text("Manifest", style="bold")
        out += literal(f"\n  {summary['files']} files · {result.size:,} bytes · exported {summary['exported_at']}"
                       f" · redline {summary['tool']}")
        out += Text(f"\n  {counts.get('runs', 0)} runs · {counts.get('turns', 0)} turns · "
                    f"{counts.get('findings', 0)} findings ({counts.get('open_findings', 0)} open) · "
                    f"{counts.get('audit_events', 0)} audit events")
        windows = summary["windows"]
        out += literal(f"\n  windows: {', '.join(windows) if windows else 'every run'}")
        chain = "intact" if summary["chain_ok"] else "BROKEN"
        out += Text(f"\n  audit chain: {summary['chain_length']} events, {chain}, head {summary['head_hash'][:16]}…",
                    style="" if summary["chain_ok"] else "bold red")
        if result.secrets_in_output.get("found"):
            from app.evidence.wording import secrets_in_output

            out += literal(f"\n  secrets in model output: {secrets_in_output(result.secrets_in_output)}",
                           style="yellow")
        if result.flagged_runs:
            out += Text(f"\n  {result.flagged_runs} run(s) break a Type I/II dating rule (see the report)",
                        style="yellow")
        for omitted in result.omitted:
            out += literal(f"\n  left out {omitted}", style="dim")
        out += Text("\nVerify", style="bold")
        out += Text("\n  ") + literal(report.summary(), style="green" if report.ok else "bold red")
        for problem in report.problems[:8]:
            out += Text("\n  - ") + literal(for_terminal(problem), style="red")
        self.query_one("#export-result", Static).update(out)
        self.notify("bundle written and verified" if report.ok else "bundle written, but it does not verify",
                    markup=False, severity="information" if report.ok else "error")
