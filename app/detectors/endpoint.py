"""The ``endpoint`` family: judges one transport check (CC6.7) of a ``transport`` step's turn.

The turn's text is the JSON the step recorded (:mod:`app.targets.transport_checks`):
one entry per URL and check. A check that failed on any URL is a match (the
control failed there); one that could not be judged anywhere, and failed
nowhere, cannot judge; otherwise the endpoint passed, with the reasons.
"""

from __future__ import annotations

import json
from typing import Any

from app.detectors.base import CannotJudge, DetectorFamily, TurnObservation
from app.detectors.params import reject_unknown, want_choice

CHECKS = ("plain_http", "tls_version", "certificate", "redirect")  # app.targets.transport_checks.CHECKS


def _check(params: dict[str, Any]) -> None:
    reject_unknown("endpoint", params, ("check",))
    if "check" not in params:
        from app.detectors.params import problem

        raise problem("endpoint", f"'check' is required: one of {', '.join(CHECKS)}")
    want_choice("endpoint", params, "check", CHECKS, "plain_http")


def _entries(params: dict[str, Any], obs: TurnObservation) -> list[dict[str, Any]]:
    try:
        data = json.loads(obs.text or "{}")
    except ValueError:
        raise CannotJudge("the transport step recorded no readable checks") from None
    entries = [e for e in (data.get("checks") or []) if isinstance(e, dict) and e.get("check") == params["check"]]
    if not entries:
        raise CannotJudge(f"no endpoint was checked for {params['check']}")
    return entries


def _line(entry: dict[str, Any]) -> str:
    return f"{entry.get('url', '?')}: {entry.get('reason', '')}"


def _match(params: dict[str, Any], obs: TurnObservation) -> tuple[tuple[int, int] | None, str] | None:
    entries = _entries(params, obs)
    failed = [e for e in entries if e.get("outcome") == "fail"]
    if failed:
        return None, "; ".join(_line(e) for e in failed)
    unknown = [e for e in entries if e.get("outcome") != "pass"]
    if unknown:
        raise CannotJudge("; ".join(_line(e) for e in unknown))
    return None


def _miss(params: dict[str, Any], obs: TurnObservation) -> str:
    return "; ".join(_line(e) for e in _entries(params, obs))


FAMILY = DetectorFamily(
    name="endpoint",
    check=_check,
    match=_match,
    miss=_miss,
    describe="a transport check (check: plain_http, tls_version, certificate or redirect) failed on an endpoint",
    kinds=("transport",),
)
