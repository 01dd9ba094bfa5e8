"""The PDF and the Word report: hostile model output stays inert, a firm's template works, a missing engine is clear.

Built from the shared engagement whose model output tries every trick
(tests/test_evidence_engagement.py), with hostile text in a finding title too.
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import pytest
from test_evidence_engagement import FORMULAS, HOSTILE, World, entries, export, world  # noqa: F401
from test_report_print import pdf_engine

from app.cli import main
from app.store import session
from app.store.models import Finding

FIELD_TITLE = '<w:fldSimple w:instr="HYPERLINK &quot;http://evil.example&quot;"/> =HYPERLINK("http://evil.example")'


@pytest.fixture
def hostile_files(world: World, tmp_path: Path) -> dict[str, bytes]:
    pdf_engine()
    with session() as db:
        finding = db.get(Finding, world.findings["f2"])
        finding.title = FIELD_TITLE
        finding.steps_to_reproduce = HOSTILE  # the model's own answer, as a tester might paste it
        db.add(finding)
    return entries(export(world.engagement_id, tmp_path / "b.zip", pdf_report=True, docx_report=True).path)


def _template_instructions() -> set[str]:
    from app.evidence.word import default_template

    xml = "".join(zipfile.ZipFile(default_template()).read(n).decode()
                  for n in zipfile.ZipFile(default_template()).namelist() if n.startswith("word/") and n.endswith(".xml"))
    return set(re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>", xml))


def test_hostile_output_stays_inert_in_the_word_report(hostile_files: dict[str, bytes]) -> None:
    import docx

    package = zipfile.ZipFile(io.BytesIO(hostile_files["report.docx"]))
    parts = {n: package.read(n).decode() for n in package.namelist() if n.endswith(".xml") or n.endswith(".rels")}
    body = parts["word/document.xml"]
    # Fields come only from the template (its contents and page number); no hyperlink exists at all.
    instructions = set(re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>", "".join(parts.values())))
    assert instructions == _template_instructions() and any("TOC" in i for i in instructions)
    assert "<w:fldSimple" not in "".join(parts.values()) and "<w:hyperlink" not in body
    assert not [p for p, x in parts.items() if p.endswith(".rels") and "/hyperlink" in x]
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(hostile_files["report.docx"])).paragraphs)
    assert FIELD_TITLE in text  # the title is shown as the characters it is
    assert "<script>alert('x')</script><img src=x onerror=alert(1)>" in text  # shown as text ...
    assert "<script>" not in body and "&lt;script&gt;" in body  # ... because it is escaped in the XML
    assert "{{ 7*7 }} {% for i in range(3) %}loop{% endfor %}" in text and "looploop" not in text
    assert "⟨RLO⟩evil⟨PDF⟩" in text and "\x1b" not in body and "\u202e" not in body


def test_hostile_output_stays_inert_in_the_pdf(hostile_files: dict[str, bytes], tmp_path: Path) -> None:
    import pdfplumber

    path = tmp_path / "report.pdf"
    path.write_bytes(hostile_files["report.pdf"])
    with pdfplumber.open(path) as pdf:
        text = "\n".join(p.extract_text() or "" for p in pdf.pages)
        annotations = [a for p in pdf.pages for a in (p.annots or [])]
    flat = re.sub(r"\s+", "", text)
    assert "<script>alert('x')</script><imgsrc=xonerror=alert(1)>" in flat  # printed as text
    assert "{{7*7}}{%foriinrange(3)%}loop{%endfor%}" in flat and "looploop" not in flat
    assert "⟨RLO⟩evil⟨PDF⟩" in flat and "\u202e" not in text
    assert re.sub(r"\s+", "", FORMULAS[0]) in flat
    # Links in the PDF are the report's own cross-references, never a URL from the data.
    uris = [a.get("uri") for a in annotations if a.get("uri")]
    assert not [u for u in uris if not u.startswith("#") and "report" not in u], uris[:5]


def _firm_template(path: Path, body: str = "{{ f.id }} | {{ f.severity }} | {{ f.title }}") -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Findings report for {{ engagement.client }}", level=1)
    document.add_paragraph("Prepared for {{ engagement.cpa_firm }} ({{ engagement.audit }})")
    document.add_paragraph("{%p for f in findings %}")
    document.add_paragraph(body)
    document.add_paragraph("{%p endfor %}")
    document.add_paragraph("Exceptions: {{ exceptions|length }}. {{ exception_summary }}")
    document.save(str(path))
    return path


def test_a_firm_template_is_filled_with_every_finding(world: World, tmp_path: Path) -> None:
    import docx

    template = _firm_template(tmp_path / "firm.docx")
    out = tmp_path / "b.zip"
    assert main(["export", "acme-2026", "--out", str(out), "--template", str(template)]) == 0
    files = entries(out)
    document = docx.Document(io.BytesIO(files["report.docx"]))
    text = [p.text for p in document.paragraphs]
    assert "Findings report for Acme Corp" in text
    assert any(t.startswith("Prepared for Example CPA LLP (Type II") for t in text)
    import json

    findings = json.loads(files["data/findings.json"])
    for f in findings:
        assert f"{f['id']} | {f['severity']} | {f['title']}" in text
    exceptions = [t for t in text if t.startswith("Exceptions: ")]
    assert exceptions == [f"Exceptions: 2. {exceptions[0].split('. ', 1)[1]}"] and "2 exceptions noted" in exceptions[0]
    assert "report.docx" in json.loads(files["manifest.json"])["files"][0]["path"] or \
        "report.docx" in {e["path"] for e in json.loads(files["manifest.json"])["files"]}


def test_a_template_with_an_unknown_field_is_refused_and_nothing_is_written(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = _firm_template(tmp_path / "firm.docx", body="{{ f.no_such_field }}")
    out = tmp_path / "b.zip"
    assert main(["export", "acme-2026", "--out", str(out), "--template", str(template)]) == 2
    assert "does not render" in capsys.readouterr().err and not out.exists()
    not_docx = tmp_path / "notes.docx"
    not_docx.write_text("not a word file")
    assert main(["export", "acme-2026", "--out", str(out), "--template", str(not_docx)]) == 2
    assert "is not a .docx file" in capsys.readouterr().err and not out.exists()


def test_a_missing_pdf_engine_gives_one_clear_message_and_nothing_else_fails(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as if the extra was never installed
    out = tmp_path / "b.zip"
    assert main(["export", "acme-2026", "--out", str(out), "--pdf"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'redline[pdf]'" in err and "Traceback" not in err and not out.exists()
    assert main(["export", "acme-2026", "--out", str(out)]) == 0  # the bundle itself needs no PDF engine
    assert "report.pdf" not in entries(out) and "report.html" in entries(out)
