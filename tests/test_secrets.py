"""Key references resolve from the keyring or the environment, fail with a fix, and never leak."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail
from keyring.errors import KeyringError

from app.errors import RedlineError
from app.formats.engagement import KeyRef, TargetSpec
from app.secrets import (
    REDACTED,
    SecretResolver,
    SecretUnavailable,
    check_engagement_keys,
    env_fallback_name,
    keyring_problem,
    redact,
    redact_bytes,
    store_in_keyring,
)
from app.targets.factory import make_target
from tests.servers.stream_server import OPENAI_PATH, openai_stream
from tests.servers.turns import chat, run_turn

CANARY_KEY = "sk-canary-4b1d9e77c0a2f8d3"


class MemoryKeyring(KeyringBackend):
    """A working keyring that lives in memory: the OS keychain's stand-in on a headless test machine."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


class BrokenKeyring(MemoryKeyring):
    """A backend that exists but fails when used, like a locked or unreachable Secret Service."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("cannot reach the secret service")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError("cannot reach the secret service")


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    original = keyring.get_keyring()
    yield
    keyring.set_keyring(original)


def test_env_reference_resolves_and_is_remembered_for_redaction() -> None:
    resolver = SecretResolver(env={"ACME_KEY": CANARY_KEY})
    assert resolver.resolve(KeyRef(env="ACME_KEY")) == CANARY_KEY
    assert resolver.values == (CANARY_KEY,)


def test_missing_env_variable_names_the_variable() -> None:
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver(env={}).resolve(KeyRef(env="ACME_KEY"))
    assert "ACME_KEY is not set" in str(caught.value)
    assert isinstance(caught.value, RedlineError)


def test_fallback_variable_name() -> None:
    assert env_fallback_name("acme-prod.key") == "REDLINE_KEY_ACME_PROD_KEY"


def test_fail_backend_is_a_clear_error_not_a_crash(restore_keyring: None) -> None:
    keyring.set_keyring(fail.Keyring())
    assert keyring_problem() == "no keyring backend is available on this machine"
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver(env={}).resolve(KeyRef(keyring="acme-prod"))
    message = str(caught.value)
    assert "no keyring backend is available" in message
    assert "REDLINE_KEY_ACME_PROD" in message  # the exact variable to set instead


def test_empty_chainer_counts_as_no_backend(restore_keyring: None) -> None:
    class EmptyChainer(chainer.ChainerBackend):
        backends = []  # what the chainer finds on a machine with no usable backend

    keyring.set_keyring(EmptyChainer())
    assert keyring_problem() == "no keyring backend is available on this machine"


def test_fail_backend_falls_back_to_env_and_says_so(restore_keyring: None) -> None:
    keyring.set_keyring(fail.Keyring())
    resolver = SecretResolver(env={"REDLINE_KEY_ACME_PROD": CANARY_KEY})
    assert resolver.resolve(KeyRef(keyring="acme-prod")) == CANARY_KEY
    assert resolver.notices and "REDLINE_KEY_ACME_PROD" in resolver.notices[0]
    assert CANARY_KEY not in " ".join(resolver.notices)


def test_broken_backend_falls_back_too(restore_keyring: None) -> None:
    keyring.set_keyring(BrokenKeyring())
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver(env={}).resolve(KeyRef(keyring="acme"))
    assert "could not be read (KeyringError)" in str(caught.value)
    assert "REDLINE_KEY_ACME" in str(caught.value)
    resolver = SecretResolver(env={"REDLINE_KEY_ACME": CANARY_KEY})
    assert resolver.resolve(KeyRef(keyring="acme")) == CANARY_KEY


def test_working_keyring_is_read_first(restore_keyring: None) -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    store_in_keyring("acme", CANARY_KEY)
    assert backend.entries == {("redline", "acme"): CANARY_KEY}
    resolver = SecretResolver(env={"REDLINE_KEY_ACME": "the-env-value"})
    assert resolver.resolve(KeyRef(keyring="acme")) == CANARY_KEY
    assert resolver.notices == []


def test_keyring_without_the_entry_points_at_secrets_set(restore_keyring: None) -> None:
    keyring.set_keyring(MemoryKeyring())
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver(env={}).resolve(KeyRef(keyring="acme"))
    assert "redline secrets set acme" in str(caught.value)
    resolver = SecretResolver(env={"REDLINE_KEY_ACME": CANARY_KEY})
    assert resolver.resolve(KeyRef(keyring="acme")) == CANARY_KEY
    assert "has no entry 'acme'" in resolver.notices[0]


def test_storing_without_backend_names_the_env_variable(restore_keyring: None) -> None:
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(SecretUnavailable) as caught:
        store_in_keyring("acme", CANARY_KEY)
    assert "REDLINE_KEY_ACME" in str(caught.value)
    assert CANARY_KEY not in str(caught.value)


def test_redact_values_and_shapes() -> None:
    text = f"key {CANARY_KEY} and again {CANARY_KEY}; ab stays"
    assert redact(text, [CANARY_KEY, "ab"]) == f"key {REDACTED} and again {REDACTED}; ab stays"
    shaped = "Authorization: Bearer abcdefghijklmnop123 sk-proj-AAAAAAAAAAAAAAAAAAAA https://u:pw@host/x"
    out = redact(shaped, [], shapes=True)
    assert "abcdefghijklmnop123" not in out and "AAAAAAAAAAAAAAAA" not in out and "pw@" not in out
    assert redact(shaped, []) == shaped  # shapes only on request: transcripts are evidence
    assert redact_bytes(b"x" + CANARY_KEY.encode() + b"y", [CANARY_KEY]) == b"x[REDACTED]y"


async def test_canary_key_never_appears_in_request_sent(stream_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_KEY", CANARY_KEY)
    stream_server.route(OPENAI_PATH, openai_stream(["fine"]))
    target = make_target(TargetSpec(kind="openai", base_url=stream_server.url + "/v1", model="m",
                                    api_key=KeyRef(env="ACME_KEY"), headers={"X-Echo": f"note {CANARY_KEY}"}))
    # the prompt itself quotes the key, as a leaked-key test might
    turn = await run_turn(target, chat(f"is {CANARY_KEY} valid?", user="u"))
    await target.aclose()
    assert turn.text == "fine"
    assert stream_server.received[0].headers["authorization"] == f"Bearer {CANARY_KEY}"  # it was really sent
    assert CANARY_KEY not in repr(turn.sent)
    assert turn.sent is not None and turn.sent.headers["Authorization"] == REDACTED
    assert turn.sent.headers["X-Echo"] == f"note {REDACTED}"


def test_check_engagement_keys_reports_without_values(restore_keyring: None) -> None:
    from app.formats.engagement import EngagementSpec

    keyring.set_keyring(fail.Keyring())
    spec = EngagementSpec.model_validate({
        "name": "acme", "audit": {"type": "type1", "as_of": "2026-03-01"},
        "systems": [
            {"name": "bot", "target": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                                       "api_key": {"env": "ACME_KEY"}, "revoked_key": {"keyring": "old"}}},
            {"name": "demo", "target": {"kind": "demo"}},
        ],
    })
    rows = check_engagement_keys(spec, SecretResolver(env={"ACME_KEY": CANARY_KEY}))
    assert [(r[0], r[1], r[2]) for r in rows] == [("bot", "api_key", "{env: ACME_KEY}"),
                                                   ("bot", "revoked_key", "{keyring: old}")]
    assert rows[0][3] == ""
    assert "REDLINE_KEY_OLD" in rows[1][3]
    assert CANARY_KEY not in repr(rows)


def test_make_target_raises_clear_error_before_any_turn() -> None:
    spec = TargetSpec(kind="openai", base_url="http://127.0.0.1:9/v1", api_key=KeyRef(env="NOT_SET_ANYWHERE"))
    with pytest.raises(SecretUnavailable, match="NOT_SET_ANYWHERE is not set"):
        make_target(spec, secrets=SecretResolver(env={}))


def test_cli_secrets_set_without_backend(tmp_path: Path) -> None:
    # a headless machine: force the fail backend for the child process
    cfg = tmp_path / "cfg" / "python_keyring"
    cfg.mkdir(parents=True)
    (cfg / "keyringrc.cfg").write_text("[backend]\ndefault-keyring=keyring.backends.fail.Keyring\n")
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": str(tmp_path),
           "REDLINE_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "app.cli", "secrets", "set", "acme", "--stdin"],
                          input=CANARY_KEY + "\n", capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert done.returncode == 2
    assert "no keyring backend is available" in done.stderr
    assert "REDLINE_KEY_ACME" in done.stderr
    assert "Traceback" not in done.stderr
    assert CANARY_KEY not in done.stdout + done.stderr


ENGAGEMENT_YAML = """\
name: acme-keys
audit: {type: type1, as_of: 2026-03-01}
systems:
  - name: support-bot
    target:
      kind: openai
      base_url: http://127.0.0.1:9/v1
      api_key: {env: ACME_KEY}
      revoked_key: {keyring: acme-old}
"""


def test_cli_secrets_check_reports_each_reference(tmp_path: Path, restore_keyring: None,
                                                  monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from app.cli import main

    keyring.set_keyring(fail.Keyring())
    path = tmp_path / "acme.yaml"
    path.write_text(ENGAGEMENT_YAML)
    monkeypatch.setenv("ACME_KEY", CANARY_KEY)
    monkeypatch.delenv("REDLINE_KEY_ACME_OLD", raising=False)
    assert main(["secrets", "check", str(path)]) == 2
    out = capsys.readouterr().out
    assert "support-bot api_key {env: ACME_KEY}: ok" in out
    assert "support-bot revoked_key {keyring: acme-old}: MISSING: no keyring backend" in out
    assert "REDLINE_KEY_ACME_OLD" in out and CANARY_KEY not in out
    monkeypatch.setenv("REDLINE_KEY_ACME_OLD", "sk-old-value-123456")
    assert main(["secrets", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note: no keyring backend is available on this machine; using the environment variable " \
           "REDLINE_KEY_ACME_OLD" in out
    assert "sk-old-value" not in out


def test_cli_secrets_set_stores_in_a_working_keyring(restore_keyring: None, monkeypatch: pytest.MonkeyPatch,
                                                     capsys) -> None:
    import io

    from app.cli import main

    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    monkeypatch.setattr("sys.stdin", io.StringIO(CANARY_KEY + "\n"))
    assert main(["secrets", "set", "acme", "--stdin"]) == 0
    assert backend.entries[("redline", "acme")] == CANARY_KEY
    out = capsys.readouterr()
    assert "Stored key 'acme'" in out.out and CANARY_KEY not in out.out + out.err


async def test_key_echoed_by_the_server_is_redacted_from_detail_and_raw(stream_server,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers.loopback import Received, Reply, json_reply

    def echo(request: Received) -> Reply:
        return json_reply({"error": {"message": f"Incorrect API key provided: {request.headers['authorization']}"}},
                          status=401)

    monkeypatch.setenv("ACME_KEY", CANARY_KEY)
    stream_server.route(OPENAI_PATH, echo)
    target = make_target(TargetSpec(kind="openai", base_url=stream_server.url + "/v1", model="m",
                                    api_key=KeyRef(env="ACME_KEY")))
    turn = await run_turn(target, chat("hi"))
    raw_call = await target.request("POST", "/chat/completions", {"x": 1})
    await target.aclose()
    assert turn.failed is not None and turn.failed.error_type == "auth"
    assert turn.failed.detail == f"HTTP 401: Incorrect API key provided: Bearer {REDACTED}"
    assert CANARY_KEY not in repr(turn.events) and CANARY_KEY.encode() not in turn.raw
    assert CANARY_KEY not in repr(raw_call) and raw_call.error_type == "auth"


@pytest.mark.parametrize("empty", ["", b""])
def test_stream_redactor_catches_a_secret_split_across_every_pair_of_pieces(empty: str | bytes) -> None:
    from app.secrets import StreamRedactor

    text = f"before {CANARY_KEY} between {CANARY_KEY} after"
    whole = text.encode() if isinstance(empty, bytes) else text
    expected = whole.replace(CANARY_KEY.encode() if isinstance(empty, bytes) else CANARY_KEY,  # type: ignore[arg-type]
                             REDACTED.encode() if isinstance(empty, bytes) else REDACTED)  # type: ignore[arg-type]
    for cut in range(1, len(whole)):
        redactor = StreamRedactor([CANARY_KEY], empty)
        out = redactor.feed(whole[:cut]) + redactor.feed(whole[cut:]) + redactor.finish()
        assert out == expected, cut
    assert StreamRedactor([], empty).feed(whole) == whole  # no secrets: passed through at once


async def test_a_key_in_streamed_body_bytes_is_redacted_across_reads(stream_server,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers.loopback import Reply
    from tests.servers.stream_server import chop, openai_events, sse

    monkeypatch.setenv("ACME_KEY", CANARY_KEY)
    # A hostile endpoint puts the key in an SSE comment, which carries no text but is raw body.
    body = f": echo {CANARY_KEY}\n\n".encode() + sse(openai_events(["fine"]))
    stream_server.route(OPENAI_PATH, Reply(chunks=chop(body, sizes=(7, 5, 3)), delay=0.001))
    target = make_target(TargetSpec(kind="openai", base_url=stream_server.url + "/v1", model="m",
                                    api_key=KeyRef(env="ACME_KEY")))
    turn = await run_turn(target, chat("hi"))
    await target.aclose()
    assert turn.text == "fine"
    assert turn.raw == body.replace(CANARY_KEY.encode(), REDACTED.encode())


def test_a_missing_key_can_be_supplied_without_a_restart_and_is_never_written() -> None:
    from app.formats.engagement import KeyRef
    from app.secrets import SecretResolver, how_to_keep, missing_refs, supply_key

    env: dict[str, str] = {}
    ref = KeyRef(env="RL_SUPPLIED_KEY")
    assert missing_refs([ref, None], SecretResolver(env)) == [ref]
    said = supply_key(ref, "sk-supplied-value-0123456789", env)
    assert env == {"RL_SUPPLIED_KEY": "sk-supplied-value-0123456789"}
    assert "this session only" in said and "export RL_SUPPLIED_KEY=..." in said
    assert missing_refs([ref], SecretResolver(env)) == []
    assert how_to_keep(KeyRef(keyring="acme")) == "redline secrets set acme"
