"""What the demo AI system remembers between requests: conversations, consent, alerts, load, outages.

All of it is in memory and guarded by locks, because the HTTP server answers
each request on its own thread. Both modes share one state, so switching a
running server to hardened keeps what it has already seen, which is what a
remediation re-test against a live system looks like.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

MEMORY_PER_USER = 50
MESSAGE_KEEP_CHARS = 500

VULNERABLE_IN_FLIGHT_LIMIT = 3  # the 4th concurrent request gets a 503, without Retry-After
# The vulnerable weakness is fixed, whatever the server's pace (service time, chunk delay): so a practice
# run, ``redline demo-target`` and the test suite give the same verdicts on any machine.
VULNERABLE_MIN_SERVICE_S = 0.05  # every chat request takes at least this long before its first token,
                                 # so requests sent together are in flight together
VULNERABLE_SATURATED_S = 1.2  # once the limit is reached, every request in flight then waits this long
                              # for its first token (thrashing): beyond a 1 s first-token SLA
HARDENED_SLOTS = 8  # requests served at once; latency stays flat up to here
HARDENED_QUEUE = 8  # requests that wait for a slot; beyond this, 429 with Retry-After
RETRY_AFTER_SECONDS = 1


@dataclass
class Remembered:
    """One user message as stored server-side."""

    seq: int
    user: str
    text: str
    at: float
    deleted: bool = False  # vulnerable deletion only marks; hardened deletion purges


class ConversationMemory:
    """Per-user message history, in arrival order across users (for the cross-tenant leak)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._by_user: dict[str, list[Remembered]] = {}
        self._opted_out: set[str] = set()

    def record(self, user: str, text: str) -> None:
        with self._lock:
            entries = self._by_user.setdefault(user, [])
            entries.append(Remembered(next(self._seq), user, text[:MESSAGE_KEEP_CHARS], time.time()))
            del entries[:-MEMORY_PER_USER]

    def history(self, user: str, include_deleted: bool) -> list[Remembered]:
        """The user's own messages, oldest first."""
        with self._lock:
            return [e for e in self._by_user.get(user, []) if include_deleted or not e.deleted]

    def recent(self, limit: int, include_deleted: bool, exclude: str | None = None) -> list[Remembered]:
        """The newest messages across users, newest first, optionally without one user's."""
        with self._lock:
            every = [e for entries in self._by_user.values() for e in entries
                     if (include_deleted or not e.deleted) and e.user != exclude]
        return sorted(every, key=lambda e: e.seq, reverse=True)[:limit]

    def delete(self, user: str, purge: bool) -> int:
        """Forget a user's messages. ``purge=False`` only marks them: the vulnerable deletion."""
        with self._lock:
            entries = self._by_user.get(user, [])
            live = [e for e in entries if not e.deleted]
            if purge:
                self._by_user.pop(user, None)
            else:
                for entry in live:
                    entry.deleted = True
            return len(live)

    def set_consent(self, user: str, consent: bool) -> None:
        with self._lock:
            (self._opted_out.discard if consent else self._opted_out.add)(user)

    def opted_out(self, user: str) -> bool:
        with self._lock:
            return user in self._opted_out


@dataclass(frozen=True)
class Alert:
    """What the hardened monitoring saw (CC7.2, CC7.3)."""

    id: str
    created: int
    user: str
    kind: str  # prompt_injection | prompt_extraction | data_extraction | adversarial_input
    variant: str
    severity: str
    excerpt: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "security.alert", "created": self.created, "user": self.user,
                "kind": self.kind, "variant": self.variant, "severity": self.severity, "excerpt": self.excerpt}


class AlertLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alerts: list[Alert] = []

    def add(self, user: str, kind: str, variant: str, severity: str, excerpt: str) -> Alert:
        with self._lock:
            alert = Alert(f"alert_{len(self._alerts) + 1}", int(time.time()), user, kind, variant, severity,
                          excerpt[:160])
            self._alerts.append(alert)
            return alert

    def list(self, user: str | None = None) -> list[Alert]:
        with self._lock:
            return [a for a in self._alerts if user is None or a.user == user]


class Overloaded(Exception):
    """The request was refused for load: 503 (vulnerable) or 429 with Retry-After (hardened)."""

    def __init__(self, status: int, retry_after: int | None) -> None:
        super().__init__(f"overloaded ({status})")
        self.status = status
        self.retry_after = retry_after


class LoadGate:
    """Admission and service time for chat requests, the two ways a system can take a burst.

    Vulnerable: a request takes at least ``VULNERABLE_MIN_SERVICE_S`` (or the
    service time, if longer) before its first token; when the in-flight count
    reaches the limit, every request then waiting for its first token waits
    ``VULNERABLE_SATURATED_S`` from its arrival (the model thrashes); a request
    that finds the limit reached gets a bare 503. Hardened: a fixed number of
    slots keeps service time flat, a bounded queue absorbs the rest, and
    overflow is told when to come back.

    A request stops counting as in flight when :meth:`Admission.release` is
    called, which the server does once the answer's text is written and before
    its end marker: a client that has read the whole answer and sends its next
    request never finds its previous one still counted.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_flight = 0
        self._slots = threading.BoundedSemaphore(HARDENED_SLOTS)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def admit(self, hardened: bool, service_time: float) -> Iterator[Admission]:
        """Hold a place for one request; yields its :class:`Admission` (released at the latest on exit)."""
        with self._changed:
            limit = HARDENED_SLOTS + HARDENED_QUEUE if hardened else VULNERABLE_IN_FLIGHT_LIMIT
            if self._in_flight >= limit:
                raise Overloaded(429, RETRY_AFTER_SECONDS) if hardened else Overloaded(503, None)
            self._in_flight += 1
            admission = Admission(self, self._in_flight)
            self._changed.notify_all()
        try:
            if hardened:
                with self._slots:
                    _sleep(service_time)
                    yield admission
            else:
                self._wait_vulnerable(max(service_time, VULNERABLE_MIN_SERVICE_S))
                yield admission
        finally:
            admission.release()

    def _wait_vulnerable(self, service: float) -> None:
        """Wait for the first token: ``service``, or the saturated wait once the limit is reached."""
        arrived = time.monotonic()
        with self._changed:
            saturated = False
            while True:
                saturated = saturated or self._in_flight >= VULNERABLE_IN_FLIGHT_LIMIT
                left = arrived + (VULNERABLE_SATURATED_S if saturated else service) - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)  # a new arrival wakes every waiter to look again

    def _leave(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()


class Admission:
    """One admitted request's place in flight."""

    def __init__(self, gate: LoadGate, arrived_with: int) -> None:
        self.gate = gate
        self.arrived_with = arrived_with  # requests in flight on arrival, this one included
        self._released = False

    def release(self) -> None:
        """Stop counting this request as in flight (idempotent)."""
        if not self._released:
            self._released = True
            self.gate._leave()


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


@dataclass
class Outage:
    """A simulated primary-model outage (A1.2 recovery): until ``until``, the primary is down."""

    until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, seconds: float) -> float:
        with self._lock:
            self.until = time.monotonic() + max(0.0, seconds)
            return self.until

    def active(self) -> bool:
        return time.monotonic() < self.until

    def remaining(self) -> float:
        return max(0.0, self.until - time.monotonic())


@dataclass
class DemoState:
    memory: ConversationMemory = field(default_factory=ConversationMemory)
    alerts: AlertLog = field(default_factory=AlertLog)
    load: LoadGate = field(default_factory=LoadGate)
    outage: Outage = field(default_factory=Outage)
