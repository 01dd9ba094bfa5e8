"""Untrusted text as cells and lines: always a ``rich.text.Text``, never markup.

DataTable and Static parse plain strings as markup, so a scenario title like
``[bold]`` or a model reply with escape sequences would be interpreted.
Everything user- or model-supplied goes through these helpers.
"""

from __future__ import annotations

from rich.text import Text

from app.text import for_terminal, one_line

RESULT_STYLES: dict[str, str] = {
    "pass": "green", "fail": "bold red", "review": "yellow", "error": "magenta", "not tested": "dim",
}
RESULT_MARKS: dict[str, str] = {"pass": "✓", "fail": "✗", "review": "?", "error": "!", "not tested": "·"}


def cell(value: object, limit: int = 60, style: str = "") -> Text:
    """One table cell: single line, control characters made visible, cut with an ellipsis."""
    return Text(one_line("" if value is None else str(value), limit), style=style, no_wrap=True)


def literal(value: object, style: str = "") -> Text:
    """Multi-line literal text (escape sequences stripped, markup characters kept as characters)."""
    return Text(for_terminal("" if value is None else str(value)), style=style)


def result_cell(result: str, detail: str = "") -> Text:
    """A pass/fail/not-tested mark, coloured, with an optional count like ``2/3``."""
    mark = RESULT_MARKS.get(result, "?")
    return Text(f"{mark} {detail}".rstrip(), style=RESULT_STYLES.get(result, ""), no_wrap=True)
