"""Fitting table columns to the terminal: fixed columns keep their width, one flexible column takes the rest.

DataTable otherwise sizes columns to their longest cell and scrolls sideways,
which at 80 columns hides the column that matters. Widths here are content
widths; DataTable adds one cell of padding on each side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PADDING = 2  # DataTable's default cell padding, both sides
SCROLLBAR = 2  # room for a vertical scrollbar when the rows overflow


def fit_columns(available: int, wanted: Sequence[int], flex: int, minimum: int = 8) -> list[int]:
    """Content widths for each column; ``wanted[flex]`` is the flexible column's preferred maximum."""
    fixed = sum(w for i, w in enumerate(wanted) if i != flex)
    rest = available - SCROLLBAR - fixed - PADDING * len(wanted)
    widths = list(wanted)
    widths[flex] = max(minimum, min(wanted[flex], rest))
    return widths


def share_width(available: int, content: Sequence[int], minimum: Sequence[int]) -> list[int] | None:
    """Content widths that fit ``available`` cells: each column gets its ``minimum``, then spare width goes
    to the columns whose ``content`` is wider, in column order (the first column is the one a tester reads
    first, the run's id), until each shows all of it.

    None when even the minimums do not fit (the caller shows fewer columns). A
    column whose minimum is its content (a state) is therefore never cut.
    """
    widths = list(minimum)
    spare = available - SCROLLBAR - PADDING * len(widths) - sum(widths)
    if spare < 0:
        return None
    for i, wanted in enumerate(content):
        give = min(max(0, wanted - widths[i]), spare)
        widths[i] += give
        spare -= give
    return widths


def set_columns(table: Any, labels: Sequence[str], widths: Sequence[int]) -> None:
    """Replace the table's columns (and rows) with fixed-width ones."""
    table.clear(columns=True)
    for label, width in zip(labels, widths, strict=True):
        table.add_column(label, width=width)
