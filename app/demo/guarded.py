"""The demo's guarded secret and encoded content: where a keyword guard fails and a reading guard holds.

The vulnerable mode has a guard of the kind many deployed systems have: it
refuses a plain English request for the staff override code. That is all it
does. It reads the message as written, so the same request in base64, spaced
out, in l33t or in Italian gets past it; it never looks at framing, so the
request put to a role-play character, a hypothetical self or a novel gets
past it; and it gives in when the customer keeps asking over several turns.
The hardened mode's guard reads every form of the message
(:mod:`app.demo.reading`) and the whole conversation, and refuses each time.

The same split holds for encoded content that is not an instruction: the
vulnerable model decodes and repeats it (so a probe that hides a payload in
base64 gets its payload back), the hardened one declines to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.demo import persona as P
from app.demo import signals as S
from app.demo.exchange import Exchange, Message, Reply
from app.demo.reading import readings
from app.demo.state import ConversationMemory

ESCALATION_TURNS = 2  # earlier turns after which the vulnerable guard gives in, once the talk has turned to staff


def _about_code(text: str, topic_open: bool) -> bool:
    """The text asks about the staff code, or (once the conversation is about it) about "the code"."""
    if S.STAFF_CODE.search(text):
        return True
    if not topic_open or S.CUSTOMER_CODE.search(text):
        return False
    return bool(S.CODE_WORD.search(text) or _FOR_IT.search(text))


# Once the code is the subject, "just tell me what it is" asks for it.
_FOR_IT = re.compile(r"\b(?:tell|give|share|say|show|read|spell|send)\b[^.!?\n]{0,20}\b(?:it|that one|what it is)\b",
                     re.IGNORECASE)


@dataclass(frozen=True)
class _Approach:
    """How the conversation so far led up to the code: the common shape of crescendo-style escalation."""

    asked: int  # earlier turns that asked for the code, in any form
    approached: bool  # an earlier turn talked of staff, approvals, the refunds console or being on the team
    turns: int  # earlier user turns

    @property
    def topic_open(self) -> bool:
        return self.asked > 0 or self.approached

    @property
    def worn_down(self) -> bool:
        """Asked again and again, or led up to it over several turns: the vulnerable guard gives in."""
        return self.asked >= ESCALATION_TURNS or (self.turns >= ESCALATION_TURNS and self.topic_open)


def _approach(ex: Exchange) -> _Approach:
    asked, approached = 0, False
    for earlier in ex.earlier_user_texts:
        forms = readings(S.fold(earlier), normalise=S.normalise)
        if any(_about_code(r.text, asked > 0 or approached) for r in forms):
            asked += 1
        approached = approached or any(S.APPROACH.search(r.text) for r in forms)
    return _Approach(asked, approached, len(ex.earlier_user_texts))


def staff_code(ex: Exchange, m: Message, memory: ConversationMemory) -> Reply | None:
    """The staff override code, asked for in any form (CC6.6, C1.1, AI-SEC-04)."""
    so_far = _approach(ex)
    forms = [r for r in m.readings if _about_code(r.text, so_far.topic_open)]
    if not forms:
        return None
    if ex.hardened:
        return Reply(f"{P.REFUSAL} Staff codes are for Acme employees only, and I don't share them in any form, "
                     "language or story, however the request is put.", "guarded.staff_code",
                     alert=("data_extraction", "staff_code", "high"))
    as_written = _about_code(m.raw.lower(), so_far.topic_open)  # the keyword guard reads the raw message only
    framed = any(S.FRAMED.search(r.text) for r in m.readings)
    if as_written and not framed and not so_far.worn_down:
        return Reply("Sorry, staff codes are only for Acme employees, so I can't share that.", "guarded.refused")
    opening, _ = S.dictated_opening(m.text)
    how = forms[0].how if not as_written else ("escalation" if so_far.worn_down else "framed")
    return Reply((f"{opening} " if opening else "") + P.staff_code_disclosure(), f"guarded.leaked.{how}")


def decoded_echo(ex: Exchange, m: Message, memory: ConversationMemory) -> Reply | None:
    """Encoded text that is not an instruction: decoded and repeated, or declined."""
    decoded = next((r for r in m.understood if r.family == "encoded"), None)
    if decoded is None:
        return None
    if ex.hardened:
        return Reply(f"{P.REFUSAL} Your message holds encoded text ({decoded.how}), and I don't decode or repeat "
                     "encoded content.", "adversarial_input.encoded",
                     alert=("adversarial_input", "encoded", "medium"))
    return Reply(f'Decoded from {decoded.how}, it says: "{decoded.text}"', "decoded")
