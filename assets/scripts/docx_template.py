"""Write the default Word template, ``assets/templates/report.docx``, with python-docx.

The template is a plain .docx with docxtpl (Jinja) tags, the kind a firm edits
in Word to make its own: a cover, a table of contents field, headings, and an
editable findings section. It is generated rather than hand-made so that its
tags stay in step with ``app.evidence.word.FIELDS``; run this after changing
either, and commit the result:

    .venv/bin/python tools/docx_template.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_BREAK
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Inches, Pt

OUT = Path(__file__).resolve().parents[2] / "assets" / "templates" / "report.docx"


def _field(paragraph, instruction: str, placeholder: str) -> None:  # type: ignore[no-untyped-def]
    """A complex field (TOC, PAGE) that Word fills in when it updates fields."""
    for xml in (f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="begin" w:dirty="true"/></w:r>',
                f'<w:r {nsdecls("w")}><w:instrText xml:space="preserve"> {instruction} </w:instrText></w:r>',
                f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="separate"/></w:r>',
                f'<w:r {nsdecls("w")}><w:t xml:space="preserve">{placeholder}</w:t></w:r>',
                f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="end"/></w:r>'):
        paragraph._p.append(parse_xml(xml))


def _table(document, headers: list[str], loop: str, cells: list[str]) -> None:  # type: ignore[no-untyped-def]
    """A table with a header row and one docxtpl row repeated per item (``{%tr for ... %}``)."""
    table = document.add_table(rows=4, cols=len(headers))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        cell.text = header
        for run in cell.paragraphs[0].runs:
            run.bold = True
    table.rows[1].cells[0].text = "{%tr " + loop + " %}"
    for cell, value in zip(table.rows[2].cells, cells, strict=True):
        cell.text = value
    table.rows[3].cells[0].text = "{%tr endfor %}"


def build(out: Path = OUT) -> Path:
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Inches(8.5), Inches(11)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Inches(0.8))
    document.styles["Normal"].font.size = Pt(10)
    section.header.paragraphs[0].text = "{{ engagement.client }} · SOC 2 AI red-team report · {{ engagement.name }}"
    footer = section.footer.paragraphs[0]
    footer.add_run("{{ engagement.audit }} · Page ")
    _field(footer, "PAGE", "1")
    settings = document.settings.element
    settings.append(parse_xml(f'<w:updateFields {nsdecls("w")} w:val="true"/>'))

    # Cover
    document.add_paragraph("SOC 2 evidence: AI red-team testing")
    document.add_paragraph("{{ engagement.client }}: {{ engagement.name }}", style="Title")
    for line in ("Client: {{ engagement.client }}", "CPA firm: {{ engagement.cpa_firm }}",
                 "Audit: {{ engagement.audit }}", "Tested by: {{ cover.testers|join(', ') }}",
                 "Report date: {{ cover.report_date }}", "Report version: {{ cover.version }}"):
        document.add_paragraph(line)
    document.add_paragraph("{%p if cover.manifest_sha256 %}")
    document.add_paragraph("Manifest SHA-256: {{ cover.manifest_sha256 }}")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph("{%p if cover.key_fingerprint %}")
    document.add_paragraph("Signing key: {{ cover.key_fingerprint }}")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    document.add_heading("Contents", level=1)
    _field(document.add_paragraph(), 'TOC \\o "1-3" \\h \\z \\u',
           "Update the table of contents (right-click, Update Field) to list the sections.")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    document.add_heading("Summary", level=1)
    document.add_paragraph("Runs: {{ summary.runs }}; turns: {{ summary.turns }}; operating-effectiveness samples: "
                           "{{ summary.samples }}; re-tests: {{ summary.retests }}.")
    document.add_paragraph("Findings: {{ summary.findings }}, of which open: {{ summary.open_findings }}. "
                           "Runs with dating flags: {{ summary.flagged_runs }}.")
    document.add_paragraph("{{ exception_summary }}")
    document.add_paragraph("{{ methodology.method }}: {{ methodology.judging }}")

    document.add_heading("Scope", level=1)
    _table(document, ["System", "Owner", "Kind", "Description"], "for s in systems",
           ["{{ s.name }}", "{{ s.owner }}", "{{ s.kind }}", "{{ s.description }}"])

    document.add_heading("Control matrix", level=1)
    _table(document, ["Criterion", "Client control", "Control activity", "Runs", "Coverage"], "for row in matrix",
           ["{{ row.criterion }}", "{{ row.client_ref }}", "{{ row.activity }}", "{{ row.runs }}",
            "{{ row.coverage }}"])

    document.add_heading("Test windows", level=1)
    _table(document, ["Window", "Dates", "Sample runs", "Status"], "for w in windows",
           ["{{ w.window }}", "{{ w.start }} to {{ w.end }}", "{{ w.runs }}", "{{ w.status }}"])

    document.add_heading("Findings", level=1)
    document.add_paragraph("Edit this section freely: each finding below is filled from the evidence.")
    document.add_paragraph("{%p for f in findings %}")
    document.add_heading("Finding {{ f.id }}: {{ f.title }}", level=2)
    for line in ("Severity: {{ f.severity }}. Status: {{ f.status }}. Controls: {{ f.controls_text }}.",
                 "SOC 2 impact: {{ f.impact }}", "Exception type: {{ f.exception_type }}",
                 "Evidence: scenario {{ f.scenario_id }}, run {{ f.run_id }}, turn {{ f.turn_id }}. "
                 "{{ f.occurrences_text }}",
                 "Quoted: {{ f.quote }}", "Steps to reproduce: {{ f.steps_to_reproduce }}",
                 "Crosswalk: ISO 42001 {{ f.iso42001 }}; NIST AI RMF {{ f.nist_ai_rmf }}; EU AI Act {{ f.eu_ai_act }}"):
        document.add_paragraph(line)
    document.add_paragraph("{%p endfor %}")

    document.add_heading("Results of tests", level=1)
    _table(document, ["Criterion", "Client control", "Test performed", "Result", "Run"], "for r in results",
           ["{{ r.criterion }}", "{{ r.client_ref }}", "{{ r.test_performed }}", "{{ r.result }}",
            "{{ r.run_id }}"])

    document.add_heading("Runs", level=1)
    _table(document, ["Run", "Scenario", "System", "Window", "Verdict", "Started (UTC)"], "for r in runs",
           ["{{ r.id }}", "{{ r.scenario_id }}", "{{ r.system }}", "{{ r.window }}", "{{ r.verdict }}",
            "{{ r.started_at|when }}"])

    document.add_heading("Remediation verification", level=1)
    _table(document, ["Finding", "Re-test run", "Before", "After", "Result"], "for r in retests",
           ["{{ r.finding_id }}", "{{ r.run_id }}", "{{ r.before }}", "{{ r.after }}", "{{ r.result }}"])

    document.add_heading("Exception log", level=1)
    document.add_paragraph("{{ exception_summary }}")
    _table(document, ["Exception", "Title", "Type", "Management response", "Remediation"], "for x in exceptions",
           ["{{ x.exception }}", "{{ x.title }}", "{{ x.exception_type }}", "{{ x.response }}",
            "{{ x.remediation }}"])
    document.add_paragraph("{{ triage_summary }}")

    document.add_heading("Audit trail", level=1)
    document.add_paragraph("The audit chain holds {{ chain.length }} events, head {{ chain.head_hash }}; "
                           "{{ 'intact' if chain.ok else 'BROKEN' }} at export. The full chain is in "
                           "audit/events.jsonl.")
    document.core_properties.author = "redline"
    document.core_properties.title = "SOC 2 AI red-team report"
    from datetime import datetime

    document.core_properties.created = document.core_properties.modified = datetime(2026, 1, 1)
    document.core_properties.revision = 1
    document.save(str(out))
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
