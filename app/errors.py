"""Errors the user can act on. The CLI prints them plainly and exits with their code."""

from __future__ import annotations

from dataclasses import dataclass


class RedlineError(Exception):
    """A problem the user caused or can fix: printed without a traceback."""

    exit_code = 2


class UsageError(RedlineError):
    exit_code = 2


@dataclass
class Problem:
    """One located problem in a user file."""

    path: str
    line: int | None  # 1-based
    column: int | None  # 1-based
    field: str  # dotted path, e.g. "systems[0].target.api_key"; "" for the whole document
    message: str
    kind: str = "field"  # what ``field`` names: "field" in YAML, "column" in a spreadsheet

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        subject = f"{self.kind} '{self.field}': " if self.field else ""
        return f"{where}: {subject}{self.message}"


class FieldValueError(ValueError):
    """A validator's error about one part of the model, not the whole of it.

    Raised inside a pydantic validator, it lets the YAML loader point at the
    offending entry (``at`` is a data path relative to the model, e.g.
    ``("windows", 2, "end")``) instead of at the top of the mapping.
    """

    def __init__(self, message: str, *, at: tuple[str | int, ...] = ()):
        super().__init__(message)
        self.at = at


class FileFormatError(RedlineError):
    """A malformed engagement, scenario, catalog or matrix file. Nothing was written."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
