"""The human-readable report, in Markdown and in self-contained HTML, rendered from Jinja2 templates.

Transcript text, verdict reasons and every other stored string are *data*
handed to the templates, never template source, so ``{{ 7*7 }}`` in a model's
answer stays those eight characters. The HTML environment autoescapes; the
Markdown environment escapes every interpolated value by default (there is no
Markdown autoescape in Jinja, so ``finalize`` does it), and puts transcripts
in fences longer than any backtick run inside them. Both strip terminal
escapes and make bidi controls visible (``app.text.for_terminal``), since
reports are also read with ``cat`` and ``less``.

The HTML is also the printed report: a cover, a linked table of contents,
``@page`` rules (margins, page numbers, a running header), wide tables that
become stacked records in print and on narrow screens, and long texts folded
(:func:`fold`) with the full text left in ``transcripts/``. ``app.evidence.pdf``
prints it to PDF, and ``app.evidence.word`` fills a Word template from the same
:func:`context`.
"""

from __future__ import annotations

import platform
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from app import __version__
from app.evidence import tables, wording
from app.evidence.collect import EvidenceSet
from app.resources import assets_dir
from app.text import for_terminal, for_xml

TEMPLATES = {"md": "report.md.j2", "html": "report.html.j2"}
# What for_terminal or for_xml would change in ASCII text: controls other than tab and newline, DEL, ESC.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MD_SPECIAL = "\\`*_[]<>|#&~"
_MD_INLINE = {ord(c): "\\" + c for c in _MD_SPECIAL} | {ord("\r"): None, ord("\n"): " ⏎ ", ord("\t"): " "}
_MD_INLINE_NEEDED = re.compile("[" + re.escape(_MD_SPECIAL) + "\r\n\t]")
FOLD_CHARS = 2_000  # a prompt or answer longer than this is cut in the report; transcripts/ keeps it whole
FOLD_LINES = 40
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# The report's parts, in order, for the table of contents: (id, title, [(id, title) of sub-sections]).
TOC: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("summary", "Summary", ()),
    ("test-plan", "1. Test plan", (("scope", "Scope: in-scope AI systems"), ("methodology", "Methodology"),
                                   ("matrix", "Control matrix and coverage"),
                                   ("attack-coverage", "Attack coverage: OWASP LLM Top 10 and MITRE ATLAS"),
                                   ("scenarios", "Tools and versions"),
                                   ("sampling", "Test windows (sampling)"),
                                   ("systems-as-tested", "The system as tested"),
                                   ("calibration", "Detector calibration"))),
    ("results", "2. Results of tests", ()),
    ("transcripts", "3. Test results per scenario and turn", ()),
    ("findings", "4. Findings", ()),
    ("remediation", "5. Remediation verification", ()),
    ("monitoring", "6. Continuous monitoring", (("changes", "Model change flags"),)),
    ("exceptions", "7. Exception log", (("awaiting-triage", "Awaiting triage"),)),
    ("audit-trail", "8. Audit trail", ()),
)


class MdText(str):
    """Markdown that a filter already made safe; ``finalize`` passes it through untouched."""


def displayable(text: str) -> str:
    """No terminal escapes, visible controls and bidi marks, and nothing UTF-8 or XML cannot carry.

    Most values of a report or a sheet are plain ASCII with no control
    character (tab and newline aside): :func:`for_terminal` and :func:`for_xml`
    would return them unchanged, so one scan answers for them.
    """
    if text.isascii() and not _ASCII_CONTROL.search(text):
        return text
    return for_xml(for_terminal(text))


def md_inline(value: Any) -> str:
    """Untrusted text as one inert line of Markdown (also safe inside a table cell).

    Markdown's special characters are escaped with a backslash, a carriage
    return dropped, a newline shown as `` ⏎ `` and a tab as a space: all in one
    ``str.translate``, and only when the text holds any of them.
    """
    text = displayable(str(value))
    return text.translate(_MD_INLINE) if _MD_INLINE_NEEDED.search(text) else text


def md_block(value: Any, info: str = "text") -> MdText:
    """Untrusted text as a fenced block whose fence no line inside can close."""
    text = displayable("" if value is None else str(value))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return MdText(f"{fence}{info}\n{text}\n{fence}")


def _md_finalize(value: Any) -> Any:
    if type(value) is str:  # most values: checked first, as this runs for every value the template prints
        return md_inline(value)
    if value is None:
        return ""
    if isinstance(value, MdText):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return md_inline(value)


def _html_finalize(value: Any) -> Any:
    if type(value) is str:  # most values, and never Markup (a subclass): no import on this path
        return displayable(value)
    from markupsafe import Markup

    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return displayable(value)
    return value


def when(value: str | None) -> str:
    """An ISO timestamp as the report shows it: ``2026-04-03 14:05:12 UTC``."""
    if not value:
        return "-"
    if "T" not in value:
        return value
    day, clock = value.split("T", 1)
    return f"{day} {clock[:8]} UTC"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def fold(value: Any, max_lines: int = FOLD_LINES) -> dict[str, Any]:
    """A long text cut for the report at :data:`FOLD_CHARS` characters or ``max_lines`` lines.

    One 300 KB answer would otherwise be a hundred printed pages. ``note``
    says how much is left out, counted from the text itself; the template
    names the transcript file that keeps it whole.
    """
    text = "" if value is None else str(value)
    cut = len(text) if len(text) <= FOLD_CHARS else FOLD_CHARS
    newline = -1
    for _ in range(max_lines):
        newline = text.find("\n", newline + 1)
        if newline < 0:
            break
    if 0 <= newline < cut:
        cut = newline
    if cut >= len(text):
        return {"shown": text, "folded": False, "note": ""}
    lines = text.count("\n", cut) + (0 if text.endswith("\n") else 1)
    return {"shown": text[:cut] + " …", "folded": True,
            "note": f"Folded: {len(text) - cut:,} more characters ({lines:,} more lines) of {len(text):,} not shown"}


def anchor(value: Any) -> str:
    """A fragment id from a data value (a scenario or criterion id): letters, digits, ``_ . -`` only."""
    return _ANCHOR_UNSAFE.sub("-", str(value)).strip("-") or "x"


def css_string(value: Any) -> Any:
    """Text for a CSS string inside ``<style>`` (the running header): every other character as a CSS escape.

    HTML escaping does not apply inside ``<style>``, so nothing from the data
    may keep a quote, a backslash or a ``<`` there.
    """
    from markupsafe import Markup

    text = displayable("" if value is None else str(value)).replace("\n", " ")
    return Markup("".join(c if c.isalnum() or c in " .,_:()" else f"\\{ord(c):x} " for c in text))


_DICT_ATTRIBUTES = frozenset(dir(dict))


def _records_environment() -> Any:
    """A Jinja environment that looks ``record.key`` up in the dict first when ``key`` cannot be a dict attribute.

    Jinja tries ``getattr`` before the item, so each ``t.status`` on a record
    raised and caught an AttributeError first: a million times in a large
    report. A name that is no attribute of ``dict`` gives the same answer
    either way, so only the order changes; names such as ``items`` still go
    through Jinja's own lookup.
    """
    from jinja2 import Environment

    class RecordsEnvironment(Environment):
        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
                try:
                    return obj[attribute]
                except KeyError:
                    pass
            return super().getattr(obj, attribute)

    return RecordsEnvironment


def environment(kind: str) -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined

    env = _records_environment()(
        loader=FileSystemLoader(str(assets_dir() / "templates")),
        autoescape=(kind == "html"),
        finalize=_html_finalize if kind == "html" else _md_finalize,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters.update(when=when, ms=ms, md_block=md_block, flags="; ".join, configuration=wording.configuration,
                       fold=fold, anchor=anchor, css_string=css_string)
    return env


class _Transcripts:
    """Runs with their turns, re-read from the store each time a template walks them."""

    def __init__(self, ev: EvidenceSet) -> None:
        self._ev = ev

    def __iter__(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        return self._ev.iter_transcripts()


def _links(ev: EvidenceSet, test_plan: list[dict[str, Any]]) -> dict[str, Any]:
    """What the report can link to, so that every cross-link along the audit trail resolves inside it."""
    runs_by_scenario: dict[str, list[int]] = {}
    for r in ev.runs:
        runs_by_scenario.setdefault(r["scenario_id"], []).append(r["id"])
    retests_by_finding: dict[int, list[int]] = {}
    for r in ev.retests:
        retests_by_finding.setdefault(r["finding_id"], []).append(r["run_id"])
    return {"criteria": {row["criterion"] for row in test_plan}, "scenarios": {s["scenario_id"] for s in ev.scenarios},
            "runs": {r["id"] for r in ev.runs}, "findings": {f["id"] for f in ev.findings},
            "runs_by_scenario": runs_by_scenario, "retests_by_finding": retests_by_finding}


def cover(ev: EvidenceSet, signing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The cover's fields. ``signing`` (when the bundle is signed) adds ``manifest_sha256`` and ``key_fingerprint``.

    The report date is the evidence's own as-of time, not the clock, so the
    same store gives the same report; the testers are the actors the audit
    chain records (as in the OSCAL parties).
    """
    from app.evidence.oscal_common import assessors

    signing = signing or {}
    return {"testers": assessors(ev),
            "report_date": ev.data_as_of.date().isoformat() if ev.data_as_of else "-",
            "version": (f"Redline {__version__}; audit chain of {ev.chain.length} events, head "
                        f"{ev.chain.head_hash[:16]}"),
            "manifest_sha256": signing.get("manifest_sha256"), "key_fingerprint": signing.get("key_fingerprint")}


def context(ev: EvidenceSet, signing: dict[str, Any] | None = None) -> dict[str, Any]:
    from app.calibration import summary_sentence, table_rows

    runs = ev.runs
    plan = tables.test_plan(ev)
    seen: set[str] = set()
    for row in plan:  # the first row of each criterion carries its anchor
        row["anchor"] = row["criterion"] not in seen
        seen.add(row["criterion"])
    verdicts = Counter(r["verdict"] or "unfinished" for r in runs)
    exceptions, triage = tables.exception_log(ev), tables.awaiting_triage(ev)
    auto = sum(r["auto_verdict_count"] for r in runs)
    human = sum(r["human_verdict_count"] for r in runs)
    reviewed = sum(1 for r in runs if r["human_verdict_count"])
    return {
        "e": ev.engagement,
        "tool": {"version": __version__, "python": platform.python_version()},
        "data_as_of": ev.data_as_of.isoformat(timespec="seconds") if ev.data_as_of else None,
        "selected_windows": ev.selected_windows,
        "notes": ev.notes,
        "secrets_in_output": wording.secrets_in_output(ev.secrets_in_output),
        "systems_in_scope": [s for s in ev.systems if s["in_scope"]],
        "systems_out_of_scope": [s for s in ev.systems if not s["in_scope"]],
        "methodology": ev.methodology,
        "judging": wording.methodology(auto, human, reviewed, len(runs)),
        "configurations": tables.system_configurations(ev),
        "categories": sorted({r["category"] for r in runs}),
        "run_tool_versions": sorted({r["tool_version"] for r in runs if r["tool_version"]}),
        "target_kinds": sorted({r["target_kind"] for r in runs if r["target_kind"]}),
        "models": sorted({r["model_id"] for r in runs if r["model_id"]}),
        "test_plan": plan,
        "cover": cover(ev, signing),
        "toc": [{"id": i, "title": t, "children": [{"id": c, "title": ct} for c, ct in kids]} for i, t, kids in TOC],
        "links": _links(ev, plan),
        "coverage": ev.coverage,
        "attack_coverage": tables.attack_coverage(ev),
        "sampling": tables.sampling_rows(ev),
        "spread": ev.spread,
        "scenarios": ev.scenarios,
        "runs": runs,
        "summary": {"runs": len(runs), "verdicts": dict(sorted(verdicts.items())),
                    "turns": sum(r["turns"] for r in runs), "findings": len(ev.findings),
                    "samples": sum(1 for r in runs if r["is_sample"]),
                    "retests": sum(1 for r in runs if r["placement"] == "retest"),
                    "auto_verdicts": auto, "human_verdicts": human,
                    "open_findings": sum(1 for f in ev.findings if f["open"]),
                    "flagged_runs": sum(1 for r in runs if r["dating_flags"])},
        "results": tables.results_of_tests(ev),
        "variants": tables.strategy_variants(ev),
        "transcripts": _Transcripts(ev),
        "findings": tables.findings_rows(ev),
        "retests": ev.retests,
        "monitoring": tables.monitoring(ev),
        "changes": ev.changes,
        "exceptions": exceptions,
        "exception_summary": wording.exception_summary(exceptions),
        "awaiting_triage": triage,
        "triage_summary": wording.triage_summary(triage),
        "chain": ev.chain,
        "audit_events": ev.iter_audit_events(),
        "no_exceptions": wording.NO_EXCEPTIONS,
        "method": wording.METHOD,
        "calibration": {"rows": table_rows(ev.calibration), "sentence": summary_sentence(ev.calibration)},
    }


def render(ev: EvidenceSet, kind: str, signing: dict[str, Any] | None = None) -> Iterator[str]:
    """The report as text pieces, produced while the template runs (never whole in memory)."""
    template = environment(kind).get_template(TEMPLATES[kind])
    return template.generate(**context(ev, signing))
