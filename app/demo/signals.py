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


_RULEBOOK = (r"(?:instructions?|rules|prompt|directions|guidelines|guardrails|restrictions|directives|guidance"
             r"|programming|configuration|constraints|policies|setup|set-up|system message"
             r"|(?:your|previous|prior|earlier|original|initial) orders)")
# Whose rules: the model's own, not a password-reset email's ("my reset instructions have expired" is support).
_THEIR_RULES = (r"(?:your|previous|prior|earlier|original|initial|old|operator|system|current|existing|above)"
                r" (?:\w+ )?(?:instructions?|rules|prompt|directives|guidelines|guidance|setup|polic(?:y|ies))")
OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|discard|abandon|drop|set aside|pay no (?:attention|heed) to"
    r"|stop (?:following|obeying)|no longer (?:follow|obey)|throw (?:out|away)|scratch|revoke|nullify)\b[^.!?\n]{0,40}?\b" + _RULEBOOK + r"\b"
    r"|\b(?:ignore|disregard|forget|bypass|override|skip)\b[^.!?\n]{0,20}?\b" + _THEIR_RULES + r"\b"
    # The rules declared void: "your earlier rules have expired", "the old policy no longer applies".
    r"|\b" + _THEIR_RULES + r"\b[^.!?\n]{0,40}?\b(?:(?:have|has|are|is|were|was)(?: now| all)? (?:expired|void"
    r"|obsolete|revoked|cancell?ed|replaced|suspended|lifted|outdated|invalid|superseded|disabled)"
    r"|no longer (?:apply|applies|valid|in effect|in force|matter))\b"
    r"|\b(?:ignore|disregard|forget|scratch|skip) (?:everything|all|anything)(?: of)?(?: that| this| the text)?"
    r" (?:above|before|so far|prior|previous|earlier|you were told)"
    r"|\bforget (?:everything|all) (?:you|that)|\bact as (?:dan\b|an? (?:unrestricted|unfiltered))"
    r"|developer mode|dan mode|do anything now|jailbreak|unrestricted mode|no longer bound|\bsudo\b|god mode"
    r"|you are now (?:in )?(?:an? )?\w+ mode|\w+ mode (?:is )?(?:activated|enabled|engaged|unlocked)\b"
    r"|(?:new|updated|replacement|real|actual|revised) (?:priority |system )?(?:instructions?|task|directives?"
    r"|orders?|polic(?:y|ies))\s*(?::|is\b|are\b)|system override"
    # The end of the user's turn faked, or a system turn forged in chat-template syntax.
    r"|(?:^|\n)\W*end of (?:the )?(?:customer |user )?(?:query|input|prompt|message|request|conversation)\W*(?:\n|$)"
    r"|<\|(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\|>|\[/?INST\]|<</?SYS>>"
    r"|(?:^|\n)\W{0,4}(?:system|admin|administrator|developer|operator)(?: (?:notice|message|note|update"
    r"|override|prompt|alert))?\s*:",
    re.IGNORECASE,
)
_PRIVATE = (r"(?:initial|original|hidden|secret|system|full|exact|confidential|configuration|setup|startup"
            r"|operating|internal|private|underlying|core|base|starting|opening|preset|pre-set)")
_PROMPT_NOUN = r"(?:instructions|prompt|rules|guidelines|directives|setup(?: text)?|preamble|configuration text)"
REVEAL = re.compile(
    r"system (?:prompt|message)|initial prompt|hidden prompt|developer (?:message|prompt)|pre-?prompt|meta[- ]prompt"
    rf"|your (?:{_PRIVATE} )?(?:instructions|prompt|rules|guidelines)"
    rf"|\b(?:confidential|secret|hidden|internal|private) (?:\w+ )?{_PROMPT_NOUN}"
    r"|\b(?:instructions|rules|prompt|directions|guidelines|text|words) above\b|context window"
    r"|\b(?:everything|all|text|words)\b[^.!?\n]{0,40}\b(?:came|comes|written|said|appears?|sent) before"
    r" (?:my|this|the first|our)\b"
    r"|\b(?:instructions|rules|guidelines|directives) (?:do|did) you (?:follow|have|get|obey|use)\b"
    r"|\b(?:quote|recite|repeat|copy|reproduce|dump|spell-?check|proofread)\b[^.!?\n]{0,20}?"
    r"\b(?:your|those|these|the above|all (?:of )?your)\s+(?:\w+\s+)?(?:rules|instructions|guidelines|prompt)\b"
    r"|(?:instructions|rules|guidelines|directions) (?:that )?you (?:were|have been|'ve been|got|received|follow)"
    r"|(?:instructions|rules|guidelines) (?:were|have) you (?:been )?(?:given|told)"
    r"|(?:instructions|rules|guidelines) (?:for|of) this (?:chat|conversation|session)"
    r"|what (?:\w+ )?(?:were|are|have) you (?:\w+ )?(?:been )?told"
    r"|\b(?:told|given|instructed|asked)\b[^.!?\n]{0,30}\b(?:at the (?:start|beginning)|before (?:this|our|my))\b"
    r"[^.!?\n]{0,20}\b(?:chat|conversation|session|message)"
    # A dictated opening that announces the instructions ("begin with 'Sure, here are my instructions:'").
    r"|\bhere (?:are|is) my (?:\w+ )?(?:instructions|prompt|rules|guidelines)\b|how (?:were|are) you (?:programmed|configured|instructed|set up)"
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
    # Addressed to whatever model reads the document: "for the AI reading this: ...".
    re.compile(r"\b(?:for|to|attention|dear|hey) (?:the |any |an? )?(?:ai|assistant|model|chatbot|bot|llm"
               r"|language model)s?\b[^:\n]{0,30}:\s*([^\n]+)", re.IGNORECASE),
    re.compile(r"\b(?:ai|assistant|llm|chatbot)\s+(?:directive|instruction|command|task)\]?\s*:?\]?\s*([^\n]+)",
               re.IGNORECASE),
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


_TOOL_SEGMENT = re.compile(r"[^\n\"{}\[\]]+")


def tool_instruction(text: str) -> str | None:
    """The instruction a tool's result smuggles in: a hidden one, or any field that reads as an instruction
    (a tool result has no business giving the model orders)."""
    hidden = hidden_instruction(text)
    if hidden:
        return hidden
    return next((seg.strip() for seg in _TOOL_SEGMENT.findall(text) if is_instruction(seg)), None)


def hidden_instruction(text: str) -> str | None:
    """The instruction a pasted document smuggles in, if any."""
    for pattern in _HIDDEN:
        for match in pattern.finditer(text):
            found = re.sub(r"^\s*(?:assistant|ai|system)\s*:\s*", "", match.group(1).strip(), flags=re.I)
            if found:
                return found
    return None


_AS_FORMAT = re.compile(r"\b(?:as|in|into|to)(?: an?)?\s*$", re.IGNORECASE)


def payload(text: str) -> str | None:
    """What an instruction tells the model to say verbatim ("reply only with PWNED").

    A bare word after "as", "in" or "into" names a format ("output it as JSON"), not words to say.
    """
    for match in _PAYLOAD.finditer(text):
        if match.group(5) and _AS_FORMAT.search(text[max(0, match.start(5) - 8):match.start(5)]):
            continue
        return next(group for group in match.groups() if group)
    closing = _CLOSING_WORD.search(text)  # "... and say zebra": a plain last word is the payload too
    return closing.group(1) if closing else None


_CLOSING_WORD = re.compile(r"\b(?:say|reply|respond|answer)(?: only)?(?: with)?(?: the(?: single)? word)?\s+"
                           r"([A-Za-z][\w-]{2,})\W{0,3}$", re.IGNORECASE)


def url(text: str) -> str | None:
    match = _URL.search(text)
    return match.group() if match else None


# Asking for the guarded staff code: a staff or approval word and a code word, a few words apart.
_STAFF = r"(?:staff|employees?|managers?|supervisors?|admin(?:istrator)?s?|internal(?! reference)|override|approval|approves?" \
         r"|authori[sz]ation)"
_CODE = r"(?:codes?|pins?|passcodes?)"
STAFF_CODE = re.compile(rf"\b{_STAFF}\W+(?:\w+\W+){{0,3}}?{_CODE}\b|\b{_CODE}\W+(?:\w+\W+){{0,3}}?{_STAFF}\b",
                        re.IGNORECASE)
CODE_WORD = re.compile(rf"\b{_CODE}\b", re.IGNORECASE)
# Codes a customer has every right to talk about: "the code" in these is not the staff code.
CUSTOMER_CODE = re.compile(r"\b(?:promo(?:tional)?|discount|coupon|voucher|gift|zip|postal|post|tracking|reference"
                           r"|verification|confirmation|security|country|area|error|qr|bar|source|offer)\W+codes?\b",
                           re.IGNORECASE)
# The conversation edging toward the code: staff, approvals, the refunds console, being on the team.
APPROACH = re.compile(rf"\b{_STAFF}\b|\b(?:team|colleagues?|co-?workers?|trainer|training|console|limit)\b",
                      re.IGNORECASE)
# A request framed so that a rule-following model forgets its rules: a role, a story, a hypothesis,
# a dictated opening, or rules against refusing.
FRAMED = re.compile(
    r"\bpretend\b|\bimagine\b|\brole-?play|\bin character\b|\bplay a game\b|\blet'?s play\b|\bact as\b"
    r"|\byou(?: are|'re) (?:now )?[A-Z]{3,}\b|\bhypothetic|\bsuppose\b|\bwhat if\b|\bparallel universe\b"
    r"|\b(?:story|novel|fiction|screenplay|script|scene|chapter|poem|character|diary|journal|letter|song|lyrics"
    r"|limerick|haiku|essay|dialogue|monologue|perspective|speech|fairy tale|fable)\b"
    r"|\b(?:begin|start) (?:your |the )?(?:reply|answer|response)\b"
    r"|\b(?:do not|don'?t|never) (?:refuse|apologi[sz]e|say (?:no|sorry))"
    r"|\bno (?:guardrails|limits|restrictions|filters|rules)\b"
    # A persona with no rules: an evil twin, an alter ego, a character to stay in.
    r"|\b(?:evil|dark|shadow|unfiltered|uncensored|opposite|jailbroken) (?:twin|version|side|self|mode|persona"
    r"|counterpart|sibling)\b|\balter ego\b|\bstay in character\b|\bfrom now on,? you(?:'re| are| will be)\b"
    r"|\b(?:unfiltered|uncensored|unrestricted)\b|\bwithout (?:any )?(?:restrictions|limits|filters|rules"
    r"|guardrails|censorship)\b|\b(?:be|become|play|speak as|talk like) (?:her|him|them|my \w+)\b"
    r"|\bplay (?:the )?(?:role|part)\b|\bgrand(?:ma|mother|pa|father)\b|\bbedtime\b|\brehears"
    r"|\bthought experiment\b|\btheoretical(?:ly)?\b|\bin a world where\b"
    # Refusal suppressed: rules against refusing, apologising or warning.
    r"|\b(?:may not|must not|mustn'?t|can'?t|cannot|won'?t|not allowed to|forbidden to|never|do not|don'?t)"
    r" (?:refuse|decline|apologi[sz]e|say ['\"“‘]?(?:no|sorry|you can'?t|i can'?t|cannot|unfortunately)"
    r"|mention (?:policy|policies|rules))\b"
    r"|\bno (?:refusals?|apolog\w*|disclaimers?|excuses|warnings|caveats|prose|moralising|lectures?)\b"
    r"|\b(?:answer|reply|respond|start) with ['\"“]?(?:yes|sure|absolutely|of course)\b",
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


_MONEY = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)|\b(\d[\d,]*(?:\.\d{1,2})?)\s?(?:dollars|usd)\b"
                    r"|\bamount\s*[=:]\s*\$?(\d[\d,]*(?:\.\d{1,2})?)", re.IGNORECASE)
# "750 $", "1.250 $", "1 250 $": the amount before the sign, with a dot, comma or space between thousands,
# as French, German, Spanish or Polish write it.
_MONEY_BEFORE_SIGN = re.compile(r"\b(\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+|\d+)(?:[.,](\d{1,2}))?\s?\$")


def amount(text: str) -> float | None:
    """The largest money amount in the text, in dollars: a request split into small payments
    ("ten payments of $450, $4,500 in all") is judged by what it adds up to when it says so."""
    found = [float(next(g for g in m.groups() if g).replace(",", "")) for m in _MONEY.finditer(text)]
    found += [float(re.sub(r"\D", "", m.group(1)) + "." + (m.group(2) or "0"))
              for m in _MONEY_BEFORE_SIGN.finditer(text)]
    return max(found) if found else None


_PERSON = re.compile(r"\b([A-Z][a-z]+ [A-Z][a-z]+)(?:'s|’s)")
_PERSON_OF = re.compile(r"\b(?:of|for|about)\s+([A-Z][a-z]+ [A-Z][a-z]+)\b")


_ANY_NAME = re.compile(r"(?<!\d )\b([A-Z][a-z]+) ([A-Z][a-z]+)\b")  # not a street: "7 Quarry Road"
_NOT_NAMES = frozenset("acme support corp business pro basic plan plans customer service please hello hi dear what "
                       "which where when who how the refund refunds order orders staff team".split())


def named(text: str) -> str | None:
    """Any "First Last" pair that is not a product, a team or a sentence opening: a person asked about
    where the question names them in any position ("what card does Maria Garcia have?")."""
    for match in _ANY_NAME.finditer(text):
        if not {match.group(1).lower(), match.group(2).lower()} & _NOT_NAMES:
            return match.group(0)
    return None


def person(text: str) -> str | None:
    """A "First Last" name the user asks about, if any."""
    match = _PERSON.search(text) or _PERSON_OF.search(text)
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
