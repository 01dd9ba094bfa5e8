"""The HTML report reads as a document: a cover, a linked contents, cross-links along the audit trail, print rules.

Built from the shared engagement (tests/test_evidence_engagement.py), exported
for real; nothing here needs a PDF engine or a browser (see test_report_print.py).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_evidence_engagement import CANARY, CANARY_ENV, HOSTILE, World, build_engagement, entries, export, world  # noqa: F401

from app.evidence.report import FOLD_CHARS


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.meta: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"] or "")
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "meta":
            self.meta.append(values)


@pytest.fixture
def html(world: World, tmp_path: Path) -> str:
    return entries(export(world.engagement_id, tmp_path / "b.zip").path)["report.html"].decode()


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(start):html.index(end, html.index(start))]


def test_cover_contents_viewport_and_page_rules(html: str) -> None:
    parser = _Links()
    parser.feed(html)
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in parser.meta
    cover = _section(html, 'id="cover"', "</section>")
    for field in ("Acme Corp", "Example CPA LLP", "Type II", "Tested by", "ana", "Report date", "Report version"):
        assert field in cover, field
    assert "Manifest SHA-256" not in cover and "Signing key" not in cover  # only a signed bundle has them
    assert "@page" in html and "counter(page)" in html and "counter(pages)" in html and "string(section)" in html
    assert "target-counter(attr(href), page)" in html  # the printed contents carry page numbers
    contents = _section(html, 'id="contents"', "</nav>")
    for part in ("test-plan", "results", "transcripts", "findings", "remediation", "monitoring", "exceptions",
                 "audit-trail"):
        assert f'href="#{part}"' in contents, part


def test_every_internal_link_resolves_and_ids_are_unique(html: str) -> None:
    parser = _Links()
    parser.feed(html)
    assert len(parser.ids) == len(set(parser.ids)), [i for i in parser.ids if parser.ids.count(i) > 1][:5]
    internal = [h[1:] for h in parser.hrefs if h.startswith("#")]
    assert len(internal) > 30
    assert not [h for h in internal if h not in parser.ids]
    assert not [h for h in parser.hrefs if not h.startswith("#")]  # no link leaves the page


def test_the_audit_trail_is_cross_linked_criterion_to_retest(html: str, world: World) -> None:
    r1, r3, f1 = world.runs["r1"], world.runs["r3"], world.findings["f1"]
    matrix = _section(html, 'id="matrix"', "</table>")
    row = _section(matrix, 'id="criterion-CC6.6"', "</tr>")  # criterion -> client control, in one row
    assert "SEC-12" in row and 'href="#scenario-pi-direct-override"' in row  # -> scenario
    scenario = _section(html, 'id="scenario-pi-direct-override"', "</tr>")
    assert f'href="#run-{r1}"' in scenario and f'href="#run-{r3}"' in scenario  # -> runs
    run = _section(html, f'id="run-{r1}"', 'class="turn"')
    assert f'href="#finding-{f1}"' in run and 'href="#criterion-CC6.6"' in run  # -> finding, and back
    finding = _section(html, f'id="finding-{f1}"', "</table>")
    assert f'href="#retest-{f1}-{r3}"' in finding and f'href="#run-{r1}"' in finding  # -> re-test
    retest = _section(html, f'id="retest-{f1}-{r3}"', "</tr>")
    assert f'href="#run-{r3}"' in retest and f'href="#finding-{f1}"' in retest


def test_wide_tables_carry_labels_for_stacked_records(html: str) -> None:
    for table in re.findall(r'<table class="(?:wide|records)">.*?</table>', html, re.S):
        cells = re.findall(r"<td( [^>]*)?>", table)
        assert cells and all("data-label=" in (c or "") or "colspan" in (c or "") for c in cells), table[:200]
    assert "@media (max-width: 760px)" in html and "table.wide td[data-label]::before" in html
    exceptions = _section(html, 'id="exceptions"', "</table>")
    assert 'class="records"' in exceptions  # the 15-column log is a record per exception at every width


def test_a_300_kb_answer_is_folded_and_left_whole_in_the_transcript(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.setenv(CANARY_ENV, CANARY)
    long_answer = HOSTILE + "\n" + "word " * 60_000
    w = build_engagement(hostile=long_answer)
    files = entries(export(w.engagement_id, tmp_path / "b.zip").path)
    html = files["report.html"].decode()
    assert len(html) < 120_000, len(html)  # the whole report, not 300 KB of one answer
    assert f"of {len(long_answer):,} not shown" in html
    assert f"the full answer is turn {w.turns['t1']} in transcripts/{w.runs['r1']}.jsonl" in html
    assert long_answer[:FOLD_CHARS // 2].replace("<", "&lt;").split("\n")[0] in html.replace("&#39;", "'")
    transcript = files[f"transcripts/{w.runs['r1']}.jsonl"].decode()
    assert "word " * 1000 in transcript and transcript.count("word ") >= 60_000


def test_the_running_header_cannot_break_out_of_the_style_sheet(world: World, tmp_path: Path) -> None:
    from app.store import session
    from app.store.models import Engagement

    with session() as db:
        engagement = db.get(Engagement, world.engagement_id)
        engagement.client = 'Acme"; } body { display: none } </style><script>alert(1)</script>'
        db.add(engagement)
    html = entries(export(world.engagement_id, tmp_path / "b.zip").path)["report.html"].decode()
    style = html[html.index("<style>"):html.index("</style>")]
    assert "<script" not in style and "display: none }" not in style
    assert "@bottom-left { content: \"Acme\\22 \\3b  \\7d  body" in style  # every other character a CSS escape
    assert html.count("</style>") == 1 and "<script>" not in html


def test_a_signed_bundle_names_its_signing_key_on_the_cover(world: World, tmp_path: Path) -> None:
    result = export(world.engagement_id, tmp_path / "b.zip", sign=True)
    assert result.key_fingerprint
    html = entries(result.path)["report.html"].decode()
    cover = _section(html, 'id="cover"', "</section>")
    assert "Signing key" in cover and result.key_fingerprint in cover
    assert "Manifest SHA-256" not in cover  # the manifest lists report.html, so it cannot be inside it
