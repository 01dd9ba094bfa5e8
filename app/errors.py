"""Errors the user can act on. The CLI prints them plainly and exits with their code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


class RedlineError(Exception):
    """A problem the user caused or can fix: printed without a traceback."""

    exit_code = 2


class UsageError(RedlineError):
    exit_code = 2


@dataclass
class Problem:
    """One located problem in a user file."""

    path: str
    line: Optional[int]  # 1-based
    column: Optional[int]  # 1-based
    field: str  # dotted path, e.g. "systems[0].target.api_key"; "" for the whole document
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        subject = f"field '{self.field}': " if self.field else ""
        return f"{where}: {subject}{self.message}"


class FileFormatError(RedlineError):
    """A malformed engagement, scenario, catalog or matrix file. Nothing was written."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
