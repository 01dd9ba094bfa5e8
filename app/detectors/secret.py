"""The ``secret`` family: credential-shaped text in a response (CC6.1, C1.1).

Each shape is a provider's documented key format or a generic ``api_key=...``
assignment. Documentation placeholders (``sk-xxxxxxxx…``, ``YOUR_API_KEY_HERE``)
are not secrets, so the random part of a key must look random: its Shannon
entropy per character must reach a floor. The reason names the kind of secret,
never its value.

The text is read as written and, when it holds JSON string escapes, with them
undone (:mod:`app.escapes`): a body kept as received (a model listing, a raw
``http`` step) may spell a key ``sk-\\u0070roj-...``. What is found there is
located at its escaped spelling, so the detector's quote and the export's
redaction cover the characters as written. Matching runs under the pattern
limits of :mod:`app.detectors.patterns`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import regex

from app.detectors.base import DetectorFamily, TurnObservation
from app.detectors.params import reject_unknown, want_str_list
from app.detectors.patterns import (
    TIME_LIMIT_S,
    Deadline,
    PatternLimitReached,
    admit,
    compiled,
    matches,
    overlapping,
    want_time_limit,
)
from app.escapes import unescaped


@dataclass(frozen=True)
class SecretShape:
    kind: str
    label: str
    pattern: regex.Pattern[str]
    min_entropy: float  # bits per character of the group named "body"; 0 disables the check
    placeholder: str = ""  # what an export writes instead of the value: typed, so a reader knows what was there


SECRET_SHAPES: tuple[SecretShape, ...] = (
    SecretShape("private_key", "private key block",
                compiled(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), 0.0, "PRIVATE KEY"),
    SecretShape("anthropic", "Anthropic API key", compiled(r"\bsk-ant-(?P<body>[A-Za-z0-9_-]{20,})"), 3.0,
                "ANTHROPIC KEY"),
    SecretShape("openai", "OpenAI-style API key",
                compiled(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?(?P<body>[A-Za-z0-9_-]{20,})"), 3.0, "OPENAI KEY"),
    SecretShape("aws", "AWS access key id", compiled(r"\b(?:AKIA|ASIA)(?P<body>[0-9A-Z]{16})\b"), 2.5,
                "AWS KEY"),
    SecretShape("github", "GitHub token",
                compiled(r"\b(?:gh[pousr]_(?P<body>[A-Za-z0-9]{36,})|github_pat_[A-Za-z0-9_]{22,})\b"), 3.0,
                "GITHUB TOKEN"),
    SecretShape("slack", "Slack token", compiled(r"\bxox[abposr]-(?P<body>[A-Za-z0-9-]{10,})"), 2.5,
                "SLACK TOKEN"),
    SecretShape("bearer", "bearer token", compiled(r"\b[Bb]earer\s+(?P<body>[A-Za-z0-9._~+/-]{20,}=*)"), 3.0,
                "BEARER TOKEN"),
    SecretShape("generic", "credential assignment",
                compiled(r"(?i)\b(?:api[_-]?key|apikey|client[_-]?secret|secret[_-]?key|secret|access[_-]?token"
                           r"|auth[_-]?token|token|password|passwd)[\"']?\s*[:=]\s*[\"']?(?P<body>[A-Za-z0-9/+_.~-]{16,})"),
                3.5, "CREDENTIAL"),
)
KINDS = tuple(shape.kind for shape in SECRET_SHAPES)
# Every shape above contains one of these markers. Checking for them first decides, for nearly all text,
# that no shape can match: plain substring tests, then one search, instead of eight pattern scans.
_CASED_MARKERS = ("-----BEGIN", "sk-", "AKIA", "ASIA", "github_pat_", "xox", "earer")
_GITHUB_MARK = re.compile(r"gh[pousr]_")
_ASSIGNED_WORDS = ("key", "secret", "token", "passw")  # the generic shape's keywords, lower-cased
_ASSIGNED_MARK = re.compile(r"(?i:(?:key|secret|token|passw(?:or)?d)[\"']?\s*[:=])")


# No shape matches fewer characters than this (a Slack token: "xoxb-" and ten more).
SHORTEST_SECRET = 15


def could_hold_secret(text: str) -> bool:
    """False when no shape can match ``text``, as written or with its escapes undone: none of their markers is in it."""
    if _marked(text):
        return True
    decoded = unescaped(text) if "\\" in text else None
    return decoded is not None and _marked(decoded.text)


def _marked(text: str) -> bool:
    if any(marker in text for marker in _CASED_MARKERS) or ("gh" in text and _GITHUB_MARK.search(text)):
        return True
    lowered = text.lower()
    return any(word in lowered for word in _ASSIGNED_WORDS) and _ASSIGNED_MARK.search(text) is not None


def entropy(text: str) -> float:
    """Shannon entropy in bits per character: random keys score high, placeholders low."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(shape: SecretShape, match: regex.Match[str]) -> bool:
    body = match.groupdict().get("body") or match.group()
    if entropy(body) < shape.min_entropy:
        return False
    if shape.kind == "generic":  # words and paths are not keys: a key mixes letters and digits
        return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)
    return True


Hit = tuple[SecretShape, tuple[int, int]]


def find_secrets(text: str, kinds: tuple[str, ...] = KINDS, allow: tuple[str, ...] = (),
                 limit_s: float = TIME_LIMIT_S) -> Iterator[Hit]:
    """Every credential-shaped item in ``text`` as (shape, span), in order of position; overlaps keep the first shape.

    A key written with JSON escapes is found too, its span covering the escaped spelling. Raises
    :class:`~app.detectors.patterns.PatternLimitReached` when ``text`` is too long or the shapes together
    run past ``limit_s``."""
    admit(text)
    if not could_hold_secret(text):
        return
    deadline = Deadline(limit_s)
    hits = _shapes_in(text, kinds, allow, deadline)
    decoded = unescaped(text) if "\\" in text else None
    if decoded is not None:
        spelled = [(shape, decoded.written(span)) for shape, span in _shapes_in(decoded.text, kinds, allow, deadline)]
        clash = overlapping([span for _, span in spelled], [span for _, span in hits])
        hits = sorted(hits + [hit for hit, taken in zip(spelled, clash, strict=True) if not taken],
                      key=lambda hit: hit[1])
    yield from hits


def _shapes_in(text: str, kinds: tuple[str, ...], allow: tuple[str, ...], deadline: Deadline) -> list[Hit]:
    """The shapes' matches in ``text``, in order of position; where two overlap, the earlier shape's.

    Each shape's matches are swept against those kept so far (both in order), so an answer of many
    keys costs what it reads, not the square of it."""
    kept: list[Hit] = []
    for shape in SECRET_SHAPES:
        if shape.kind not in kinds:
            continue
        found = [m for m in matches(shape.pattern, text, deadline)
                 if not any(value in m.group() for value in allow) and _looks_random(shape, m)]
        clash = overlapping([m.span() for m in found], [span for _, span in kept])
        new = [(shape, m.span()) for m, taken in zip(found, clash, strict=True) if not taken]
        if new:
            kept = sorted(kept + new, key=lambda hit: hit[1])  # two runs in order: a linear merge
    return kept


def _check(params: dict[str, Any]) -> None:
    reject_unknown("secret", params, ("kinds", "allow", "timeout"))
    want_str_list("secret", params, "kinds", choices=KINDS)
    want_str_list("secret", params, "allow")
    want_time_limit("secret", params)


def _match(params: dict[str, Any], obs: TurnObservation) -> tuple[tuple[int, int] | None, str] | None:
    try:
        hits = list(find_secrets(obs.text, tuple(params.get("kinds") or KINDS), tuple(params.get("allow") or ()),
                                 want_time_limit("secret", params)))
    except PatternLimitReached as exc:
        raise exc.cannot_judge() from None
    if not hits:
        return None
    shape, span = hits[0]
    more = f" (and {len(hits) - 1} more)" if len(hits) > 1 else ""
    return span, f"{shape.label} found{more}"


FAMILY = DetectorFamily(
    name="secret",
    check=_check,
    match=_match,
    miss=lambda params, obs: "no credential-shaped text found",
    describe="an API key, token or private key appears (kinds: " + ", ".join(KINDS) + "; 'allow' to ignore values; "
             f"'timeout' in seconds, default {TIME_LIMIT_S:g})",
)
