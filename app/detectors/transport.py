"""Families that judge how the endpoint answered rather than what it said: ``latency`` and ``status``.

Unlike the text families these judge failed turns too: a 401 to an
unauthenticated call is the control working, and a timeout past the limit is
a latency breach.
"""

from __future__ import annotations

import re
from typing import Any

from app.detectors.base import CannotJudge, DetectorFamily, TurnObservation
from app.detectors.params import problem, reject_unknown, want_choice, want_positive_number
from app.turn_errors import ERROR_TYPES

Match = tuple[tuple[int, int] | None, str] | None

# ---------------------------------------------------------------- latency

MEASURES = ("total", "ttft")
_MEASURE_NAMES = {"total": "total time", "ttft": "time to first token"}


def _check_latency(params: dict[str, Any]) -> None:
    reject_unknown("latency", params, ("max_ms", "measure"))
    want_positive_number("latency", params, "max_ms", required=True)
    want_choice("latency", params, "measure", MEASURES, "total")


def _measured(params: dict[str, Any], obs: TurnObservation) -> tuple[str, float | None]:
    measure = params.get("measure", "total")
    return measure, obs.ttft_ms if measure == "ttft" else obs.total_ms


def _match_latency(params: dict[str, Any], obs: TurnObservation) -> Match:
    measure, value = _measured(params, obs)
    limit = float(params["max_ms"])
    name = _MEASURE_NAMES[measure]
    if obs.error_type == "timeout":
        # The client gave up after total_ms; when that is already past the limit, so is the answer.
        waited = value if value is not None else obs.total_ms
        if waited is not None and waited > limit:
            return None, f"timed out: no answer within {waited:.0f} ms, limit {limit:.0f} ms"
        raise CannotJudge(f"timed out before the {name} could be measured against {limit:.0f} ms")
    if obs.error_type:
        # A fast error is not a timely answer, and a slow one is a fault first: neither is a latency figure.
        raise CannotJudge(f"the turn ended in error ({obs.error_type}): no {name} to judge")
    if value is None:
        raise CannotJudge(f"no {name} was measured for this turn")
    if value > limit:
        return None, f"{name} {value:.0f} ms exceeds the limit of {limit:.0f} ms"
    return None


def _miss_latency(params: dict[str, Any], obs: TurnObservation) -> str:
    measure, value = _measured(params, obs)
    return f"{_MEASURE_NAMES[measure]} {value or 0:.0f} ms is within the limit of {float(params['max_ms']):.0f} ms"


LATENCY = DetectorFamily(
    name="latency",
    check=_check_latency,
    match=_match_latency,
    miss=_miss_latency,
    describe="the response took longer than max_ms (measure: total or ttft); a timeout past the limit counts",
    judges_faults=True,
)

# ---------------------------------------------------------------- status

_STATUS_CLASS = re.compile(r"^[1-5]xx$")


def _expectations(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _check_status(params: dict[str, Any]) -> None:
    reject_unknown("status", params, ("expect",))
    if "expect" not in params or params["expect"] is None:
        raise problem("status", "missing parameter 'expect'")
    items = _expectations(params["expect"])
    if not items:
        raise problem("status", "parameter 'expect' must not be an empty list")
    for item in items:
        if isinstance(item, bool):
            pass  # falls through to the error below: YAML true is not a status
        elif isinstance(item, int):
            if 100 <= item <= 599:
                continue
            raise problem("status", f"parameter 'expect' has {item}, which is not an HTTP status (100-599)")
        elif isinstance(item, str) and (_STATUS_CLASS.match(item.lower()) or item in ERROR_TYPES):
            continue
        raise problem("status", f"parameter 'expect' has {item!r}: give an HTTP status such as 403, a class "
                      f"such as \"4xx\", or an error type ({', '.join(ERROR_TYPES)})")


def _describe_turn(obs: TurnObservation) -> str:
    parts = []
    if obs.http_status is not None:
        parts.append(f"HTTP {obs.http_status}")
    if obs.error_type:
        parts.append(f"error {obs.error_type}")
    return " with ".join(parts) or "no status"


def _match_status(params: dict[str, Any], obs: TurnObservation) -> Match:
    for item in _expectations(params["expect"]):
        if isinstance(item, int) and obs.http_status == item:
            return None, f"got {_describe_turn(obs)}, as expected ({item})"
        if isinstance(item, str):
            if _STATUS_CLASS.match(item.lower()) and obs.http_status is not None and str(obs.http_status)[0] == item[0]:
                return None, f"got {_describe_turn(obs)}, as expected ({item.lower()})"
            if item == obs.error_type:
                return None, f"got {_describe_turn(obs)}, as expected ({item})"
    if obs.http_status is None:
        # Without a status there is no answer to compare (e.g. the connection failed): not a verdict on the control.
        raise CannotJudge(f"no HTTP status was recorded ({_describe_turn(obs)}): the request did not get an answer")
    return None


def _miss_status(params: dict[str, Any], obs: TurnObservation) -> str:
    expected = ", ".join(str(item) for item in _expectations(params["expect"]))
    return f"got {_describe_turn(obs)}, expected {expected}"


STATUS = DetectorFamily(
    name="status",
    check=_check_status,
    match=_match_status,
    miss=_miss_status,
    describe="the HTTP status or error type is as expected (expect: 403, [401, 403], \"4xx\", or an error type)",
    judges_faults=True,
)

FAMILIES = (LATENCY, STATUS)
