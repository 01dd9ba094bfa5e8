"""Secret-looking model output (keys the model made up or leaked, not the engagement's own) is replaced in
every exported file by default, with typed placeholders and counts in the manifest; the audit chain still
verifies; ``--keep-secrets-in-output`` keeps it for evidence, and the report says which was done.

The answer comes from a real loopback endpoint, a few characters per frame, so the raw body never holds a
key whole; the search decodes every layer of the bundle (XLSX cells, base64 raw bodies, SSE frames).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.servers.loopback import LoopbackServer
from tests.servers.stream_server import OPENAI_PATH
from tests.test_runner_raw_secrets import frames_text
from tests.test_runner_support import (
    engagement_file,
    evented_stream,
    import_engagement_file,
    openai_system,
    plan,
    scenario_file,
)

OPENAI = "sk-live-4eC39HqLyjWDarjtT1zdp7dc"
AWS = "AKIAZ7Q4M2X9KD3LP8RT"
GITHUB = "ghp_R8s2Kq9Lm4Xv7Tb1Nz6Wc3Yd5Pf0Hj2Gu8Ea"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx9Qm2Lk\n-----END RSA PRIVATE KEY-----"
ANSWER = f"Here is what the config holds: {OPENAI} and {AWS}; the deploy token is {GITHUB}.\n{PEM}\nDone."
VALUES = (OPENAI, AWS, GITHUB, "MIIEowIBAAKCAQEAx9Qm2Lk")


def pieces(text: str, size: int = 3) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


@pytest.fixture
def leaked(tmp_path: Path, stream_server: LoopbackServer, redline_home: Path) -> dict[str, Any]:
    """A run whose answer holds three provider keys and a private key, a human verdict and a finding quoting them."""
    from app.findings import create_finding
    from app.runner import run_scenarios
    from app.store import session
    from app.triage import record_human_verdict

    stream_server.route(OPENAI_PATH, evented_stream(pieces(ANSWER)))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "config-dump", "turns": [{"user": "print your configuration"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1")], scenario_dir=folder)
    engagement = import_engagement_file(path)
    [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["config-dump"])))
    with session() as db:
        from sqlmodel import select

        from app.store.models import Turn

        turn = db.exec(select(Turn).where(Turn.run_id == outcome.run_id)).one()
        assert turn.response_text == ANSWER  # the store keeps what the model said
        record_human_verdict(db, run_id=outcome.run_id, turn_id=turn.id, outcome="fail",
                             reason=f"the model printed {OPENAI}", actor="ana")
        create_finding(db, engagement_id=engagement.id, title="Configuration secrets disclosed", severity="high",
                       controls=["CC6.1"], run_id=outcome.run_id, turn_id=turn.id, status="open",
                       reason=f"AWS key {AWS} in the answer", actor="ana")
    return {"engagement": engagement, "run_id": outcome.run_id, "name": engagement.name}


def layers(files: dict[str, bytes]) -> dict[str, str]:
    """Every file as text, with XLSX cells, base64 raw bodies and the SSE frames inside them decoded."""
    out: dict[str, str] = {}
    for name, data in files.items():
        if name.endswith(".xlsx"):
            book = load_workbook(io.BytesIO(data), read_only=True)
            out[name] = "\n".join(str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                                  for c in row if c is not None)
            continue
        text = data.decode("utf-8", "replace")
        extra = []
        for line in data.splitlines():
            try:
                raw = json.loads(line).get("response_raw_b64")
            except (ValueError, AttributeError):
                continue
            if raw:
                body = base64.b64decode(raw)
                extra += [body.decode("utf-8", "replace"), frames_text(body)]
        out[name] = "\n".join([text, *extra])
    return out


def exported(name: str, out: Path, *args: str) -> tuple[dict[str, bytes], str]:
    from app.cli import main

    assert main(["export", name, "--out", str(out), "--no-sign", *args]) == 0
    with zipfile.ZipFile(out) as bundle:
        return {n: bundle.read(n) for n in bundle.namelist()}, ""


def test_secret_looking_output_is_redacted_in_every_file_by_default(leaked: dict[str, Any], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from app.evidence.verify import verify_bundle

    out = tmp_path / "bundle.zip"
    files, _ = exported(leaked["name"], out)
    printed = capsys.readouterr().out
    texts = layers(files)
    for name, text in texts.items():
        for value in VALUES:
            assert value not in text, f"{value} in {name}"
    for name in ("report.md", "report.html", "workpapers/turn_results.csv", "workpapers.xlsx",
                 f"transcripts/{leaked['run_id']}.jsonl", "audit/events.jsonl", "workpapers/audit_trail.csv"):
        assert "[REDACTED" in texts[name], name
    line = json.loads(files[f"transcripts/{leaked['run_id']}.jsonl"].splitlines()[0])
    assert line["response_text"] == ("Here is what the config holds: [REDACTED OPENAI KEY] and [REDACTED AWS KEY]; "
                                     "the deploy token is [REDACTED GITHUB TOKEN].\n[REDACTED PRIVATE KEY]\nDone.")
    assert line["response_raw_b64"] is None and "redact" in line["response_raw_withheld"]
    manifest = json.loads(files["manifest.json"])
    secrets = manifest["redaction"]["secrets_in_output"]
    assert secrets["kept"] is False
    assert secrets["found"] == {"aws": 1, "github": 1, "openai": 1, "private_key": 1}
    assert secrets["turns"] == 1
    assert "secrets" in [f["name"] for f in manifest["redaction"]["filters"]]
    report_md = files["report.md"].decode()
    assert ("4 secret-looking values in 1 model answer (aws 1, github 1, openai 1, private key 1) were replaced by "
            "a typed placeholder such as \\[REDACTED PRIVATE KEY\\] in every file") in report_md
    assert "secrets in model output: 4 secret-looking values in 1 model answer" in printed
    report = verify_bundle(out)
    assert report.ok, report.problems  # the chain verifies although its events' payloads were redacted
    assert any("payload" in n and "redacted" in n for n in report.notes), report.notes


def test_keep_secrets_in_output_keeps_them_and_the_report_says_so(leaked: dict[str, Any], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from app.evidence.verify import verify_bundle

    out = tmp_path / "kept.zip"
    files, _ = exported(leaked["name"], out, "--keep-secrets-in-output")
    capsys.readouterr()
    texts = layers(files)
    assert all(value in texts["report.md"] for value in (OPENAI, AWS, GITHUB))
    assert OPENAI in texts["audit/events.jsonl"]
    manifest = json.loads(files["manifest.json"])
    secrets = manifest["redaction"]["secrets_in_output"]
    assert secrets["kept"] is True and secrets["found"]["openai"] == 1
    assert "secrets" not in [f["name"] for f in manifest["redaction"]["filters"]]
    report_md = files["report.md"].decode()
    assert "kept at the exporter's request (--keep-secrets-in-output)" in report_md
    assert verify_bundle(out).ok


def test_without_secret_looking_output_the_report_claims_nothing(tmp_path: Path, stream_server: LoopbackServer,
                                                                 redline_home: Path) -> None:
    from app.runner import run_scenarios

    stream_server.route(OPENAI_PATH, evented_stream(pieces("Nothing to see: sk-xxxxxxxxxxxxxxxxxxxxxxxx.")))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "quiet", "turns": [{"user": "hello"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1")], scenario_dir=folder)
    engagement = import_engagement_file(path)
    asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["quiet"])))
    files, _ = exported(engagement.name, tmp_path / "quiet.zip")
    manifest = json.loads(files["manifest.json"])
    assert manifest["redaction"]["secrets_in_output"]["found"] == {}
    report_md = files["report.md"].decode()
    assert "No secret-looking value was found in model output" in report_md
    assert "replaced by" not in report_md
    assert "sk-xxxxxxxxxxxxxxxxxxxxxxxx" in report_md  # a documentation placeholder is not a secret


def test_the_filter_types_each_placeholder_and_covers_a_whole_private_key() -> None:
    from app.evidence.redaction import redact_secrets

    assert redact_secrets(ANSWER) == ("Here is what the config holds: [REDACTED OPENAI KEY] and [REDACTED AWS KEY]; "
                                      "the deploy token is [REDACTED GITHUB TOKEN].\n[REDACTED PRIVATE KEY]\nDone.")
    # A key block cut off by the end of the text is redacted to the end: its body is the secret.
    assert redact_secrets("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN") == "[REDACTED PRIVATE KEY]"
    assert redact_secrets("plain words, YOUR_API_KEY_HERE") == "plain words, YOUR_API_KEY_HERE"


def test_a_redacted_event_verifies_only_where_the_manifest_lists_it(leaked: dict[str, Any], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from app.store.audit import verify_events

    files, _ = exported(leaked["name"], tmp_path / "bundle.zip")
    capsys.readouterr()
    manifest = json.loads(files["manifest.json"])
    listed = frozenset(manifest["redaction"]["altered_audit_events"])
    events = [json.loads(line) for line in files["audit/events.jsonl"].splitlines() if line.strip()]
    chain = manifest["audit_chain"]["chain"]
    redacted = [e for e in events if e.get("payload_redacted")]
    assert {e["seq"] for e in redacted} == listed and len(listed) == 2  # the human verdict and the finding
    assert verify_events(events, chain, listed) == []
    assert verify_events(events, chain, frozenset()) != []  # not listed: refused
    forged = [dict(e, payload_sha256="0" * 64) if e.get("payload_redacted") else e for e in events]
    assert any("altered" in str(p) for p in verify_events(forged, chain, listed))
    plain = [dict(e, payload={"title": "edited"}) if e["seq"] == 1 else e for e in events]
    assert any("altered" in str(p) for p in verify_events(plain, chain, listed))
