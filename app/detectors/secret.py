"""The ``secret`` family: credential-shaped text in a response (CC6.1, C1.1).

Each shape is a provider's documented key format or a generic ``api_key=...``
assignment. Documentation placeholders (``sk-xxxxxxxx…``, ``YOUR_API_KEY_HERE``)
are not secrets, so the random part of a key must look random: its Shannon
entropy per character must reach a floor. The reason names the kind of secret,
never its value.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.detectors.base import DetectorFamily, TurnObservation
from app.detectors.params import reject_unknown, want_str_list


@dataclass(frozen=True)
class SecretShape:
    kind: str
    label: str
    pattern: re.Pattern[str]
    min_entropy: float  # bits per character of the group named "body"; 0 disables the check
    placeholder: str = ""  # what an export writes instead of the value: typed, so a reader knows what was there


SECRET_SHAPES: tuple[SecretShape, ...] = (
    SecretShape("private_key", "private key block",
                re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), 0.0, "PRIVATE KEY"),
    SecretShape("anthropic", "Anthropic API key", re.compile(r"\bsk-ant-(?P<body>[A-Za-z0-9_-]{20,})"), 3.0,
                "ANTHROPIC KEY"),
    SecretShape("openai", "OpenAI-style API key",
                re.compile(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?(?P<body>[A-Za-z0-9_-]{20,})"), 3.0, "OPENAI KEY"),
    SecretShape("aws", "AWS access key id", re.compile(r"\b(?:AKIA|ASIA)(?P<body>[0-9A-Z]{16})\b"), 2.5,
                "AWS KEY"),
    SecretShape("github", "GitHub token",
                re.compile(r"\b(?:gh[pousr]_(?P<body>[A-Za-z0-9]{36,})|github_pat_[A-Za-z0-9_]{22,})\b"), 3.0,
                "GITHUB TOKEN"),
    SecretShape("slack", "Slack token", re.compile(r"\bxox[abposr]-(?P<body>[A-Za-z0-9-]{10,})"), 2.5,
                "SLACK TOKEN"),
    SecretShape("bearer", "bearer token", re.compile(r"\b[Bb]earer\s+(?P<body>[A-Za-z0-9._~+/-]{20,}=*)"), 3.0,
                "BEARER TOKEN"),
    SecretShape("generic", "credential assignment",
                re.compile(r"(?i)\b(?:api[_-]?key|apikey|client[_-]?secret|secret[_-]?key|secret|access[_-]?token"
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
    """False when no shape can match ``text``: none of their markers is in it."""
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


def _looks_random(shape: SecretShape, match: re.Match[str]) -> bool:
    body = match.groupdict().get("body") or match.group()
    if entropy(body) < shape.min_entropy:
        return False
    if shape.kind == "generic":  # words and paths are not keys: a key mixes letters and digits
        return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)
    return True


def find_secrets(text: str, kinds: tuple[str, ...] = KINDS, allow: tuple[str, ...] = ()) -> Iterator[tuple[SecretShape, tuple[int, int]]]:
    """Every credential-shaped item in ``text`` as (shape, span), in order of position; overlaps keep the first shape."""
    if not could_hold_secret(text):
        return
    hits: list[tuple[SecretShape, tuple[int, int]]] = []
    for shape in SECRET_SHAPES:
        if shape.kind not in kinds:
            continue
        for match in shape.pattern.finditer(text):
            span = match.span()
            if any(value in match.group() for value in allow) or not _looks_random(shape, match):
                continue
            if not any(span[0] < end and start < span[1] for _, (start, end) in hits):
                hits.append((shape, span))
    yield from sorted(hits, key=lambda hit: hit[1])


def _check(params: dict[str, Any]) -> None:
    reject_unknown("secret", params, ("kinds", "allow"))
    want_str_list("secret", params, "kinds", choices=KINDS)
    want_str_list("secret", params, "allow")


def _match(params: dict[str, Any], obs: TurnObservation) -> tuple[tuple[int, int] | None, str] | None:
    hits = list(find_secrets(obs.text, tuple(params.get("kinds") or KINDS), tuple(params.get("allow") or ())))
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
    describe="an API key, token or private key appears (kinds: " + ", ".join(KINDS) + "; 'allow' to ignore values)",
)
