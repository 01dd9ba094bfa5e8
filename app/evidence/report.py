"""The human-readable report, in Markdown and in self-contained HTML, rendered from Jinja2 templates.

Transcript text, verdict reasons and every other stored string are *data*
handed to the templates, never template source, so ``{{ 7*7 }}`` in a model's
answer stays those eight characters. The HTML environment autoescapes; the
Markdown environment escapes every interpolated value by default (there is no
Markdown autoescape in Jinja, so ``finalize`` does it), and puts transcripts
in fences longer than any backtick run inside them. Both strip terminal
escapes and make bidi controls visible (``app.text.for_terminal``), since
reports are also read with ``cat`` and ``less``.
"""

from __future__ import annotations

import platform
import re
from collections import Counter
from typing import Any, Iterator, Optional

from app import __version__
from app.evidence import tables, wording
from app.evidence.collect import EvidenceSet
from app.resources import assets_dir
from app.text import for_terminal, for_xml

TEMPLATES = {"md": "report.md.j2", "html": "report.html.j2"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&~])")


class MdText(str):
    """Markdown that a filter already made safe; ``finalize`` passes it through untouched."""


def _displayable(text: str) -> str:
    """No terminal escapes, visible controls and bidi marks, and nothing UTF-8 cannot encode."""
    return for_xml(for_terminal(text))


def md_inline(value: Any) -> str:
    """Untrusted text as one inert line of Markdown (also safe inside a table cell)."""
    text = _displayable(str(value)).replace("\r", "")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("\n", " ⏎ ").replace("\t", " ")


def md_block(value: Any, info: str = "text") -> MdText:
    """Untrusted text as a fenced block whose fence no line inside can close."""
    text = _displayable("" if value is None else str(value))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return MdText(f"{fence}{info}\n{text}\n{fence}")


def _md_finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, MdText):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return md_inline(value)


def _html_finalize(value: Any) -> Any:
    from markupsafe import Markup

    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _displayable(value)
    return value


def when(value: Optional[str]) -> str:
    """An ISO timestamp as the report shows it: ``2026-04-03 14:05:12 UTC``."""
    if not value:
        return "-"
    if "T" not in value:
        return value
    day, clock = value.split("T", 1)
    return f"{day} {clock[:8]} UTC"


def ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def environment(kind: str) -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(assets_dir() / "templates")),
        autoescape=(kind == "html"),
        finalize=_html_finalize if kind == "html" else _md_finalize,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters.update(when=when, ms=ms, md_block=md_block, flags="; ".join, configuration=wording.configuration)
    return env


class _Transcripts:
    """Runs with their turns, re-read from the store each time a template walks them."""

    def __init__(self, ev: EvidenceSet) -> None:
        self._ev = ev

    def __iter__(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        return self._ev.iter_transcripts()


def context(ev: EvidenceSet) -> dict[str, Any]:
    runs = ev.runs
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
        "systems_in_scope": [s for s in ev.systems if s["in_scope"]],
        "systems_out_of_scope": [s for s in ev.systems if not s["in_scope"]],
        "methodology": ev.methodology,
        "judging": wording.methodology(auto, human, reviewed, len(runs)),
        "configurations": tables.system_configurations(ev),
        "categories": sorted({r["category"] for r in runs}),
        "run_tool_versions": sorted({r["tool_version"] for r in runs if r["tool_version"]}),
        "target_kinds": sorted({r["target_kind"] for r in runs if r["target_kind"]}),
        "models": sorted({r["model_id"] for r in runs if r["model_id"]}),
        "test_plan": tables.test_plan(ev),
        "coverage": ev.coverage,
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
    }


def render(ev: EvidenceSet, kind: str) -> Iterator[str]:
    """The report as text pieces, produced while the template runs (never whole in memory)."""
    template = environment(kind).get_template(TEMPLATES[kind])
    return template.generate(**context(ev))
