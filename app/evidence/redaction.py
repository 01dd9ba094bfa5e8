"""Export-time redaction: text filters the bundle applies to every string it writes.

A transcript holds what the model said verbatim. Two filters exist:

- ``secrets``, on by default: every secret-looking value (a provider key,
  token or private key block, by the rules the ``secret`` detector judges
  with) becomes a typed placeholder such as ``[REDACTED AWS KEY]``. A bundle
  travels to a CPA firm, and a key a model printed is as live there as in the
  transcript. ``redline export --keep-secrets-in-output`` keeps them.
- ``pii``, on request (``--redact pii``): what the PII detectors find becomes
  ``[REDACTED EMAIL]`` and so on.

The filters run where the bundle scrubs every record
(:class:`app.evidence.sources.Scrubber`), so the report, the CSV and XLSX
workpapers, the JSON data, the JSONL transcripts, OSCAL and the audit trail
all see the same text; another kind of redaction is one more entry in
:data:`FILTERS`.

Both filters match under the pattern limits every detector uses
(:mod:`app.detectors.patterns`). A string they cannot check in time, or at
all (longer than the limit), is not shipped: it becomes one placeholder that
says why (:func:`unchecked`), so a limit never lets a value through.

The store keeps the originals. The chain's digests cover those originals:
the manifest lists the turns, verdicts and audit events a filter changed.
``verify`` cannot recompute the turns' and verdicts' digests from the bundle
and says so; an audit event ships its original payload's digest, which its
hash covers (hash version 2), so the chain itself still verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from app.detectors.patterns import TIME_LIMIT_S, PatternLimitReached, compiled, search
from app.detectors.secret import SHORTEST_SECRET, could_hold_secret
from app.errors import UsageError

TextFilter = Callable[[str], str]
_PEM_END = compiled(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")


def unchecked(text: str, why: PatternLimitReached) -> str:
    """What a filter ships instead of a string it could not check: its length and the limit reached."""
    return f"[REDACTED UNCHECKED TEXT: {len(text):,} characters withheld; {why}]"


def _replace(text: str, hits: Iterable[tuple[str, tuple[int, int]]]) -> str:
    """``text`` with each (placeholder, span) replaced by ``[REDACTED placeholder]``; spans in order of position."""
    out, at = [], 0
    for label, (start, end) in hits:
        if start < at:  # overlapping hits: the earlier one already covers this text
            continue
        out.append(text[at:start])
        out.append(f"[REDACTED {label}]")
        at = end
    if not out:
        return text
    out.append(text[at:])
    return "".join(out)


def redact_pii(text: str) -> str:
    """``text`` with each email, phone, card and SSN the PII detector finds replaced by a typed placeholder."""
    from app.detectors.pii import find_pii

    if not text:
        return text
    try:
        hits = list(find_pii(text))
    except PatternLimitReached as why:
        return unchecked(text, why)
    return _replace(text, ((kind.upper(), span) for kind, span in hits))


def secret_spans(text: str) -> list[tuple[str, str, tuple[int, int]]]:
    """Each secret-looking value in ``text`` as (kind, placeholder, span), by the rules the ``secret`` detector judges with.

    A private key's header is what the detector matches, but the secret is the
    block under it: the span runs to the block's END line, or to the end of the
    text when the answer was cut off before it.
    """
    from app.detectors.secret import find_secrets

    spans = []
    for shape, (start, end) in find_secrets(text):
        if shape.kind == "private_key":
            close = search(_PEM_END, text, TIME_LIMIT_S, end)
            end = close.end() if close else len(text)
        spans.append((shape.kind, shape.placeholder, (start, end)))
    return spans


def redact_secrets(text: str) -> str:
    """``text`` with each secret-looking value replaced by a typed placeholder such as ``[REDACTED AWS KEY]``.

    Runs on every string of every exported record, so the common case is decided first and cheaply: a
    string shorter than the shortest shape, or with none of the shapes' markers, is returned as it is.
    """
    if len(text) < SHORTEST_SECRET or not could_hold_secret(text):
        return text
    try:
        spans = secret_spans(text)
    except PatternLimitReached as why:
        return unchecked(text, why)
    return _replace(text, ((label, span) for _, label, span in spans))


def secret_census(texts: Iterable[str]) -> dict[str, Any]:
    """What the secret filter finds in model output: distinct values per kind, and how many answers hold any.

    Counted once from the stored answers, whatever number of files the export
    then writes them into, so the manifest, the report and the command's
    summary give one figure.
    """
    values: dict[str, set[str]] = {}
    answers = unchecked_answers = 0
    for text in texts:
        try:
            spans = secret_spans(text or "")
        except PatternLimitReached:
            unchecked_answers += 1  # the filter withholds it whole (see :func:`unchecked`)
            continue
        answers += bool(spans)
        for kind, _, (start, end) in spans:
            values.setdefault(kind, set()).add(text[start:end])
    census: dict[str, Any] = {"found": {kind: len(found) for kind, found in sorted(values.items())}, "turns": answers}
    if unchecked_answers:
        census["unchecked"] = unchecked_answers
    return census


def _pii_version() -> dict[str, Any]:
    """What identifies the PII rules applied: the detector, its kinds, and a hash of its patterns."""
    from app import __version__
    from app.detectors import pii

    patterns = "\n".join(p.pattern for p in (pii._EMAIL, pii._NANP, pii._E164, pii._DIGIT_RUN, pii._SSN))
    return {"detector": "pii", "kinds": list(pii.KINDS), "tool_version": __version__,
            "rules_sha256": hashlib.sha256(patterns.encode("utf-8")).hexdigest()}


def _secrets_version() -> dict[str, Any]:
    """What identifies the secret rules applied: the detector, its kinds, and a hash of its patterns and floors."""
    from app import __version__
    from app.detectors import secret

    rules = "\n".join(f"{s.kind}\t{s.pattern.pattern}\t{s.min_entropy}\t{s.placeholder}" for s in secret.SECRET_SHAPES)
    return {"detector": "secret", "kinds": list(secret.KINDS), "tool_version": __version__,
            "rules_sha256": hashlib.sha256((rules + "\n" + _PEM_END.pattern).encode("utf-8")).hexdigest()}


# name -> (the filter, what the manifest records about its version)
FILTERS: dict[str, tuple[TextFilter, Callable[[], dict[str, Any]]]] = {
    "pii": (redact_pii, _pii_version),
    "secrets": (redact_secrets, _secrets_version),
}
# Applied unless the exporter keeps them (``--keep-secrets-in-output``): a bundle travels to a CPA firm,
# and a key a model printed is as live there as in the transcript.
DEFAULT_FILTERS: tuple[str, ...] = ("secrets",)


def export_filters(redact: Sequence[str], keep_secrets_in_output: bool = False) -> list[str]:
    """The redactions an export applies: those asked for, plus the defaults unless the exporter keeps them."""
    names = set(redact) | (set() if keep_secrets_in_output else set(DEFAULT_FILTERS))
    return sorted(names)


def filters_for(names: Sequence[str]) -> list[TextFilter]:
    """The filters named on the command line, in a fixed order; an unknown name is a usage error."""
    unknown = [n for n in names if n not in FILTERS]
    if unknown:
        raise UsageError(f"unknown redaction {', '.join(unknown)!s}; known: {', '.join(FILTERS)}")
    return [FILTERS[n][0] for n in sorted(set(names))]


def describe(names: Sequence[str]) -> list[dict[str, Any]]:
    """Each redaction applied, with the versions of the rules behind it, for the manifest."""
    return [dict(FILTERS[n][1](), name=n) for n in sorted(set(names))]
