"""Regenerate the README's pictures of the report: a page of report.pdf and a screenshot of report.html.

Runs the demo engagement in a temporary store (the real runner against the
built-in demo AI system, on 127.0.0.1), exports it with ``--pdf``, then:

- ``pdftoppm`` (Debian's poppler-utils) turns the first page of the findings
  into ``assets/report-pdf-page.png``;
- headless Chromium (Debian's chromium) takes ``assets/report-html.png`` of the
  HTML report at 1280 x 900 (its cover and contents).

    .venv/bin/pip install '.[pdf]' && .venv/bin/python tools/report_pictures.py

Nothing is fetched: the report has no remote resources, and Chromium runs
with a fresh profile and its background networking off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    sys.exit(f"needs {names[0]} (apt-get install {'poppler-utils' if names[0] == 'pdftoppm' else names[0]})")


def build_bundle(work: Path) -> Path:
    """The demo engagement run and exported, in a store under ``work``."""
    os.environ["REDLINE_HOME"] = str(work / "home")
    os.environ.setdefault("REDLINE_TESTER", "ana")
    sys.path.insert(0, str(ROOT))
    from app.cli import main

    main(["run", "demo"])
    out = work / "demo.zip"
    if main(["export", "demo", "--out", str(out), "--pdf"]) != 0:
        sys.exit("export failed")
    with zipfile.ZipFile(out) as archive:
        archive.extractall(work / "bundle")
    return work / "bundle"


def findings_page(pdf: Path) -> int:
    import pdfplumber

    with pdfplumber.open(pdf) as document:
        for number, page in enumerate(document.pages, start=1):
            if "4. Findings" in (page.extract_text() or "") and number > 2:
                return number
    return 1


def main() -> None:
    pdftoppm, chromium = _tool("pdftoppm"), _tool("chromium", "chromium-browser")
    with tempfile.TemporaryDirectory(prefix="redline-pictures-") as tmp:
        bundle = build_bundle(Path(tmp))
        page = findings_page(bundle / "report.pdf")
        subprocess.run([pdftoppm, "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile",
                        str(bundle / "report.pdf"), str(ASSETS / "report-pdf-page")], check=True)
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}",
                        "--window-size=1280,900", f"--screenshot={ASSETS / 'report-html.png'}",
                        (bundle / "report.html").as_uri()], check=True, capture_output=True, timeout=180)
    print(f"wrote {ASSETS / 'report-pdf-page.png'} (PDF page {page}) and {ASSETS / 'report-html.png'}")


if __name__ == "__main__":
    main()
