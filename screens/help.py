"""The help screen: every key of the screen it was opened from, and the keys that work everywhere.

It is built from the live bindings (not a hand-written list), so it cannot
drift from what the keys actually do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


@dataclass(frozen=True)
class KeyHelp:
    scope: str  # "this screen", "everywhere", or the focused widget's kind
    key: str  # as displayed, e.g. "^p"
    description: str
    node: Any = None  # where the action runs
    action: str = ""
    tooltip: str = ""


# Keys every Textual screen has; listed last so the screen's own keys come first.
_GENERIC_ACTIONS = {"focus_next", "focus_previous", "copy_text"}


def is_generic(action: str) -> bool:
    return action.rpartition(".")[2] in _GENERIC_ACTIONS


def _scope(node: Any, screen: Screen[Any]) -> str:
    if isinstance(node, App):
        return "everywhere"
    if node is screen:
        return "this screen"
    return type(node).__name__.lower()


def _screen_bindings(screen: Screen[Any]) -> list[Binding]:
    """The screen's own bindings, including keys a focused widget shadows (enter on a table)."""
    found: list[Binding] = []
    for cls in type(screen).__mro__:
        if not (isinstance(cls, type) and issubclass(cls, Screen)) or cls.__module__.startswith("textual."):
            continue
        found.extend(b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding))
    return found


def keys_of(screen: Screen[Any]) -> list[KeyHelp]:
    """Every key usable on ``screen``: its own first, then app-wide, then the focused widget's."""
    rows: list[KeyHelp] = []
    active = list(screen.active_bindings.values())
    shadowed = [(screen, b) for b in _screen_bindings(screen)]
    for node, binding in [(a.node, a.binding) for a in active if a.enabled] + shadowed:
        if binding.system or not binding.description:
            continue
        shown = binding.key_display or screen.app.get_key_display(binding)
        same = next((i for i, r in enumerate(rows) if r.node is node and r.action == binding.action), None)
        if same is not None:  # one action on two keys (q and ctrl+q): one line, both keys
            if shown not in rows[same].key.split(", "):
                rows[same] = KeyHelp(rows[same].scope, f"{rows[same].key}, {shown}", rows[same].description,
                                     node, binding.action, rows[same].tooltip or binding.tooltip)
            continue
        rows.append(KeyHelp(_scope(node, screen), shown, binding.description, node, binding.action,
                            binding.tooltip))
    order = {"this screen": 0, "everywhere": 1}
    rows.sort(key=lambda r: (is_generic(r.action), order.get(r.scope, 2)))
    return rows


class HelpScreen(ModalScreen[None]):
    """Modal list of keys; escape, q, ? or F1 closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("question_mark", "dismiss", "Close", key_display="?", show=False, id="help.close_again"),
        Binding("q", "dismiss", "Close", show=False, id="help.close_q"),
        Binding("f1", "dismiss", "Close", show=False, id="help.close_f1"),
    ]

    def __init__(self, title: str, keys: list[KeyHelp], about: str = "") -> None:
        super().__init__()
        self.help_title = title
        self.keys = keys
        self.about = about

    @classmethod
    def for_screen(cls, screen: Screen[Any]) -> HelpScreen:
        title = str(getattr(screen, "HELP_TITLE", "") or screen.sub_title or type(screen).__name__)
        about = str(getattr(screen, "HELP", "") or "")
        return cls(title, keys_of(screen), about)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(Text(f"Keys · {self.help_title}", style="bold"), id="help-title")
            if self.about:
                yield Static(Text(self.about), id="help-about")
            table: DataTable[Any] = DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            table.add_columns("key", "does", "where")
            for row in self.keys:
                table.add_row(Text(row.key, style="bold"), Text(row.description), Text(row.scope, style="dim"))
            yield table
            yield Static(Text("escape, ? or F1 closes this help · ctrl+p searches every action", style="dim"), id="help-hint")
