"""Where the shipped data lives, installed or in a checkout.

A wheel carries ``assets/`` and ``scenarios/`` inside the package as ``app/_data/``
(see pyproject's force-include); a source checkout keeps them at the top level.
Every reader of shipped data goes through here, so there is one rule for both.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_root(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def assets_dir() -> Path:
    """The folder holding the catalog, TCSS, report templates and examples."""
    return _data_root("assets")


def scenarios_dir() -> Path:
    """The bundled YAML scenario library."""
    return _data_root("scenarios")
