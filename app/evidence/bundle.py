"""``build_bundle``: one engagement's evidence as one zip a CPA firm can read, file and verify.

The zip holds the report (Markdown and HTML; on request a PDF printed from
the HTML and a Word report from a template), the workpapers (a CSV per
evidence type and one XLSX), the data as JSON, one JSONL transcript per run,
the audit trail, OSCAL documents, and last the manifest with every file's
SHA-256. The same database always exports to the same bytes, except for the
manifest's export time. Exporting reads the store and never writes to it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.evidence import jsonstream, manifest, oscal, pdf, report, word, workpapers
from app.evidence.archive import BundleArchive
from app.evidence.collect import EvidenceSet, ExportError, load_evidence

if TYPE_CHECKING:
    from sqlmodel import Session

# Turn fields the bundle derives for display; a transcript keeps what was stored.
_DERIVED = ("prompt", "retry_notes")
CALIBRATION_FILE = "calibration/detectors.json"  # each detector's and judge's precision and recall
XLSX_IN_MEMORY = 64 << 20  # the workbook is a zip of its own: it needs a seekable place to be written first
DATA_FILES = ("engagement", "systems", "controls", "windows", "scenarios", "runs", "verdicts", "findings",
              "retests", "responses", "changes", "attachments")


@dataclass(frozen=True)
class ExportProgress:
    """One step of an export, for a progress bar: ``done`` of ``total`` files written."""

    path: str
    done: int
    total: int


@dataclass(frozen=True)
class BundleResult:
    path: Path
    engagement: str
    files: int  # the files the manifest lists (and `redline verify` checks); the manifest is one more
    size: int  # bytes of the zip
    runs: int
    turns: int
    findings: int
    flagged_runs: int  # runs breaking a Type I / Type II dating rule
    chain_ok: bool
    chain_problems: tuple[str, ...]
    omitted: tuple[str, ...]  # files left out, each with the reason
    manifest_sha256: str = ""  # to send to the auditor by another channel
    key_fingerprint: str = ""  # "" when the bundle is not signed
    key_notice: str = ""  # set when this export created the signing key: where its private half lives
    redacted_turns: int = 0  # turns a redaction or the secret scrubber changed in the bundle
    secrets_in_output: dict[str, Any] = field(default_factory=dict)  # the census (app.evidence.redaction)
    notes: tuple[str, ...] = ()  # what the chain does not cover
    pdf_pages: int | None = None  # report.pdf's page count, when one was asked for


class BrokenEvidence(ExportError):
    """The audit chain or the evidence it covers no longer verifies; no bundle claiming integrity is written."""

    exit_code = 1


def _data_documents(ev: EvidenceSet) -> dict[str, Any]:
    controls = sorted({m["criterion"] for m in ev.mappings} | {c for r in ev.runs for c in r["controls"]}
                      | {c for f in ev.findings for c in f["controls"]})
    return {
        "engagement": dict(ev.engagement, selected_windows=ev.selected_windows, notes=ev.notes),
        "systems": ev.systems,
        "controls": {"matrix": ev.mappings, "coverage": ev.coverage,
                     "catalog": {c: {"name": ev.catalog.name(c), "crosswalk": ev.catalog.crosswalk(c)}
                                 for c in controls}},
        "windows": {"windows": ev.windows, "spread": ev.spread, "dating": ev.engagement["dating"]},
        "scenarios": ev.scenarios,
        "runs": ev.runs,
        "verdicts": ev.iter_verdicts(),
        "findings": ev.findings,
        "retests": ev.retests,
        "responses": ev.responses,
        "changes": ev.changes,
        "attachments": ev.attachments,
    }


def _transcript_lines(turns: Iterable[dict[str, Any]]) -> Iterable[str]:
    for t in turns:
        yield jsonstream.line({k: v for k, v in t.items() if k not in _DERIVED})


def build_bundle(db: Session, engagement_id: int, out_path: Path | str, *,
                 windows: Sequence[str] | None = None,
                 on_progress: Callable[[ExportProgress], None] | None = None,
                 allow_broken: bool = False, sign: bool | None = None,
                 redact: Sequence[str] = (), keep_secrets_in_output: bool = False,
                 pdf_report: bool = False, docx_report: bool = False,
                 docx_template: Path | None = None) -> BundleResult:
    """Write the evidence bundle for ``engagement_id`` to ``out_path`` (a .zip); nothing is written on error.

    ``windows`` limits the runs (and the findings and re-tests they carry) to
    the named test windows; the audit trail is always the whole chain.
    A broken audit chain, or a turn or verdict that no longer matches the
    digest the chain recorded, stops the export (:class:`BrokenEvidence`)
    unless ``allow_broken``: then the manifest and the report mark the bundle
    broken (``audit_chain.ok: false``) and ``verify`` fails it.

    ``sign``: None signs when the tester has a key, True makes one if needed,
    False does not sign. ``redact`` names export-time redactions
    (:mod:`app.evidence.redaction`); secret-looking model output is always
    redacted unless ``keep_secrets_in_output``, and the manifest and the
    report say which.

    ``pdf_report`` adds ``report.pdf`` (the HTML report printed; needs the
    ``pdf`` extra), ``docx_report`` adds ``report.docx`` from ``docx_template``
    or the default template (needs the ``docx`` extra). A missing engine or a
    template that does not load is reported before anything is written.
    """
    from app.evidence.redaction import describe, export_filters
    from app.evidence.signature import SIG_NAME, manifest_digest, signer_for_export

    out = Path(out_path).expanduser()
    if not out.parent.is_dir():
        raise ExportError(f"cannot write {out}: the folder {out.parent} does not exist")
    if pdf_report:
        pdf.require_engine()
    if docx_report or docx_template is not None:
        docx_report = True
        word.check_template(docx_template)
    ev = load_evidence(db, engagement_id, windows, redact, keep_secrets_in_output)
    if not ev.chain.ok and not allow_broken:
        listed = "\n".join(f"  - {p}" for p in ev.chain.problems)
        raise BrokenEvidence(f"the evidence no longer matches its audit chain, so no bundle was written:\n{listed}\n"
                             "Export with --allow-broken to write a bundle marked broken in its manifest and report.")
    signer = signer_for_export(sign)
    poam = oscal.poam(ev)
    omitted = [] if poam is not None else [{"path": "oscal/poam.json",
                                            "reason": "no open findings (a POA&M needs at least one item)"}]
    # reports, the CSVs, the XLSX, data, calibration, transcripts, attachments, audit trail, OSCAL, manifest
    shipped = attachment_files(ev, omitted)
    total = (2 + int(pdf_report) + int(docx_report) + 1 + 1 + len(DATA_FILES) + 1 + len(ev.runs) + len(shipped) + 1 + 3
             + int(poam is not None) + 1)
    pages: int | None = None
    done = 0

    def step(path: str) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(ExportProgress(path, done, total))

    try:
        archive = BundleArchive(out)
    except OSError as exc:
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from None
    # The cover names the signing key; the manifest's own digest cannot be inside a file the manifest lists.
    cover = {"key_fingerprint": signer.public.fingerprint} if signer is not None else None
    tmp = tempfile.TemporaryDirectory(prefix="redline-export-")
    try:
        archive.write_chunks("report.md", report.render(ev, "md"))
        step("report.md")
        html = Path(tmp.name) / "report.html"
        if pdf_report:  # the PDF engine prints the HTML from a file
            with html.open("w", encoding="utf-8", newline="") as sink:
                sink.writelines(report.render(ev, "html", cover))
            archive.write_file("report.html", html)
        else:
            archive.write_chunks("report.html", report.render(ev, "html", cover))
        step("report.html")
        if pdf_report:
            pages = pdf.write_pdf(html, Path(tmp.name) / "report.pdf")
            archive.write_file("report.pdf", Path(tmp.name) / "report.pdf")
            step("report.pdf")
        if docx_report:
            word.write_docx(ev, Path(tmp.name) / "report.docx", docx_template, cover)
            archive.write_file("report.docx", Path(tmp.name) / "report.docx")
            step("report.docx")
        cells = workpapers.SheetValues(ev)  # each cell's value computed once for the CSV and the XLSX
        for sheet in workpapers.SHEETS:
            with archive.text(f"workpapers/{sheet.name}.csv") as csv_sink:
                workpapers.write_csv(sheet, ev, csv_sink, cells)
        step("workpapers/*.csv")
        with tempfile.SpooledTemporaryFile(max_size=XLSX_IN_MEMORY) as xlsx:  # on disk only when very large
            workpapers.write_xlsx(ev, xlsx, ev.data_as_of or datetime(1980, 1, 1, tzinfo=UTC), cells)
            xlsx.seek(0)
            archive.write_stream("workpapers.xlsx", xlsx)
        step("workpapers.xlsx")
        for name, document in _data_documents(ev).items():
            archive.write_chunks(f"data/{name}.json", _json_file(document))
            step(f"data/{name}.json")
        archive.write_chunks(CALIBRATION_FILE, _json_file(ev.calibration))
        step(CALIBRATION_FILE)
        for run, turns in ev.iter_transcripts(with_raw=True):
            archive.write_chunks(f"transcripts/{run['id']}.jsonl", _transcript_lines(turns))
            step(f"transcripts/{run['id']}.jsonl")
        for bundle_path, source in shipped:  # copied as they are: never opened, rendered or inlined
            archive.write_file(bundle_path, source)
            step(bundle_path)
        archive.write_chunks("audit/events.jsonl",
                             (jsonstream.line(e) for e in ev.iter_audit_events(as_recorded=True)))
        step("audit/events.jsonl")
        archive.write_chunks(f"oscal/{oscal.SSP_FILE}", _json_file(oscal.system_security_plan(ev)))
        step(f"oscal/{oscal.SSP_FILE}")
        archive.write_chunks("oscal/assessment-plan.json", _json_file(oscal.assessment_plan(ev)))
        step("oscal/assessment-plan.json")
        archive.write_chunks("oscal/assessment-results.json", _json_file(oscal.assessment_results(ev)))
        step("oscal/assessment-results.json")
        if poam is not None:
            archive.write_chunks("oscal/poam.json", _json_file(poam))
            step("oscal/poam.json")
        turns = sum(r["turns"] for r in ev.runs)
        counts = {"runs": len(ev.runs), "turns": turns, "findings": len(ev.findings),
                  "open_findings": sum(1 for f in ev.findings if f["open"]), "audit_events": ev.chain.length,
                  "flagged_runs": sum(1 for r in ev.runs if r["dating_flags"])}
        document = manifest.build(engagement=ev.engagement, windows=ev.selected_windows, chain=ev.chain,
                                  entries=archive.entries, exported_at=datetime.now(UTC), omitted=omitted,
                                  counts=counts, data_as_of=ev.data_as_of.isoformat() if ev.data_as_of else None)
        document.update(_provenance(ev, signer, describe(export_filters(redact, keep_secrets_in_output)),
                                    allow_broken))
        document["attachments"] = [{"id": a["id"], "path": a["bundle_path"], "sha256": a["sha256"], "size": a["size"],
                                    "media_type": a["media_type"], "state_at_export": a["state"]}
                                   for a in ev.attachments if a["bundle_path"] in {p for p, _ in shipped}]
        anchors = {s["name"]: s["trust_anchor"] for s in ev.systems if "trust_anchor" in s}
        if anchors:  # per system, the CA (and client certificate) its TLS was verified against; never a key
            document["trust_anchors"] = anchors
        files = len(archive.entries)  # what the manifest lists; the manifest and its signature come on top
        text = jsonstream.dumps(document)
        archive.write_chunks(manifest.NAME, [text])
        step(manifest.NAME)
        manifest_bytes = text.encode("utf-8")
        if signer is not None:
            archive.write_chunks(SIG_NAME, [signer.sign(manifest_bytes)])
        archive.commit()
    except OSError as exc:
        archive.abort()
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from exc
    except BaseException:
        archive.abort()
        raise
    finally:
        tmp.cleanup()
    return BundleResult(path=out, engagement=ev.engagement["name"], files=files, size=out.stat().st_size,
                        runs=len(ev.runs), turns=turns, findings=len(ev.findings), flagged_runs=counts["flagged_runs"],
                        chain_ok=ev.chain.ok, chain_problems=ev.chain.problems,
                        omitted=tuple(f"{o['path']}: {o['reason']}" for o in omitted),
                        manifest_sha256=manifest_digest(manifest_bytes),
                        key_fingerprint=signer.public.fingerprint if signer else "",
                        key_notice=signer.notice if signer else "", redacted_turns=len(ev.scrub.changed_turns),
                        secrets_in_output=ev.secrets_in_output,
                        notes=ev.chain.notes, pdf_pages=pages)


def attachment_files(ev: EvidenceSet, omitted: list[dict[str, str]]) -> list[tuple[str, Path]]:
    """(bundle path, stored file) for each attachment the bundle carries; a missing file is listed as omitted."""
    from app.attachments import folder

    where = folder(ev.engagement_id)
    shipped = []
    for a in ev.attachments:
        source = where / a["stored_name"]
        if source.is_file() and not source.is_symlink():
            shipped.append((a["bundle_path"], source))
        else:
            omitted.append({"path": a["bundle_path"], "reason": f"attachment {a['id']}: its file is missing from "
                                                                "the store"})
    return shipped


def _provenance(ev: EvidenceSet, signer: Any, redactions: list[dict[str, Any]], allow_broken: bool) -> dict[str, Any]:
    """Who exported the bundle, with which key, what the export changed on purpose, and whether it was forced."""
    from app.evidence.keys import tester

    return {
        "exporter": {"name": tester(), "key_fingerprint": signer.public.fingerprint if signer else None},
        "signature": signer.manifest_block() if signer else None,
        "redaction": {
            "redacted": bool(redactions), "filters": redactions,
            # Counted once from the exported runs' stored answers; "kept" says whether they are in this bundle.
            "secrets_in_output": ev.secrets_in_output,
            # Audit events whose payload the filter changed: each ships its original's digest, which its hash covers.
            "altered_audit_events": sorted(ev.scrub.changed_events),
            # Rows whose exported text differs from the store (redactions, secrets scrubbed): the chain's
            # digests cover the stored originals, so verify cannot recompute these from the bundle.
            "altered_turns": sorted(ev.scrub.changed_turns), "altered_verdicts": sorted(ev.scrub.changed_verdicts),
        },
        "evidence_coverage": {"notes": list(ev.chain.notes)},
        "broken_export_allowed": bool(allow_broken and not ev.chain.ok),
    }


def _json_file(document: Any) -> Iterable[str]:
    yield from jsonstream.iter_json(document)
    yield "\n"


__all__ = ["BundleResult", "ExportError", "ExportProgress", "build_bundle"]
