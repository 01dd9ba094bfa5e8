"""The bundle does not change: every file of five exports of a frozen store hashes as recorded.

The store and the hashes are in ``tests/data/golden_bundle`` (see
``tests/golden_bundle.py`` for how they were made and when to record them
again). Only the manifest's export time and exporter are left out; the
manifest's file list, with every file's hash, is compared with the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden_bundle import CANARY, CANARY_ENV, EXPECTED, VARIANTS, export_hashes, use_store


def test_every_export_variant_writes_the_recorded_bytes(redline_home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CANARY_ENV, CANARY)
    use_store(redline_home)
    expected = json.loads(EXPECTED.read_text())
    assert set(expected) == set(VARIANTS)
    found = export_hashes(redline_home, tmp_path)
    for variant, files in expected.items():
        assert list(found[variant]) == list(files), f"{variant}: the bundle's files or their order changed"
        changed = [path for path, digest in files.items() if found[variant][path] != digest]
        assert not changed, f"{variant}: these files no longer match the recorded bytes: {changed}"
