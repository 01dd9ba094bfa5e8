"""Every relative link in README.md and docs/*.md resolves: the file exists, and so does the #anchor it names.

Anchors are computed as GitHub (and most docs sites) compute them from headings:
lower case, punctuation dropped, spaces to hyphens, ``-1``, ``-2`` for repeats.
Links inside fenced code are not links. Web links are not fetched.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _outside_fences(text: str) -> list[tuple[int, str]]:
    """(line number, line) for every line outside fenced code."""
    lines, fence = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fence = not fence
        elif not fence:
            lines.append((number, line))
    return lines


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _outside_fences(path.read_text(encoding="utf-8")):
        heading = re.match(r"^#{1,6} (.*)$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, line in _outside_fences(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{path.name}:{number}: {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{path.name}:{number}: {target}: no heading '#{anchor}' in {linked.name}")
    return problems


PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_checker_sees_a_broken_file_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A section: with `code`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-section-with-code) [gone](missing.md) [bad](other.md#nowhere)\n"
                    "```\n[inside a fence](missing.md)\n```\n[web](https://example.com/x)\n", encoding="utf-8")
    assert broken_links(page) == ["page.md:1: missing.md: no such file",
                                  "page.md:1: other.md#nowhere: no heading '#nowhere' in other.md"]


def test_the_readme_stays_a_first_day_read() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) < 300
