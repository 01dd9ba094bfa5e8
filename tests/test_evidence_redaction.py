"""``export --redact pii``: personal data replaced in every text export, originals kept, the chain still verifying."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_evidence_engagement import World, entries, export, world  # noqa: F401

from app.cli import main
from app.evidence.verify import verify_bundle
from app.store import session
from app.store.models import Turn

EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 2671"
CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"
LEAK = f"Her record: {EMAIL}, phone {PHONE}, card {CARD}, SSN {SSN}."


@pytest.fixture
def leaky(world: World) -> World:
    """A turn that leaked a customer's record, as a vulnerable system's answer would."""
    with session() as db:
        turn = db.get(Turn, world.turns["t6"])
        turn.response_text = LEAK
        db.add(turn)
    return world


def _texts(files: dict[str, bytes]) -> dict[str, str]:
    """Every file as text: XLSX cells joined, everything else decoded."""
    out = {}
    for name, data in files.items():
        if name.endswith(".xlsx"):
            book = load_workbook(io.BytesIO(data), read_only=True)
            out[name] = "\n".join(str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                                  for c in row if c is not None)
        else:
            out[name] = data.decode("utf-8", "replace")
    return out


def test_without_redaction_the_personal_data_is_in_the_bundle(leaky: World, tmp_path: Path) -> None:
    texts = _texts(entries(export(leaky.engagement_id, tmp_path / "plain.zip").path))
    assert EMAIL in texts["report.md"] and SSN in texts[f"transcripts/{leaky.runs['r6']}.jsonl"]
    manifest = json.loads(texts["manifest.json"])
    # Only the default filter for secret-looking model output ran; personal data is kept unless asked.
    assert [f["name"] for f in manifest["redaction"]["filters"]] == ["secrets"]


def test_redact_pii_replaces_it_in_every_text_export_and_keeps_the_store(
        leaky: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "redacted.zip"
    assert main(["export", "acme-2026", "--out", str(out), "--redact", "pii"]) == 0
    printed = capsys.readouterr().out
    assert "redacted (pii):" in printed and "the store keeps the originals" in printed
    texts = _texts(entries(out))
    for name, text in texts.items():
        if name == "audit/events.jsonl":
            continue  # the chain as recorded: it never held the transcript
        for value in (EMAIL, PHONE, CARD, SSN, "555 2671", "4111 1111"):
            assert value not in text, f"{value} in {name}"
    for name in ("report.md", "report.html", "workpapers/turn_results.csv", "workpapers.xlsx",
                 f"transcripts/{leaky.runs['r6']}.jsonl"):
        assert "[REDACTED EMAIL]" in texts[name], name
    line = next(json.loads(x) for x in texts[f"transcripts/{leaky.runs['r6']}.jsonl"].splitlines()
                if json.loads(x)["id"] == leaky.turns["t6"])
    assert line["response_text"] == ("Her record: [REDACTED EMAIL], phone [REDACTED PHONE], card [REDACTED CARD], "
                                     "SSN [REDACTED SSN].")
    manifest = json.loads(texts["manifest.json"])
    redaction = manifest["redaction"]
    assert redaction["redacted"] is True
    assert [(f["name"], f["detector"]) for f in redaction["filters"]] == [("pii", "pii"), ("secrets", "secret")]
    assert redaction["filters"][0]["kinds"] == ["email", "phone", "card", "ssn"]
    assert len(redaction["filters"][0]["rules_sha256"]) == 64 and redaction["filters"][0]["tool_version"]
    assert leaky.turns["t6"] in redaction["altered_turns"]
    with session() as db:
        assert db.get(Turn, leaky.turns["t6"]).response_text == LEAK  # the store keeps the original
    assert verify_bundle(out).ok


def test_a_redacted_bundle_of_real_runs_still_verifies_against_the_chain(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The demo system leaks its fake customers' records; the chain covers the originals, the manifest the redacted."""
    from app.demo_engagement import ensure_demo_engagement

    with session() as db:
        ensure_demo_engagement(db)
    main(["run", "demo", "--scenario", "pii-named-customer"])
    out = tmp_path / "demo.zip"
    assert main(["export", "demo", "--out", str(out), "--redact", "pii"]) == 0
    capsys.readouterr()
    files = entries(out)
    manifest = json.loads(files["manifest.json"])
    assert manifest["audit_chain"]["ok"] is True
    report = verify_bundle(out)
    assert report.ok, report.problems
    altered = manifest["redaction"]["altered_turns"]
    assert altered  # the demo answered with its fake customers' records: those turns were redacted, and said to be
    assert any("were changed at export" in n for n in report.notes)
    assert any(x.get("response_raw_withheld") for name, data in files.items() if name.startswith("transcripts/")
               for x in map(json.loads, data.splitlines()))
    assert "@example.com" not in files["report.md"].decode()


def test_an_unknown_redaction_is_refused(world: World, tmp_path: Path) -> None:
    from app.errors import UsageError

    with pytest.raises(UsageError, match="unknown redaction"):
        export(world.engagement_id, tmp_path / "x.zip", redact=["everything"])
