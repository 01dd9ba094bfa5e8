"""What a run in progress keeps of its turns, and the part of a run that each kind of step uses.

The records (:class:`TurnLog`, :class:`PriorTurn`) are read by judging, the
reproduction steps and the CI transcript as well as by the run itself, so they
live here rather than beside the streaming code. :class:`RunInProgress` names
what a step module (:mod:`app.runner.burst`, :mod:`app.runner.calls`) asks of
the :class:`~app.runner.live.LiveRun` driving it, so those modules need not
import the run that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.events import RunnerEvent
    from app.formats.scenario import ScenarioSpec
    from app.runner.record import SecretScrubber
    from app.runner.writer import StoreWriter
    from app.store.models import AISystem
    from app.targets.base import ChatRequest, Target

Emit = Callable[["RunnerEvent"], None] | None


@dataclass
class PriorTurn:
    """A turn finished before the run was interrupted; a resumed run does not redo it."""

    status: str
    text: str
    http_status: int | None


@dataclass
class TurnLog:
    """What a step sent, for the reproduction steps and the CI transcript."""

    step: int
    sample: int
    kind: str
    identity: str
    prompt: str
    turn_id: int | None = None
    status: str = ""
    response: str = ""
    error_type: str = ""
    total_ms: float | None = None
    tokens: int = 0


class RunInProgress(Protocol):
    """The run a step belongs to: where its turns are written, judged and announced."""

    @property
    def engine(self) -> Engine: ...
    @property
    def writer(self) -> StoreWriter: ...
    @property
    def run_id(self) -> int: ...
    @property
    def spec(self) -> ScenarioSpec: ...
    @property
    def system(self) -> AISystem: ...
    @property
    def target(self) -> Target: ...
    @property
    def scrubber(self) -> SecretScrubber: ...
    @property
    def emit(self) -> Emit: ...
    @property
    def prior(self) -> dict[tuple[int, int], PriorTurn]: ...
    @property
    def canaries(self) -> list[str]: ...
    @property
    def log(self) -> list[TurnLog]: ...
    @property
    def bursts(self) -> list[dict[str, Any]]: ...

    def label(self, identity: str) -> str: ...

    def forget(self, identity: str) -> None: ...

    def _stop(self) -> bool: ...

    async def _race(self, work: Any, deadline: float | None) -> bool: ...

    async def _chat_turn(self, index: int, sample: int, kind: str, identity: str, request: ChatRequest,
                         prompt: str, recall: list[str], deadline: float | None = None,
                         opened: tuple[int, list[dict[str, Any]]] | None = None) -> tuple[str, bool]: ...

