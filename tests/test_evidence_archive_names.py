"""The bundle refuses a second entry of one name, by a set of the names written, not a scan of every entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.evidence.archive import BundleArchive


class _NoScan(list):
    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the entries were scanned to look for a duplicate name")


def test_a_duplicate_name_is_refused_without_scanning_the_entries(tmp_path: Path) -> None:
    archive = BundleArchive(tmp_path / "b.zip")
    try:
        archive.write_chunks("a.txt", ["one"])
        archive.entries = _NoScan(archive.entries)
        archive.write_chunks("b.txt", ["two"])
        with pytest.raises(ValueError, match="duplicate bundle entry a.txt"):
            archive.write_chunks("a.txt", ["again"])
        assert [e.path for e in list.__iter__(archive.entries)] == ["a.txt", "b.txt"]
    finally:
        archive.abort()
