"""Scenario regexes: matched with a time limit, and checked for shapes that backtrack without end.

A scenario file's pattern is run against model output, and both are outside
Redline's control: Python's ``re`` once ran ``^(a+)+$`` against ``a``×34 and
``!`` for ten minutes on a full core, deaf to the run's total timeout and to
SIGTERM. Patterns are therefore compiled with the ``regex`` module, which
already avoids much of that backtracking and can stop a match at a time limit
(``timeout``); a match that reaches it is reported, never waited out, and the
turn is inconclusive. The loader also warns (:func:`catastrophic`) about the
shapes that make a pattern blow up, nested unbounded repeats and repeated
alternatives that can match the same text, so the author can fix them before
a run.

Redline's own detectors (``pii``, ``secret``, ``refusal``) and the export's
redaction run their patterns through the same two functions (:func:`search`,
:func:`matches`), under the same limits: a text longer than
:data:`MAX_TEXT_CHARS` is not matched at all, and a family's matching stops
at its time limit. Their patterns are linear (no nested or overlapping
repeats can be driven into backtracking: each unbounded repeat ends at a
character it cannot hold), so the cost of an answer is its length; the limits
make that cost a bound rather than a hope. Reaching either is
:class:`PatternLimitReached`: a detector cannot judge (never a pass), and a
redaction withholds the text it could not check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import regex

from app.detectors.base import CannotJudge
from app.detectors.params import problem

TIME_LIMIT_S = 2.0  # per detector, per turn; a detector's ``timeout`` parameter changes it
MAX_TIME_LIMIT_S = 60.0
# The longest text a pattern is run over: the default limit of response text per turn (10,000,000 bytes of
# UTF-8, so at most as many characters). A system whose limit is raised past it gets answers the pattern
# detectors say they cannot judge, rather than a judgement that took minutes.
MAX_TEXT_CHARS = 10_000_000
FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}


class PatternLimitReached(Exception):
    """Matching stopped at a limit before it could say whether the pattern matches."""

    verdict = "detector stopped"

    def cannot_judge(self) -> CannotJudge:
        """What a detector raises: the turn is inconclusive, with this reason."""
        return CannotJudge(f"{self.verdict}: {self}")


class PatternTimedOut(PatternLimitReached):
    """The match ran past its time limit."""

    verdict = "detector timed out"


class TextTooLong(PatternLimitReached):
    """The text is longer than any pattern is run over (:data:`MAX_TEXT_CHARS`)."""


class Deadline:
    """One time limit shared by every pattern a detector runs over one text (a family runs several)."""

    def __init__(self, limit_s: float = TIME_LIMIT_S) -> None:
        self.limit_s = limit_s
        self._ends = time.perf_counter() + limit_s

    def left(self, text: str) -> float:
        """Seconds left; :class:`PatternTimedOut` once none are."""
        left = self._ends - time.perf_counter()
        if left <= 0:
            raise _timed_out(self.limit_s, text)
        return left


def want_time_limit(family: str, params: dict[str, Any]) -> float:
    """The family's ``timeout`` parameter (seconds), checked; :data:`TIME_LIMIT_S` when it is not given."""
    limit = params.get("timeout", TIME_LIMIT_S)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit <= MAX_TIME_LIMIT_S:
        raise problem(family, f"parameter 'timeout' must be a number of seconds above 0 and at most "
                              f"{MAX_TIME_LIMIT_S:g} (default {TIME_LIMIT_S:g})")
    return float(limit)


def admit(text: str) -> None:
    """:class:`TextTooLong` when ``text`` is longer than :data:`MAX_TEXT_CHARS`; cheap, checked first."""
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLong(f"the text is {len(text):,} characters, more than the {MAX_TEXT_CHARS:,} a pattern "
                          "is run over")


def _timed_out(limit_s: float, text: str) -> PatternTimedOut:
    return PatternTimedOut(f"the pattern ran past its time limit of {limit_s:g}s on {len(text)} characters "
                           "of text (a pattern that backtracks without end, or a huge answer)")


@lru_cache(maxsize=512)
def compiled(pattern: str, flags: str = "") -> regex.Pattern[str]:
    """Compile once per (pattern, flags): export re-runs detectors over every stored turn.

    Raises ``regex.error`` for an invalid pattern."""
    value = 0
    for letter in flags:
        value |= FLAGS[letter]
    return regex.compile(pattern, value)


def syntax_error(pattern: str, flags: str = "") -> str | None:
    """Python's own message for an invalid pattern (it points at the opening of an unclosed group,
    where ``regex`` points at the end), or None when ``re`` reads it."""
    try:
        re.compile(pattern, _re_flags(flags))
    except re.error as exc:
        return str(exc)
    return None


def _re_flags(flags: str) -> int:
    value = 0
    for letter in flags:
        value |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}[letter]
    return value


def search(pattern: regex.Pattern[str], text: str, limit: float | Deadline,
           pos: int = 0) -> regex.Match[str] | None:
    """``pattern.search(text, pos)``, within the size limit and stopped at ``limit`` (seconds, or a shared
    :class:`Deadline`); :class:`PatternLimitReached` otherwise."""
    admit(text)
    deadline = limit if isinstance(limit, Deadline) else Deadline(limit)
    try:
        return pattern.search(text, pos, timeout=deadline.left(text))
    except TimeoutError:
        raise _timed_out(deadline.limit_s, text) from None


def matches(pattern: regex.Pattern[str], text: str, limit: float | Deadline, pos: int = 0) -> list[regex.Match[str]]:
    """Every match of ``pattern`` in ``text`` from ``pos``, in order, under the same limits as :func:`search`.

    The scan runs whole before the first match is returned, so the time limit covers all of it; a scan
    stopped at a limit returns nothing (the matches before it would be a partial answer)."""
    admit(text)
    deadline = limit if isinstance(limit, Deadline) else Deadline(limit)
    try:
        return list(pattern.finditer(text, pos, timeout=deadline.left(text)))
    except TimeoutError:
        raise _timed_out(deadline.limit_s, text) from None


def overlapping(spans: Iterable[tuple[int, int]], taken: list[tuple[int, int]]) -> list[bool]:
    """For each span (in order of start), whether it overlaps one of ``taken`` (in order, non-overlapping).

    One sweep over both, so a detector that drops matches overlapping earlier ones stays linear in the
    number of matches; a check of each match against every earlier one is quadratic, and an answer of
    many short matches (phone numbers, key ids) then takes hours, not its length."""
    result: list[bool] = []
    at, count = 0, len(taken)
    for start, end in spans:
        while at < count and taken[at][1] <= start:
            at += 1
        result.append(at < count and taken[at][0] < end)
    return result


# ------------------------------------------------------------------ the loader's warning

def catastrophic(pattern: str, flags: str = "") -> str | None:
    """Why ``pattern`` may take exponential time on some text, or None if no such shape is seen.

    A heuristic over Python's own parse of the pattern: an unbounded repeat
    whose body holds another unbounded repeat (``(a+)+``, ``(.*)*``), or
    alternatives that can start alike (``(a|aa)+``, ``(\\w|\\d)*``). Possessive
    repeats and atomic groups do not backtrack and are not flagged.
    """
    try:
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, _re_flags(flags))
    except Exception:  # a pattern only ``regex`` reads, or a parser that changed: no warning, no crash
        return None
    return _walk(list(parsed), _parser, inside=False)


def _walk(items: Iterable[Any], parser: Any, *, inside: bool) -> str | None:
    """``inside``: these items repeat without bound, so they must not backtrack in many ways themselves."""
    constants = parser  # the op names live on the parser module (re._constants re-exported)
    for op, arg in items:
        if op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
            low, high, body = arg
            unbounded = high == constants.MAXREPEAT
            if inside and unbounded:
                return "an unbounded repeat inside another one, such as (a+)+ or (.*)*"
            if unbounded:
                branches = _branches(list(body), constants)
                if (branches is not None and _alternatives_overlap(branches, constants)) or _optional_overlap(
                        _unwrap(list(body), constants), constants):
                    return "a repeated group whose alternatives can match the same text, such as (a|aa)+"
            found = _walk(list(body), parser, inside=inside or unbounded)
            if found:
                return found
        elif op == constants.SUBPATTERN:
            found = _walk(list(arg[-1]), parser, inside=inside)
            if found:
                return found
        elif op == constants.BRANCH:
            for branch in arg[1]:
                found = _walk(list(branch), parser, inside=inside)
                if found:
                    return found
    return None


def _unwrap(body: list[Any], constants: Any) -> list[Any]:
    while len(body) == 1 and body[0][0] == constants.SUBPATTERN:
        body = list(body[0][1][-1])
    return body


def _branches(body: list[Any], constants: Any) -> list[list[Any]] | None:
    """The alternatives of a repeated group (``(x|y)``), or None when the body is not one alternation."""
    body = _unwrap(body, constants)
    if len(body) == 1 and body[0][0] == constants.BRANCH:
        return [list(branch) for branch in body[0][1][1]]
    return None


def _optional_overlap(body: list[Any], constants: Any) -> bool:
    """A repeated body with an optional part that can start like the body itself: ``a(|a)``, which is how
    Python's parser writes ``a|aa``, or ``x.?``; one text splits into repeats in many ways."""
    start = _first(body, constants)
    for op, arg in body[1:]:
        tail: set[int] | None = set()
        if op == constants.BRANCH and any(not branch for branch in arg[1]):
            for branch in arg[1]:
                if branch:
                    first = _first(list(branch), constants)
                    tail = None if first is None or tail is None else tail | first
        elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and arg[0] == 0:
            tail = _first(list(arg[2]), constants)
        else:
            continue
        if tail is None or start is None or tail & start:
            return True
    return False


def _alternatives_overlap(branches: list[list[Any]], constants: Any) -> bool:
    """Whether two alternatives can begin with the same character (an approximation that errs toward yes)."""
    starts = [_first(branch, constants) for branch in branches]
    for i, a in enumerate(starts):
        for b in starts[i + 1:]:
            if a is None or b is None or a & b:
                return True
    return False


def _first(branch: list[Any], constants: Any) -> set[int] | None:
    """The characters ``branch`` can start with when they are plain literals; None: could be anything."""
    if not branch:
        return None
    op, arg = branch[0]
    if op == constants.LITERAL:
        return {arg}
    if op == constants.IN and all(kind == constants.LITERAL for kind, _ in arg):
        return {value for _, value in arg}
    return None
