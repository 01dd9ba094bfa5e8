"""``report.pdf``: the HTML report printed by an engine that implements CSS paged media.

The HTML report carries its own print design (``@page`` margins, page
numbers, a running header, a table of contents with page numbers, stacked
records for wide tables), so the PDF is that page printed, not a second
layout to keep in step. WeasyPrint does the printing: it implements page
counters, margin boxes and ``target-counter``, and runs without a browser.

It is an optional extra (``pip install 'redline[pdf]'``): the bundle needs no
PDF engine, and ``--pdf`` says how to install one when it is missing. The
engine is given no base URL and a fetcher that refuses every URL, so printing
never reads a file or the network: fonts come from the system (fontconfig).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from app.evidence.collect import ExportError

INSTALL = ("report.pdf needs WeasyPrint: pip install 'redline[pdf]' (it draws text with the system's Pango: "
           "on Debian or Ubuntu apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core; "
           "on macOS brew install pango)")


class PdfEngineMissing(ExportError):
    """``--pdf`` was asked for where WeasyPrint (or the system library it draws with) is not installed."""


def _engine() -> Any:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Python package is there, Pango is not
        raise PdfEngineMissing(f"{INSTALL}. ({type(exc).__name__}: {exc})") from None
    return weasyprint


def require_engine() -> None:
    """Fail before anything is written when the PDF engine cannot be loaded."""
    _engine()


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"the report fetches nothing at render time (refused {url[:80]})")


def write_pdf(html_path: Path, out: Path) -> int:
    """Print the report at ``html_path`` to ``out``; returns the page count.

    The same HTML always prints to the same bytes (WeasyPrint stamps no date).
    """
    weasyprint = _engine()
    document = weasyprint.HTML(string=html_path.read_text(encoding="utf-8"), base_url=None,
                               url_fetcher=_refuse).render()
    document.write_pdf(out)
    return len(document.pages)
