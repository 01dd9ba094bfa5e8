"""The values the demo model's rules pass around: a request, a reading of it, and a reply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.demo.reading import Reading
    from app.demo.state import ConversationMemory


@dataclass(frozen=True)
class Exchange:
    """One chat request as the model sees it."""

    messages: tuple[tuple[str, str], ...]  # (role, text), oldest first
    user: str
    hardened: bool
    model_version: str = "1"
    opted_out: bool = False

    @property
    def last_user(self) -> str:
        return next((text for role, text in reversed(self.messages) if role == "user"), "")

    @property
    def tool_results(self) -> list[str]:
        """What tools returned after the last user message: content the model reads but nobody vetted."""
        last = max((i for i, (role, _) in enumerate(self.messages) if role == "user"), default=-1)
        return [text for role, text in self.messages[last + 1:] if role == "tool"]

    @property
    def earlier_user_texts(self) -> list[str]:
        """The user's messages before the last one, oldest first."""
        return [text for role, text in self.messages if role == "user"][:-1]

    @property
    def earlier_user_turns(self) -> int:
        return max(0, sum(1 for role, _ in self.messages if role == "user") - 1)


@dataclass(frozen=True)
class Message:
    """The last user message in the forms the rules need."""

    raw: str
    text: str  # normalised, case kept
    low: str  # normalised, lower case
    readings: tuple[Reading, ...] = ()  # every way of reading it, as written first (app.demo.reading)

    @property
    def understood(self) -> tuple[Reading, ...]:
        """The readings other than the message as written: decoded, despaced, translated, joined."""
        return self.readings[1:]


@dataclass(frozen=True)
class Reply:
    text: str
    intent: str  # the rule that answered, e.g. "prompt_injection.direct"
    alert: tuple[str, str, str] | None = None  # hardened monitoring: (kind, variant, severity)
    crash: tuple[str, str] | None = None  # vulnerable 500: (exception line, failing source line)


Rule = Callable[[Exchange, Message, "ConversationMemory"], Reply | None]
