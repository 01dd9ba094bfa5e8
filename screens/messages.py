"""Messages the cockpit's screens and widgets exchange.

Plain Textual messages, kept in one place so a screen can react to another's
change without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class EngagementChanged(Message):
    """Something in the engagement's alignment was saved; views of it should reload."""

    engagement_id: int
    what: str = ""  # systems | controls | timing | evidence | ""


@dataclass
class StepCompleted(Message):
    """A wizard step was marked done (the rail updates its tick, the wizard moves on)."""

    step: str


@dataclass
class StoreFailed(Message):
    """The store could not be opened at start-up (e.g. a database from a newer Redline)."""

    error: str
