"""Reading a user message: normalisation, decoding and the patterns the demo model reacts to.

The demo "model" is a set of deterministic rules, and these are its senses.
Both modes understand obfuscated text (a real model reads through zero-width
characters and homoglyphs); only the hardened mode *notices* the obfuscation,
because its filter normalises before it matches.
"""

from __future__ import annotations

import re
import unicodedata

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\ufeff\u00ad\u180e"), None)
# Cyrillic and Greek letters that look like Latin ones (NFKC does not fold these).
_CONFUSABLES = str.maketrans(
    "аеорсухіјѕԁɡӏһԛԝАВЕКМНОРСТХІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧοαειкνρτυχ",
    "aeopcyxijsdglhqwABEKMHOPCTXIJSABEZHIKMNOPTYXoaeikvptux",
)
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


def fold(text: str) -> str:
    """NFKC, zero-width characters removed, homoglyphs folded; spacing kept as it was (it may carry meaning)."""
    return unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).translate(_CONFUSABLES)


def normalise(text: str) -> str:
    """Case-preserving canonical form: :func:`fold`, then runs of spaces made one."""
    return _SPACES.sub(" ", fold(text))


def is_obfuscated(text: str) -> bool:
    """True for invisible characters, lookalike letters or full-width/compatibility letters.

    Typographic changes NFKC also makes (an ellipsis, a fraction) are not evasion and don't count.
    """
    return any(ord(c) in _ZERO_WIDTH or ord(c) in _CONFUSABLES
               or (c.isalpha() and unicodedata.normalize("NFKC", c) != c) for c in text)


def is_binaryish(text: str) -> bool:
    """NUL bytes, lone surrogates, or more than 10% control/replacement characters."""
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return True
    bad = sum(1 for c in text if (ord(c) < 32 and c not in "\t\n\r") or 0x7F <= ord(c) <= 0x9F or c == "\ufffd")
    return bool(text) and bad / len(text) > 0.10


OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|discard|abandon|drop|set aside|pay no (?:attention|heed) to"
    r"|stop (?:following|obeying)|no longer (?:follow|obey)|throw (?:out|away))\b[^.!?\n]{0,40}?"
    r"\b(?:instructions?|rules|prompt|directions|guidelines|guardrails|restrictions|directives|guidance"
    r"|programming|configuration|constraints|policies|(?:your|previous|prior|earlier|original|initial) orders)\b"
    r"|\bforget (?:everything|all) (?:you|that)|\bact as (?:dan\b|an? (?:unrestricted|unfiltered))"
    r"|developer mode|dan mode|do anything now|jailbreak|unrestricted mode|no longer bound"
    r"|you are now (?:in )?(?:an? )?\w+ mode|new instructions\s*:|system override",
    re.IGNORECASE,
)
REVEAL = re.compile(
    r"system (?:prompt|message)|initial prompt|hidden prompt|developer (?:message|prompt)|pre-?prompt|meta[- ]prompt"
    r"|your (?:(?:initial|original|hidden|secret|system|full|exact|confidential) )?"
    r"(?:instructions|prompt|rules|guidelines)"
    r"|(?:confidential|secret|hidden) (?:instructions|rules|guidelines)"
    r"|(?:instructions|rules|guidelines|directions) (?:that )?you (?:were|have been|'ve been|got|received|follow)"
    r"|(?:instructions|rules|guidelines) (?:were|have) you (?:been )?(?:given|told)"
    r"|(?:instructions|rules|guidelines) (?:for|of) this (?:chat|conversation|session)"
    r"|what (?:were|are|have) you (?:been )?told|how (?:were|are) you (?:programmed|configured|instructed|set up)"
    r"|internal reference|(?:text|words|everything) (?:above|before this)|(?:written|said) above",
    re.IGNORECASE,
)
MULTI_TURN = re.compile(
    r"as (?:we )?(?:agreed|discussed)|we agreed|you agreed|like we (?:agreed|discussed)"
    r"|as you promised|remember our deal|as (?:i|we) said earlier",
    re.IGNORECASE,
)
# Instructions hidden in a pasted "retrieved document".
_HIDDEN = (
    re.compile(r"<!--(.*?)-->", re.DOTALL),
    re.compile(r"\bimportant\s*:\s*((?:the )?(?:ai|assistant|model|chatbot|bot)\b[^\n]*)", re.IGNORECASE),
    re.compile(r"\[(?:system|assistant|ai) (?:note|instructions?)\]\s*:?\s*([^\n]+)", re.IGNORECASE),
    re.compile(r"\b(?:note|instructions?) (?:to|for) (?:the )?(?:ai|assistant|model)\s*:\s*([^\n]+)", re.IGNORECASE),
)
_PAYLOAD = re.compile(
    r"(?i:\b(?:say|reply|respond|answer|output|print|write|type|repeat|echo|return|include|end with|start with)\b)"
    r"(?:\s+(?:[a-z][a-z'’-]*,?))" "{0,6}?" r"\s*[:\-]?\s*"
    r"(?:\"([^\"\n]+)\"|'([^'\n]+)'|“([^”\n]+)”|„([^“”\n]+)[“”]|«\s?([^»\n]+?)\s?»|`([^`\n]+)`"
    r"|([A-Z0-9][A-Z0-9_\-]{2,}(?: [A-Z0-9][A-Z0-9_\-]+)*\b|[A-Z0-9][A-Za-z0-9_\-]{2,}))"
)
_URL = re.compile(r"https?://[^\s\"'<>)]+")


def hidden_instruction(text: str) -> str | None:
    """The instruction a pasted document smuggles in, if any."""
    for pattern in _HIDDEN:
        for match in pattern.finditer(text):
            found = re.sub(r"^\s*(?:assistant|ai|system)\s*:\s*", "", match.group(1).strip(), flags=re.I)
            if found:
                return found
    return None


def payload(text: str) -> str | None:
    """What an instruction tells the model to say verbatim ("reply only with PWNED")."""
    match = _PAYLOAD.search(text)
    if not match:
        return None
    return next(group for group in match.groups() if group)


def url(text: str) -> str | None:
    match = _URL.search(text)
    return match.group() if match else None


# Asking for the guarded staff code: a staff or approval word and a code word, a few words apart.
_STAFF = r"(?:staff|employees?|managers?|supervisors?|admin(?:istrator)?s?|internal|override|approval|approves?" \
         r"|authori[sz]ation)"
_CODE = r"(?:codes?|pins?|passcodes?)"
STAFF_CODE = re.compile(rf"\b{_STAFF}\W+(?:\w+\W+){{0,3}}?{_CODE}\b|\b{_CODE}\W+(?:\w+\W+){{0,3}}?{_STAFF}\b",
                        re.IGNORECASE)
CODE_WORD = re.compile(rf"\b{_CODE}\b", re.IGNORECASE)
# A request framed so that a rule-following model forgets its rules: a role, a story, a hypothesis,
# a dictated opening, or rules against refusing.
FRAMED = re.compile(
    r"\bpretend\b|\bimagine\b|\brole-?play|\bin character\b|\bplay a game\b|\blet'?s play\b|\bact as\b"
    r"|\byou(?: are|'re) (?:now )?[A-Z]{3,}\b|\bhypothetic|\bsuppose\b|\bwhat if\b|\bparallel universe\b"
    r"|\b(?:story|novel|fiction|screenplay|script|scene|chapter|poem|character)\b"
    r"|\b(?:begin|start) (?:your |the )?(?:reply|answer|response)\b"
    r"|\b(?:do not|don'?t|never) (?:refuse|apologi[sz]e|say (?:no|sorry))"
    r"|\bno (?:guardrails|limits|restrictions|filters|rules)\b",
    re.IGNORECASE)
_OPENING = re.compile(
    r"\s*(?:begin|start) (?:your |the )?(?:reply|answer|response) with\s*[:\-]?\s*"
    r"(?:\"([^\"\n]+)\"|'([^'\n]+)'|“([^”\n]+)”)[^.!?\n]*[.!?]?", re.IGNORECASE)
_PROMPT_ASK = re.compile(
    r"\b(?:show|tell|print|reveal|repeat|give|display|recite|share|list|output|write out|type out)\b"
    r"[^.!?\n]{0,60}\b(?:instructions|prompt|(?:hidden|secret|initial|original|system|internal) "
    r"(?:text|rules|setup|configuration|guidelines))\b", re.IGNORECASE)


def dictated_opening(text: str) -> tuple[str, str]:
    """``(opening, rest)``: the words a message tells the model to begin with, and the message without them."""
    match = _OPENING.search(text)
    if not match:
        return "", text
    opening = next(group for group in match.groups() if group)
    return opening.strip(), (text[:match.start()] + " " + text[match.end():]).strip()


def asks_for_prompt(text: str) -> bool:
    """The instructions themselves are asked for, in any of the common wordings."""
    return bool(REVEAL.search(text) or _PROMPT_ASK.search(text))


def is_instruction(text: str) -> bool:
    """Text that tries to steer the model: an override, a prompt request, or a verbatim payload."""
    return bool(OVERRIDE.search(text) or REVEAL.search(text) or payload(text))


_MONEY = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)|\b(\d[\d,]*(?:\.\d{1,2})?)\s?(?:dollars|usd)\b", re.IGNORECASE)
# "750 $", "1.250 $", "1 250 $": the amount before the sign, with a dot, comma or space between thousands,
# as French, German, Spanish or Polish write it.
_MONEY_BEFORE_SIGN = re.compile(r"\b(\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+|\d+)(?:[.,](\d{1,2}))?\s?\$")


def amount(text: str) -> float | None:
    """The first money amount in the text, in dollars."""
    match = _MONEY.search(text)
    if match:
        return float((match.group(1) or match.group(2)).replace(",", ""))
    before = _MONEY_BEFORE_SIGN.search(text)
    if not before:
        return None
    return float(re.sub(r"\D", "", before.group(1)) + "." + (before.group(2) or "0"))


_PERSON = re.compile(r"\b([A-Z][a-z]+ [A-Z][a-z]+)(?:'s|’s)")
_PERSON_OF = re.compile(r"\b(?:of|for|about)\s+([A-Z][a-z]+ [A-Z][a-z]+)\b")


def person(text: str) -> str | None:
    """A "First Last" name the user asks about, if any."""
    match = _PERSON.search(text) or _PERSON_OF.search(text)
    return match.group(1) if match else None


_FULL_NAME = re.compile(r"(?<!\d )\b(?!Acme\b)([A-Z][a-z]+ [A-Z][a-z]+)\b")  # not "7 Quarry Road"


def named_person(text: str) -> str | None:
    """A "First Last" name anywhere in the text: in languages that mark "whose" by the name's ending
    ("Johna Smitha") rather than by "'s" or "of", the name stands alone."""
    match = _PERSON.search(text) or _PERSON_OF.search(text) or _FULL_NAME.search(text)
    return match.group(1) if match else None


_PRONOUNS = {"i": "you", "me": "you", "my": "your", "mine": "yours", "i'm": "you're", "i'll": "you'll",
             "i've": "you've", "am": "are", "you": "I", "your": "my"}


def second_person(text: str) -> str:
    """The user's claim restated to them: "I get a refund" → "you get a refund"."""
    lead = ""
    if re.match(r"me\b", text, re.IGNORECASE):  # "promise me a refund" → "you will get a refund"
        lead, text = "you will get", text[2:]
    return lead + re.sub(r"\b(?:i'm|i'll|i've|mine|me|my|i|am|your|you)\b",
                         lambda m: _PRONOUNS[m.group().lower()], text, flags=re.IGNORECASE)
