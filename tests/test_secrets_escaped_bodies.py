"""A body that is not streamed (a model listing, a raw ``http`` step) is kept as the endpoint sent it, and
JSON may spell a key there with ``\\u`` escapes. The secret rules read such a body with its escapes undone:
the ``secret`` detector fails the turn, the export ships the key in no file (in any spelling), and the
engagement's own key, echoed that way, is not kept in the store's text or raw body.

The endpoint is a real loopback server; the bodies are written by hand, escapes and all.
"""

from __future__ import annotations

import asyncio
import re
import zipfile
from pathlib import Path
from typing import Any

from tests.servers.loopback import LoopbackServer, Received, Reply
from tests.test_evidence_secret_output import layers
from tests.test_runner_support import engagement_file, import_engagement_file, openai_system, plan, scenario_file

KEY = "sk-proj-7Tq2Wm9Xk4Rz8Lp3Vn6Bd1Hc"  # an OpenAI-shaped key the endpoint leaks
OWN_KEY = "rl-live-Qz7Wx3Kp9Tn2Vb8Rm4Ys6Hd"  # the engagement's own key: no provider shape, redacted by value


def escaped(value: str, every: bool = False) -> str:
    """``value`` as JSON may write it: its 'p' (or every character) as a \\u escape."""
    return "".join(f"\\u{ord(c):04x}" if every or c == "p" else c for c in value)


def json_body(text: str) -> Reply:
    return Reply(chunks=[text.encode()], content_type="application/json", framing="length")


def unescaped(text: str) -> str:
    """The test's own reading of \\u escapes (not the code under test): what a reader of a file would see."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def run(tmp_path: Path, server: LoopbackServer, steps: list[dict[str, Any]], **target: Any) -> tuple[Any, Any]:
    from app.runner import run_scenarios

    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "bodies", "steps": steps, "detectors": [{"type": "secret"}]})
    engagement = import_engagement_file(engagement_file(tmp_path, [openai_system("bot", server.url + "/v1", **target)],
                                                        scenario_dir=folder))
    [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["bodies"])))
    return engagement, outcome


def stored(run_id: int) -> list[Any]:
    from sqlmodel import select

    from app.store import session
    from app.store.models import Turn, Verdict

    with session() as db:
        turns = db.exec(select(Turn).where(Turn.run_id == run_id).order_by(Turn.step)).all()
        verdicts = {v.turn_id: v for v in db.exec(select(Verdict).where(Verdict.run_id == run_id)).all()}
        return [(t, verdicts.get(t.id)) for t in turns]


def test_a_key_escaped_in_a_listing_or_http_body_fails_the_turn_and_leaves_in_no_exported_file(
        tmp_path: Path, stream_server: LoopbackServer) -> None:
    from app.cli import main

    note = '{"owner": "ops", "note": "rotate ' + escaped(KEY) + ' on friday"}'
    listing = '{"object": "list", "data": [{"id": "acme-support-1"}, {"id": "' + escaped(KEY, every=True) + '"}]}'
    stream_server.route("/v1/notes", json_body(note))
    stream_server.route("/v1/models", json_body(listing))
    engagement, outcome = run(tmp_path, stream_server, [{"type": "http", "method": "GET", "path": "/notes"},
                                                        {"type": "list_models"}])
    (http_turn, http_verdict), (listing_turn, listing_verdict) = stored(outcome.run_id)
    # The store keeps the bodies as received; the detector reads them with their escapes undone.
    assert http_turn.response_text == note and http_turn.response_raw == note.encode()
    assert listing_turn.response_raw == listing.encode()
    assert (http_verdict.outcome, http_verdict.reason) == ("fail", "OpenAI-style API key found")
    assert http_verdict.evidence["quote"] == escaped(KEY)  # the key as the body spells it
    assert (listing_verdict.outcome, outcome.verdict) == ("fail", "fail")

    out = tmp_path / "bundle.zip"
    assert main(["export", engagement.name, "--out", str(out), "--no-sign"]) == 0
    with zipfile.ZipFile(out) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    texts = layers(files)  # XLSX cells and base64 raw bodies decoded
    for name, text in texts.items():
        for spelling in (KEY, escaped(KEY), escaped(KEY, every=True)):
            assert spelling not in text, f"{spelling} in {name}"
        assert KEY not in unescaped(text), name
        assert KEY not in unescaped(unescaped(text).replace("\\\\", "\\")), name  # escapes inside JSON strings
    transcript = texts[f"transcripts/{outcome.run_id}.jsonl"]
    assert "[REDACTED OPENAI KEY]" in transcript and "response_raw_withheld" in transcript


def test_the_engagements_own_key_echoed_with_escapes_is_not_kept(tmp_path: Path, stream_server: LoopbackServer,
                                                                   monkeypatch: Any) -> None:
    """A key the endpoint was sent, echoed back escaped, leaves neither the text nor the raw body of the store."""
    import hashlib

    monkeypatch.setenv("RL_TEST_OWN_KEY", OWN_KEY)
    sent: list[bytes] = []

    def echo(request: Received) -> Reply:
        key = request.headers["authorization"].split(" ", 1)[1]
        body = ('{"you": "' + escaped(key, every=True) + '", "ok": true}').encode()
        sent.append(body)
        return Reply(chunks=[body], content_type="application/json", framing="length")

    stream_server.route("/v1/whoami", echo)
    _, outcome = run(tmp_path, stream_server, [{"type": "http", "method": "GET", "path": "/whoami"}],
                     api_key={"env": "RL_TEST_OWN_KEY"})
    [(turn, _)] = stored(outcome.run_id)
    assert turn.response_text == '{"you": "[REDACTED]", "ok": true}'
    assert turn.response_raw is None
    assert "escapes" in turn.raw_withheld and hashlib.sha256(sent[0]).hexdigest() in turn.raw_withheld


def test_escapes_are_undone_and_each_find_maps_back_to_its_spelling() -> None:
    from app.escapes import unescaped as undo
    from app.evidence.redaction import redact_secrets

    text = '{"a": "\\ud83d\\ude00 ' + escaped(KEY) + '\\n", "b": "c:\\\\users\\\\x"}'
    decoded = undo(text)
    assert decoded is not None and decoded.text == '{"a": "\U0001F600 ' + KEY + '\n", "b": "c:\\users\\x"}'
    start = decoded.text.index(KEY)
    span = decoded.written((start, start + len(KEY)))
    assert text[span[0]:span[1]] == escaped(KEY)
    assert redact_secrets(text) == '{"a": "\\ud83d\\ude00 [REDACTED OPENAI KEY]\\n", "b": "c:\\\\users\\\\x"}'
    assert undo("no escapes here") is None and undo("a lone \\ backslash") is None
