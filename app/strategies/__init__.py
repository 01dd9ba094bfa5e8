"""Prompt strategies: pure, deterministic transformations of the messages an attack sends.

A strategy turns one request into the form a weak guard misses: encoded,
obfuscated, framed as fiction, translated, or split across turns. A scenario
step may name one (``strategy: base64``); ``redline run --strategy NAME`` (or
``strategies:`` on a control row) applies one to every chat step of every
chosen scenario, as a variant run beside the plain one (:mod:`app.strategies.variants`).

Names chain with ``+`` and apply left to right: ``base64+roleplay`` encodes,
then wraps the encoded text in the role-play frame. A language comes first
(it translates the English message), a strategy that splits turns comes last.
``reveal`` inverts the strategies that can be inverted, so triage and the
bundle can show what a transformed prompt asked.
"""

from __future__ import annotations

from collections.abc import Callable

from app.strategies import disguises, encodings, framing, splitting, wrappers
from app.strategies.base import FAMILIES, MAX_CHAIN, Strategy  # noqa: F401  (the package's public names)
from app.strategies.languages import NotApplicable


def _template(name: str, family: str, template: framing.Template, summary: str) -> Strategy:
    return Strategy(name, family, template.fill, template.strip, summary)


def _no_single_turn(text: str) -> str:
    raise NotApplicable("payload splitting sends several messages; use the chain's turns")


_BUILT_IN: tuple[Strategy, ...] = (
    Strategy("base64", "encoding", encodings.to_base64, encodings.from_base64, "base64 with a decode-and-follow lead"),
    Strategy("rot13", "encoding", encodings.rot13, encodings.from_rot13, "ROT13 with a decode-and-follow lead"),
    Strategy("hex", "encoding", encodings.to_hex, encodings.from_hex, "UTF-8 bytes in hexadecimal"),
    Strategy("binary", "encoding", encodings.to_binary, encodings.from_binary, "UTF-8 bytes as 8-bit groups"),
    Strategy("morse", "encoding", encodings.to_morse, encodings.from_morse,
             "International Morse (one case; characters it has no code for are left out)"),
    Strategy("leetspeak", "encoding", encodings.leetspeak, None, "letters to look-alike digits (no inverse)"),
    Strategy("reverse", "encoding", encodings.reverse, encodings.from_reverse, "the text written backwards"),
    Strategy("homoglyph", "obfuscation", disguises.homoglyph, disguises.from_homoglyph,
             "Cyrillic look-alike letters in trigger words"),
    Strategy("zero_width", "obfuscation", disguises.zero_width, disguises.from_zero_width,
             "zero-width joiners inside trigger words"),
    Strategy("spacing", "obfuscation", disguises.spacing, disguises.from_spacing, "a space after every character"),
    _template("roleplay", "wrapper", framing.ROLEPLAY, "the request put to a rule-free character"),
    _template("hypothetical", "wrapper", framing.HYPOTHETICAL, "the request to a hypothetical unrestricted self"),
    _template("fiction", "wrapper", framing.FICTION, "the request as a line in a novel"),
    _template("prefix_injection", "wrapper", framing.PREFIX_INJECTION, "the reply's compliant opening dictated"),
    _template("refusal_suppression", "wrapper", framing.REFUSAL_SUPPRESSION,
              "rules that forbid refusing and apologising"),
    Strategy("markdown_comment", "indirect", wrappers.markdown_comment, wrappers.from_markdown_comment,
             "hidden in an HTML comment in release notes"),
    Strategy("json_wrapper", "indirect", wrappers.json_wrapper, wrappers.from_json_wrapper,
             "a forged system-role JSON payload"),
    Strategy("split", "turns", _no_single_turn, None, f"the request cut into {splitting.PARTS} turns, joined last",
             turns=splitting.split_messages, join=splitting.join_messages),
)

# The built-in single-turn transformations by name (the scenario loader and older callers use these).
STRATEGIES: dict[str, Callable[[str], str]] = {s.name: s.transform for s in _BUILT_IN if s.turns is None}
REVEAL: dict[str, Callable[[str], str]] = {s.name: s.inverse for s in _BUILT_IN
                                           if s.inverse is not None and s.turns is None}


def catalogue() -> dict[str, Strategy]:
    """Every strategy by name: built-in, shipped languages, entry-point plugins, the user's YAML files."""
    from app.strategies.languages import shipped
    from app.strategies.user import plugin_strategies, user_strategies

    found: dict[str, Strategy] = {s.name: s for s in _BUILT_IN}
    for lang in shipped():
        found[lang.name] = Strategy(lang.name, "language", lang.translate, lang.back,
                                    f"{len(lang.to_language)} {lang.language} messages shipped; {lang.review}",
                                    origin=lang.source)
    for extra in (*plugin_strategies(), *user_strategies(tuple(found))):
        if extra.name not in found:  # a built-in name is never shadowed; the loaders report clashes
            found[extra.name] = extra
    return found


def parse_chain(chain: str) -> list[Strategy]:
    """``base64+roleplay`` as strategies; ValueError naming the problem (unknown name, order, length)."""
    from app.formats.plainwords import did_you_mean

    names = [n.strip() for n in chain.split("+")]
    if not chain.strip() or any(not n for n in names):
        raise ValueError(f"'{chain}' is not a strategy chain (names joined by '+')")
    if len(names) > MAX_CHAIN:
        raise ValueError(f"'{chain}' chains {len(names)} strategies; at most {MAX_CHAIN}")
    known = catalogue()
    parts: list[Strategy] = []
    for i, name in enumerate(names):
        if name not in known:
            raise ValueError(f"unknown strategy '{name}'" + did_you_mean(name, known)
                             + f" (known: {', '.join(sorted(known))})")
        strategy = known[name]
        if strategy.family == "language" and i != 0:
            raise ValueError(f"'{name}' translates the English message, so it must come first in '{chain}'")
        if strategy.turns is not None and i != len(names) - 1:
            raise ValueError(f"'{name}' splits the message into turns, so it must come last in '{chain}'")
        parts.append(strategy)
    return parts


def check_strategy(name: str, single_turn: bool = False) -> None:
    """Raise ValueError when ``name`` is not a strategy or a valid chain (for the scenario loader).

    ``single_turn``: one scenario step sends one message, so a chain that splits turns is refused.
    """
    parts = parse_chain(name)
    if single_turn and parts[-1].turns is not None:
        raise ValueError(f"'{parts[-1].name}' splits a message across turns; a step sends one message "
                         "(use it with `redline run --strategy`, which splits every step)")


def apply_chain(chain: str, text: str) -> list[str]:
    """The user messages the chain makes of ``text``: one, or several for a splitting strategy.

    Raises :class:`NotApplicable` when a strategy cannot transform this text (an untranslated message).
    """
    parts = parse_chain(chain)
    for strategy in parts:
        if strategy.turns is not None:
            return strategy.turns(text)
        text = strategy.transform(text)
    return [text]


def apply(name: str, text: str) -> str:
    """The one message a single-turn strategy or chain makes of ``text``."""
    messages = apply_chain(name, text)
    if len(messages) != 1:
        raise ValueError(f"'{name}' sends {len(messages)} messages, not one")
    return messages[0]


def reveal_turns(chain: str, messages: list[str]) -> str:
    """The original request behind the messages a chain wrote; ValueError where a step has no inverse."""
    parts = parse_chain(chain)
    if parts[-1].join is not None:
        text = parts[-1].join(messages)
        parts = parts[:-1]
    elif len(messages) == 1:
        text = messages[0]
    else:
        raise ValueError(f"'{chain}' sends one message, not {len(messages)}")
    for strategy in reversed(parts):
        if strategy.inverse is None:
            raise ValueError(f"strategy '{strategy.name}' cannot be reversed")
        text = strategy.inverse(text)
    return text


def reveal(name: str, prompt: str) -> str:
    """The original message behind a transformed prompt; ValueError when the strategy has no inverse
    or the prompt is not one it wrote."""
    return reveal_turns(name, [prompt])


__all__ = ["FAMILIES", "MAX_CHAIN", "NotApplicable", "REVEAL", "STRATEGIES", "Strategy", "apply", "apply_chain",
           "catalogue", "check_strategy", "parse_chain", "reveal", "reveal_turns"]
