"""Export-time redaction: text filters the bundle applies to every string it writes.

A transcript holds customer data verbatim: fake in the demo, real at a
client. ``redline export --redact pii`` replaces what the PII detectors
(:func:`app.detectors.pii.find_pii`, the same rules that judge a turn) find with
a typed placeholder such as ``[REDACTED EMAIL]``. The filter runs where the
bundle scrubs every record (:class:`app.evidence.sources.Scrubber`), so the
report, the CSV and XLSX workpapers, the JSON data, the JSONL transcripts and
OSCAL all see the same redacted text; another kind of redaction is one more
entry in :data:`FILTERS`.

The store keeps the originals. The audit chain covers those originals, so its
file (``audit/events.jsonl``) is exported as recorded, and the manifest says
which turns and verdicts the filter changed: ``verify`` cannot recompute their
digests from the bundle and says so, while the manifest's hashes (and its
signature) cover the redacted files.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Sequence

from app.errors import UsageError

TextFilter = Callable[[str], str]


def redact_pii(text: str) -> str:
    """``text`` with each email, phone, card and SSN the PII detector finds replaced by a typed placeholder."""
    from app.detectors.pii import find_pii

    if not text:
        return text
    hits = list(find_pii(text))
    if not hits:
        return text
    out, at = [], 0
    for kind, (start, end) in hits:
        if start < at:  # overlapping hits: the earlier one already covers this text
            continue
        out.append(text[at:start])
        out.append(f"[REDACTED {kind.upper()}]")
        at = end
    out.append(text[at:])
    return "".join(out)


def _pii_version() -> dict[str, Any]:
    """What identifies the PII rules applied: the detector, its kinds, and a hash of its patterns."""
    from app import __version__
    from app.detectors import pii

    patterns = "\n".join(p.pattern for p in (pii._EMAIL, pii._NANP, pii._E164, pii._DIGIT_RUN, pii._SSN))
    return {"detector": "pii", "kinds": list(pii.KINDS), "tool_version": __version__,
            "rules_sha256": hashlib.sha256(patterns.encode("utf-8")).hexdigest()}


# name -> (the filter, what the manifest records about its version)
FILTERS: dict[str, tuple[TextFilter, Callable[[], dict[str, Any]]]] = {
    "pii": (redact_pii, _pii_version),
}


def filters_for(names: Sequence[str]) -> list[TextFilter]:
    """The filters named on the command line, in a fixed order; an unknown name is a usage error."""
    unknown = [n for n in names if n not in FILTERS]
    if unknown:
        raise UsageError(f"unknown redaction {', '.join(unknown)!s}; known: {', '.join(FILTERS)}")
    return [FILTERS[n][0] for n in sorted(set(names))]


def describe(names: Sequence[str]) -> list[dict[str, Any]]:
    """Each redaction applied, with the versions of the rules behind it, for the manifest."""
    return [dict(FILTERS[n][1](), name=n) for n in sorted(set(names))]
