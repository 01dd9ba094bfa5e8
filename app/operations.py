"""Client operations: the client's own endpoints that scenarios call by name, not by a demo path.

A deletion API, a security alert feed or a failover switch lives wherever the
client put it: under other paths, often on another host, behind another
credential. The engagement names them per system (``systems[].operations``),
and a scenario step says ``operation: delete_user_data``. A scenario whose
operation a system does not map is planned as "needs the client's ..." and
never run against a path the client does not have (:mod:`app.alignment.needs`).

This module holds what every layer shares: the words for the known operations,
the rule that keeps the system's key on its own host, and how a step's
arguments fill an operation's URL and body. It never sends anything; the call
itself is :mod:`app.targets.operation`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from app.formats.engagement import foreign_with_target_key, is_absolute  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from app.formats.engagement import OperationSpec

# The operations the bundled scenarios call, and what a tester would call them at the client.
KNOWN_OPERATIONS: dict[str, str] = {
    "delete_user_data": "data-deletion API",
    "security_alerts": "security alert feed",
    "outage": "outage / failover drill switch",
}
# The built-in demo AI system's own endpoints for them (paths under its /v1). A ``kind: demo`` system
# that maps no operations of its own has these: the demo is a system that has them all.
DEMO_OPERATIONS: dict[str, dict[str, Any]] = {
    "delete_user_data": {"method": "DELETE", "url": "/users/{identity}/data",
                         "description": "the demo's data-deletion API"},
    "security_alerts": {"method": "GET", "url": "/security/alerts?user={identity}",
                        "description": "the demo's security alert feed for one caller"},
    "outage": {"method": "POST", "url": "/admin/outage",
               "description": "the demo's outage drill: primary model down for 'seconds' (0 ends it)"},
}
# A successful call of this operation asks the system to forget the caller's earlier messages.
FORGETS = frozenset({"delete_user_data"})


def operation_words(name: str) -> str:
    """How a report names a missing operation: "the client's security alert feed (operation 'security_alerts')"."""
    what = KNOWN_OPERATIONS.get(name)
    return f"the client's {what} (operation '{name}')" if what else f"the client's operation '{name}'"


def mapped_operations(target: Mapping[str, Any]) -> dict[str, Any]:
    """The operations a stored system's target maps, as stored; a demo system without its own, the demo's."""
    own = dict(target.get("operations") or {})
    if not own and target.get("kind") == "demo":
        return dict(DEMO_OPERATIONS)
    return own


def operations_of(target: Mapping[str, Any]) -> dict[str, OperationSpec]:
    """The operations a stored system's target maps (:func:`mapped_operations`), validated."""
    from pydantic import ValidationError

    from app.formats.engagement import OperationSpec

    found: dict[str, OperationSpec] = {}
    for name, raw in mapped_operations(target).items():
        try:
            found[str(name)] = OperationSpec.model_validate(raw)
        except ValidationError:
            continue  # the file's loader reports it with its line; the store never holds one that failed
    return found


def operation_snapshot(operations: Mapping[str, Any]) -> dict[str, Any]:
    """The operations as a run's system snapshot keeps them: no key reference, only whether one is set."""
    kept: dict[str, Any] = {}
    for name, raw in sorted(operations.items()):
        entry = {k: v for k, v in dict(raw).items() if k != "auth"}
        auth = dict(raw).get("auth", "target")
        entry["auth"] = auth if isinstance(auth, str) else "own key"
        kept[name] = entry
    return kept


@dataclass(frozen=True)
class OperationCall:
    """One operation made concrete for one step: where to send what, and under which key."""

    name: str
    method: str
    url: str  # absolute, or a path under the target's base URL
    body: Any
    auth: Any  # "target" | "none" | a KeyRef

    @property
    def prompt(self) -> str:
        """What the transcript shows the step sent (the URL as configured, keys never in it)."""
        return f"{self.name}: {self.method} {self.url}"


def _fill(text: str, values: Mapping[str, Any], *, in_url: bool) -> str:
    out = text
    for key, value in values.items():
        rendered = str(value)
        out = out.replace("{" + key + "}", quote(rendered, safe="") if in_url else rendered)
    return out


def _template(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in values:
            return values[value[1:-1]]  # the argument itself, keeping its type (a number stays a number)
        return _fill(value, values, in_url=False)
    if isinstance(value, dict):
        return {k: _template(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v, values) for v in value]
    return value


def prepare_call(name: str, operation: OperationSpec, args: Mapping[str, Any], identity: str) -> OperationCall:
    """The request one ``operation`` step makes: ``{identity}`` and the step's arguments filled in.

    ``identity`` is the label the run gives the caller (the same user the chat
    steps speak as), so a deletion or an alert query is about that caller.
    """
    values: dict[str, Any] = {**{k: _template(v, {"identity": identity}) for k, v in args.items()},
                              "identity": identity}
    url = _fill(operation.url, values, in_url=True)
    if operation.body is not None:
        body = _template(operation.body, values)
    elif operation.method == "GET":
        body = None
        extra = {k: v for k, v in values.items() if k != "identity" and "{" + k + "}" not in operation.url}
        if extra:
            url += ("&" if "?" in url else "?") + urlencode({k: str(v) for k, v in extra.items()})
    else:
        body = {k: v for k, v in values.items() if k != "identity"} or None
    return OperationCall(name, operation.method, url, body, operation.auth)
