"""Calling the core from the cockpit: one committed transaction per action, and errors shown as written.

The app, every screen and the widgets that save (the run queue) share these; they
sit below all of them so none has to import a screen to reach the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from app.errors import RedlineError
from app.text import for_terminal

if TYPE_CHECKING:
    from sqlmodel import Session

T = TypeVar("T")


def with_store(action: Callable[[Session], T]) -> T:
    """Run ``action`` in one committed transaction (rolled back if it raises)."""
    from app.store.engine import session

    with session() as db:
        return action(db)


def report_error(node: Any, exc: BaseException, title: str = "") -> None:
    """Show an error exactly as written (file:line messages included), never as markup."""
    message = str(exc) if isinstance(exc, RedlineError) else f"{type(exc).__name__}: {exc}"
    node.notify(for_terminal(message), title=title, severity="error", markup=False, timeout=12)


def try_store(node: Any, action: Callable[[Session], T], title: str = "") -> T | None:
    """``with_store`` for user actions: a RedlineError becomes a literal notification and None."""
    try:
        return with_store(action)
    except RedlineError as exc:
        report_error(node, exc, title)
        return None
