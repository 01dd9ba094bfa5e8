"""API keys: read from the OS keyring (service ``redline``) or the environment, never stored.

An engagement file names where a key lives (``{keyring: NAME}`` or
``{env: VAR}``); the value is looked up only when a target is built, handed to
the adapter, and remembered by the resolver so every sink can redact it.

Headless Linux often has no keyring backend at all. That is not a crash: a
``{keyring: NAME}`` reference falls back to the environment variable
``REDLINE_KEY_<NAME>`` and says so, and when neither exists the error names the
exact variable to set.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, AnyStr, Generic

from app.errors import RedlineError
from app.formats.engagement import KeyRef

if TYPE_CHECKING:
    from app.formats.engagement import EngagementSpec

KEYRING_SERVICE = "redline"
REDACTED = "[REDACTED]"
# Shorter values are not redacted by value: replacing every "ab" in a transcript
# would destroy evidence and hide nothing worth hiding.
MIN_SECRET_LENGTH = 4

log = logging.getLogger("redline.secrets")

# Text shaped like a credential even when we do not know its value:
# provider key prefixes, bearer tokens, and basic-auth userinfo in URLs.
_SECRET_SHAPES = re.compile(
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}"
    r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/\-]{12,}=*"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"
)


class SecretUnavailable(RedlineError):
    """A referenced key cannot be read; the message says where to put it instead."""


def env_fallback_name(keyring_name: str) -> str:
    """``REDLINE_KEY_<NAME>``: upper case, every non-alphanumeric character as ``_``."""
    return "REDLINE_KEY_" + re.sub(r"[^A-Za-z0-9]", "_", keyring_name).upper()


def keyring_problem() -> str | None:
    """Why the keyring cannot be used, or None when a real backend is configured."""
    try:
        import keyring
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
    except Exception as exc:  # a broken backend module must not stop the tool
        return f"the keyring could not be loaded ({type(exc).__name__})"
    if isinstance(backend, fail.Keyring):
        return "no keyring backend is available on this machine"
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return "no keyring backend is available on this machine"
    return None


class SecretResolver:
    """Looks up key references and remembers every value handed out, for redaction.

    ``env`` defaults to ``os.environ``; tests pass their own mapping. ``notices``
    collects plain-language notes such as which fallback variable was used.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env if env is not None else os.environ
        self._values: list[str] = []
        self.notices: list[str] = []

    @property
    def values(self) -> tuple[str, ...]:
        """Every secret value resolved so far (for :func:`redact`)."""
        return tuple(self._values)

    def resolve(self, ref: KeyRef) -> str:
        """The key's value; raises :class:`SecretUnavailable` with a fix when it cannot be read."""
        if ref.env is not None:
            value = self._env.get(ref.env)
            if not value:
                raise SecretUnavailable(
                    f"the environment variable {ref.env} is not set (it holds an API key referenced as "
                    f"{{env: {ref.env}}}); export it before running"
                )
            return self._remember(value)
        assert ref.keyring is not None  # KeyRef guarantees exactly one
        return self._resolve_keyring(ref.keyring)

    def _resolve_keyring(self, name: str) -> str:
        fallback = env_fallback_name(name)
        problem = keyring_problem()
        value: str | None = None
        if problem is None:
            try:
                import keyring

                value = keyring.get_password(KEYRING_SERVICE, name)
            except Exception as exc:  # KeyringError, D-Bus failures, locked collections ...
                problem = f"the keyring could not be read ({type(exc).__name__})"
        if value:
            return self._remember(value)
        env_value = self._env.get(fallback)
        if env_value:
            reason = problem or f"the keyring has no entry '{name}' (service '{KEYRING_SERVICE}')"
            self._notice(f"{reason}; using the environment variable {fallback} for key '{name}'")
            return self._remember(env_value)
        if problem is not None:
            raise SecretUnavailable(
                f"{problem}, so the key '{name}' cannot be read from it. "
                f"Set the environment variable {fallback} instead (export {fallback}=...), "
                f"or reference the key as {{env: VAR}} in the engagement file"
            )
        raise SecretUnavailable(
            f"the keyring has no entry '{name}' (service '{KEYRING_SERVICE}'). "
            f"Store it with `redline secrets set {name}`, or set the environment variable {fallback}"
        )

    def _remember(self, value: str) -> str:
        if value not in self._values:
            self._values.append(value)
        return value

    def _notice(self, message: str) -> None:
        if message not in self.notices:
            self.notices.append(message)
            log.info(message)  # names variables only, never values


def store_in_keyring(name: str, value: str) -> None:
    """Save a key under service ``redline``; a clear error when there is no backend."""
    if not name.strip():
        raise RedlineError("a key name is required")
    if not value:
        raise RedlineError("an empty key was not stored")
    problem = keyring_problem()
    if problem is None:
        try:
            import keyring

            keyring.set_password(KEYRING_SERVICE, name, value)
            return
        except Exception as exc:  # KeyringError, PasswordSetError, D-Bus failures ...
            problem = f"the keyring refused to store the key ({type(exc).__name__})"
    raise cannot_store(name, problem)


def missing_refs(refs: Iterable[KeyRef | None], resolver: SecretResolver | None = None) -> list[KeyRef]:
    """The references among ``refs`` whose key cannot be read now (None entries are skipped)."""
    resolver = resolver or SecretResolver()
    missing = []
    for ref in refs:
        if ref is None:
            continue
        try:
            resolver.resolve(ref)
        except SecretUnavailable:
            missing.append(ref)
    return missing


def how_to_keep(ref: KeyRef) -> str:
    """The shell command that makes a key available to every later run, for a tester to copy."""
    if ref.env is not None:
        return f"export {ref.env}=..."
    assert ref.keyring is not None
    return f"redline secrets set {ref.keyring}"


def supply_key(ref: KeyRef, value: str, env: MutableMapping[str, str] | None = None) -> str:
    """Make a missing key readable now, without a restart; returns what was done, in words.

    A keyring reference is stored in the keyring (it lasts); without a keyring,
    or for an ``{env: VAR}`` reference, the value is set in this process's
    environment only: it is never written anywhere, and the message says how
    to keep it for the next session.
    """
    if not value:
        raise RedlineError("an empty key was not used")
    env = env if env is not None else os.environ
    if ref.keyring is not None:
        try:
            store_in_keyring(ref.keyring, value)
            return f"stored in the keyring as '{ref.keyring}'"
        except SecretUnavailable:
            env[env_fallback_name(ref.keyring)] = value
            return (f"no keyring here: set {env_fallback_name(ref.keyring)} for this session only; "
                    f"export it in your shell to keep it")
    assert ref.env is not None
    env[ref.env] = value
    return f"set {ref.env} for this session only (not saved); `{how_to_keep(ref)}` keeps it"


def cannot_store(name: str, problem: str) -> SecretUnavailable:
    """The error for a key that cannot go into the keyring, naming the variable to use instead."""
    fallback = env_fallback_name(name)
    return SecretUnavailable(
        f"{problem}, so the key '{name}' was not stored. "
        f"Set the environment variable {fallback} instead (export {fallback}=...); "
        f"a {{keyring: {name}}} reference reads it from there"
    )


def redact(text: str, secrets: Iterable[str], *, shapes: bool = False) -> str:
    """``text`` with every known secret value replaced by ``[REDACTED]``.

    Longer values are replaced first so a key that contains another key is
    hidden whole. With ``shapes=True``, text that merely looks like a
    credential (``sk-...``, ``Bearer ...``, ``user:pass@`` in URLs) goes too;
    use it for logs and error messages, not for transcripts.
    """
    values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    if values and "\\" in text:
        text = _redact_escaped(text, values)
    if shapes:
        text = _SECRET_SHAPES.sub(REDACTED, text)
    return text


def _redact_escaped(text: str, values: list[str]) -> str:
    """``text`` with each value it spells through JSON escapes (``sk-\\u0070roj-...``) replaced, escapes and all.

    A body kept as received (an error message, a raw ``http`` step) may write a key that way; no search
    of the text as written finds it."""
    from app.escapes import unescaped

    decoded = unescaped(text)
    if decoded is None:
        return text
    spans: list[tuple[int, int]] = []
    for value in values:
        at = decoded.text.find(value)
        while at >= 0:
            spans.append(decoded.written((at, at + len(value))))
            at = decoded.text.find(value, at + len(value))
    if not spans:
        return text
    out, done = [], 0
    for start, end in sorted(spans):
        if end <= done:
            continue
        out.append(text[done:max(start, done)] + REDACTED)
        done = end
    return "".join(out) + text[done:]


def redact_bytes(data: bytes, secrets: Iterable[str]) -> bytes:
    """:func:`redact` for raw response bodies: the UTF-8 form of each secret is replaced."""
    marker = REDACTED.encode()
    for value in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        encoded = value.encode("utf-8")
        if encoded in data:
            data = data.replace(encoded, marker)
    return data


class StreamRedactor(Generic[AnyStr]):
    """Redacts known secret values from a stream of pieces (text or bytes).

    A secret may straddle two pieces, so the end of the stream so far is held
    back while it could be the start of one: the longest tail that begins some
    secret, never more, and nothing when the stream ends in text that begins
    none. The next piece shows whether it was one; :meth:`finish` releases it.
    What is held is therefore always shorter than the longest secret, and it is
    the only text a reader of the stream so far does not yet have.
    """

    def __init__(self, secrets: Iterable[str], empty: AnyStr) -> None:
        self.values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._binary = isinstance(empty, bytes)
        self._spelled: list[AnyStr] = [v.encode("utf-8") if self._binary else v  # type: ignore[misc]
                                       for v in self.values]
        self._held: AnyStr = empty
        self._empty: AnyStr = empty
        # Pieces in which a secret was found and replaced: on decoded text, the sign that the raw
        # bytes it came from may hold the secret in pieces no byte search can see.
        self.found = 0

    def __bool__(self) -> bool:
        return bool(self.values)

    def whole(self, piece: AnyStr) -> AnyStr:
        """``piece`` redacted as a complete value."""
        if not self.values:
            return piece
        out = redact_bytes(piece, self.values) if self._binary else redact(piece, self.values)  # type: ignore
        if out is not piece:
            self.found += 1
        return out  # type: ignore[return-value]

    def arriving(self) -> bool:
        """Whether the text held back ends with the start of a secret (one may be arriving in pieces)."""
        return bool(self._held)

    def held(self) -> int:
        """How many characters (or bytes) are held back: the start of a secret, perhaps."""
        return len(self._held)

    def _opening(self, window: AnyStr) -> int:
        """Where the longest tail of ``window`` that begins some secret starts; ``len(window)`` if none does."""
        cut = len(window)
        for value in self._spelled:
            first = value[:1]
            at = window.find(first, max(0, len(window) - len(value) + 1))
            while 0 <= at < cut:
                if value.startswith(window[at:]):
                    cut = at
                    break
                at = window.find(first, at + 1)
        return cut

    def feed(self, piece: AnyStr) -> AnyStr:
        """The part of the stream so far that can no longer be the start of a secret."""
        if not self.values:
            return piece
        window = self.whole(self._held + piece)
        cut = self._opening(window)
        self._held = window[cut:]
        return window[:cut]

    def finish(self) -> AnyStr:
        rest, self._held = self._held, self._empty
        return rest


def describe_ref(ref: KeyRef) -> str:
    """How the engagement file spells the reference (never the value)."""
    return f"{{env: {ref.env}}}" if ref.env is not None else f"{{keyring: {ref.keyring}}}"


def check_engagement_keys(spec: EngagementSpec,
                          resolver: SecretResolver | None = None) -> list[tuple[str, str, str, str]]:
    """For each system's key reference: (system, field, reference, problem or "").

    Only says whether each key can be read, so ``redline secrets check`` can
    run before an engagement without printing anything secret.
    """
    resolver = resolver or SecretResolver()
    rows: list[tuple[str, str, str, str]] = []
    for system in spec.systems:
        for field_name in ("api_key", "revoked_key"):
            ref = getattr(system.target, field_name)
            if ref is None:
                continue
            try:
                resolver.resolve(ref)
                problem = ""
            except SecretUnavailable as exc:
                problem = str(exc)
            rows.append((system.name, field_name, describe_ref(ref), problem))
    return rows
