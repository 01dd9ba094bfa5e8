"""What a strategy is: one named transformation of an attack message, with its inverse where it has one.

Its own module so that the built-in families, the user's YAML templates and plugins can all name the type
without importing the package that collects them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAX_CHAIN = 4
FAMILIES = ("encoding", "obfuscation", "wrapper", "indirect", "turns", "language", "custom")


@dataclass(frozen=True)
class Strategy:
    """One named transformation; ``turns`` is set for the strategies that send several messages."""

    name: str
    family: str
    transform: Callable[[str], str]
    inverse: Callable[[str], str] | None = None
    summary: str = ""
    origin: str = "built-in"  # built-in, the YAML file it came from, or the entry point that supplied it
    turns: Callable[[str], list[str]] | None = None
    join: Callable[[list[str]], str] | None = None
