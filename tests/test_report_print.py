"""The demo engagement's report as a client receives it: a paged PDF, an HTML page that fits any width, a Word file.

One module-scoped bundle: the real runner against the built-in demo AI system,
then ``redline export demo --pdf --docx``. The PDF is measured on the PDF
itself (pdfplumber reads back every character's position); the HTML is laid
out by a real headless Chromium at 1280 px and at 390 px.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The page budget grows with the evidence it prints, at densities read off the demo report: a page per four
# turns (section 3), per four findings (section 4) and per forty audit events (section 8), on top of the
# sections whose length does not grow with the turns. For the 98 turns the demo library once had, that is
# about the original 40 pages; the library's batteries add turns and findings, not density.
FIXED_PAGES, TURNS_PER_PAGE, FINDINGS_PER_PAGE, EVENTS_PER_PAGE = 16, 4, 4, 40
LETTER = (612, 792)
SIDE_MARGIN = 0.55 * 72  # the report's @page left and right margins, in points


def chromium() -> str:
    """The browser for the width checks: required in CI (.ci/run installs it), else a clear skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium for the width checks (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium): the width checks need a real browser")
    return found


def pdf_engine() -> None:
    """WeasyPrint needs the system's Pango: required in CI (.ci/run installs it), else a clear skip."""
    from app.evidence.pdf import PdfEngineMissing, require_engine

    try:
        require_engine()
    except PdfEngineMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the PDF engine (.ci/run installs Pango): {exc}")
        pytest.skip(f"the PDF engine cannot load here: {exc}")


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from app.cli import main
    from app.store.engine import dispose_all

    pdf_engine()
    home = tmp_path_factory.mktemp("demo-home")
    out = tmp_path_factory.mktemp("demo-bundle") / "demo.zip"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REDLINE_HOME", str(home))
        mp.setenv("REDLINE_TESTER", "ana")
        dispose_all()
        assert main(["run", "demo"]) == 1  # the demo system is vulnerable
        assert main(["export", "demo", "--out", str(out), "--pdf", "--docx"]) == 0
        dispose_all()
    with zipfile.ZipFile(out) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    yield {"files": files, "dir": out.parent}


def test_the_pdf_keeps_the_page_budget_with_numbers_and_margins(demo_bundle: dict[str, Any]) -> None:
    import pdfplumber

    path = demo_bundle["dir"] / "report.pdf"
    path.write_bytes(demo_bundle["files"]["report.pdf"])
    manifest = json.loads(demo_bundle["files"]["manifest.json"])
    assert "report.pdf" in {f["path"] for f in manifest["files"]}
    with pdfplumber.open(path) as pdf:
        pages = pdf.pages
        counts = manifest["counts"]
        budget = (FIXED_PAGES + counts["turns"] // TURNS_PER_PAGE + counts["findings"] // FINDINGS_PER_PAGE
                  + counts["audit_events"] // EVENTS_PER_PAGE)
        assert 3 <= len(pages) <= budget, (len(pages), budget)
        for number, page in enumerate(pages, start=1):
            assert (round(page.width), round(page.height)) == LETTER
            text = page.extract_text() or ""
            assert f"Page {number} of {len(pages)}" in text, number
            outside = [c["text"] for c in page.chars
                       if c["x0"] < SIDE_MARGIN - 1 or c["x1"] > page.width - SIDE_MARGIN + 1]
            assert not outside, (number, "".join(outside)[:80])
            if number > 1:
                assert "Red-team evidence: demo" in text  # the running header
        first = pages[0].extract_text() or ""
        for field in ("Client", "CPA firm", "Type II", "Tested by", "ana", "Report date", "Report version"):
            assert field in first, field
        contents = pages[1].extract_text() or ""
        assert re.search(r"4\. Findings\s*\.+\s*\d+", contents), contents[:400]  # the TOC has page numbers
        findings = json.loads(demo_bundle["files"]["data/findings.json"])
        text = "\n".join(p.extract_text() or "" for p in pages)
        for f in findings:
            assert f"Finding {f['id']}:" in text


def _widths(browser: str, html: bytes, width: int, work: Path) -> dict[str, Any]:
    """Lay the report out in headless Chromium at ``width`` px and list every element wider than the viewport.

    The bundle's page has no scripts (its CSP forbids them); this copy drops the
    CSP and appends one measuring script, for the test only. Headless Chromium
    keeps a desktop window at least about 500 px wide, so for a phone width the
    page's root is held to ``width`` px (the narrow-screen rules apply below
    760 px either way) and every element is measured against it.
    """
    page = re.sub(rb'<meta http-equiv="Content-Security-Policy"[^>]*>', b"", html)
    page = page.replace(b"</head>", b"<style>html { max-width: %dpx !important; }</style></head>" % width)
    probe = b"""<script>
(function () {
  var w = Math.round(document.documentElement.getBoundingClientRect().width), over = [];
  document.body.querySelectorAll('*').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > w + 1 || r.left < -1))
      over.push(el.tagName + '#' + el.id + '.' + el.className + ' right=' + Math.round(r.right));
  });
  var out = document.createElement('pre'); out.id = 'width-probe';
  out.textContent = 'PROBE' + JSON.stringify({viewport: w, window: window.innerWidth,
                                               scroll: document.documentElement.scrollWidth,
                                               over: over.slice(0, 10), count: over.length}) + 'PROBE';
  document.body.appendChild(out);
})();
</script></body>"""
    target = work / f"report-{width}.html"
    target.write_bytes(page.replace(b"</body>", probe))
    profile = work / f"profile-{width}"
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--window-size={width},900", "--dump-dom", target.as_uri()],
        capture_output=True, timeout=180, check=False)
    found = re.search(rb"PROBE(.*?)PROBE", result.stdout)
    assert found, result.stderr.decode(errors="replace")[-2000:]
    return json.loads(found.group(1).replace(b"&quot;", b'"'))


@pytest.mark.parametrize("width", [1280, 390])
def test_no_element_is_wider_than_the_page_in_chromium(demo_bundle: dict[str, Any], width: int) -> None:
    browser = chromium()
    measured = _widths(browser, demo_bundle["files"]["report.html"], width, demo_bundle["dir"])
    assert width - 20 <= measured["viewport"] <= width, measured  # the page's width (less a scrollbar)
    assert measured["count"] == 0 and measured["scroll"] <= measured["window"], measured  # no sideways scroll


def test_the_word_report_has_the_cover_headings_and_every_finding(demo_bundle: dict[str, Any]) -> None:
    import io

    import docx

    document = docx.Document(io.BytesIO(demo_bundle["files"]["report.docx"]))
    text = [p.text for p in document.paragraphs]
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    for heading in ("Contents", "Summary", "Control matrix", "Findings", "Results of tests", "Exception log"):
        assert heading in headings, heading
    for line in ("Client: (built-in)", "CPA firm: Example CPA LLP", "Tested by: ana"):
        assert line in text, line
    assert any(t.startswith("Audit: Type II, period ") for t in text)
    findings = json.loads(demo_bundle["files"]["data/findings.json"])
    for f in findings:
        assert f"Finding {f['id']}: {f['title']}" in headings
    xml = zipfile.ZipFile(io.BytesIO(demo_bundle["files"]["report.docx"])).read("word/document.xml").decode()
    assert 'TOC \\o "1-3"' in xml  # the table of contents field, which Word fills on open
    runs = json.loads(demo_bundle["files"]["data/runs.json"])
    run_table = next(t for t in document.tables if t.rows[0].cells[0].text == "Run")
    assert len(run_table.rows) == len(runs) + 1
