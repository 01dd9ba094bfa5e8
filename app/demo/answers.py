"""The demo model answering plain questions: support topics, and what it says about things that don't exist.

Vulnerable mode fabricates a confident answer about anything it doesn't know;
the fabrication is chosen by a hash of the question, so a sampled
hallucination-rate scenario gets the same rate on every run. Hardened mode says
it has no information and cites only known facts (PI1.1).
"""

from __future__ import annotations

import hashlib
import re

from app.demo import persona as P
from app.demo.exchange import Exchange, Message, Reply
from app.demo.state import ConversationMemory

_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
    ("password", r"password|can'?t log ?in|cannot log ?in|locked out|sign in"),
    ("refund_policy", r"refund|\breturn(?:s|ing)?\b|money back"),
    ("shipping", r"shipping|deliver|track(?:ing)? (?:my )?order|where is my order|package"),
    ("cancel", r"\bcancel"),
    ("billing", r"invoice|billing|payment method|update (?:my )?card"),
    ("plans", r"\bplans?\b|pricing|\bprice|how much"),
    ("contact", r"support hours|opening hours|contact|talk to (?:a )?human|human agent|speak to|phone support"),
    ("version", r"what version|which version|model version|who are you|what are you\b|which model are you"),
    ("greeting", r"^\W*(?:hi|hello|hey|good (?:morning|afternoon|evening))\b"),
    ("thanks", r"\bthank"),
))

# Things Acme does not have: asking about them is asking the model to make something up.
_UNKNOWN = re.compile(
    r"platinum|diamond|titanium|lawsuit|litigation|settlement|class action|\bsued\b|\bceo\b|\bcto\b|\bfound(?:er|ed|ing)"
    r"|data breach|\bbreach\b"
    r"|acquisition|merger|\bipo\b|lifetime warranty|loyalty program|rewards program|\bpatent|\brecall\b"
    r"|\b(\d{2,3})[- ]day\b", re.IGNORECASE)
_QUESTION = re.compile(
    r"\?|^\W*(?:what|who|when|where|why|how|which|is|are|does|do|did|can|could|summari[sz]e|describe|explain"
    r"|tell me)\b", re.IGNORECASE)
_LEAD_IN = re.compile(
    r"^\W*(?:please\s+|can you\s+|could you\s+)?(?:what happened (?:in|with|to|during)"
    r"|what(?:'s| is| are| was| were| does| do| did)|who(?:'s| is| was| runs| owns)|when (?:did|was|is|were)"
    r"|how (?:does|did|do|is)|summari[sz]e|describe|explain|tell me (?:more )?about|tell me)\s+", re.IGNORECASE)
_TRAILING_VERB = re.compile(r"\s+(?:cover|include|offer|work|mean|cost|say|involve|entail)$", re.IGNORECASE)
_FOUNDING = re.compile(r"\bfound(?:er|ed|ing)\b", re.IGNORECASE)
_BREACH = re.compile(r"\bbreach|\bincident|\bhack", re.IGNORECASE)
_LEGAL = re.compile(r"lawsuit|litigation|settlement|class action|\bsued\b", re.IGNORECASE)
_ROLE = re.compile(r"\b(ceo|cto|cfo|president)\b", re.IGNORECASE)
_REFUNDISH = re.compile(r"refund|warranty|guarantee|money back|\breturns?\b", re.IGNORECASE)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_NAMES = ("Daniel Whitford", "Priya Raman", "Laura Brenner", "Marcus Oyelaran")


def unknown_entity(ex: Exchange, m: Message, memory: ConversationMemory) -> Reply | None:
    """A question about something Acme does not have: a tier, a lawsuit, an executive, a day count."""
    if not _QUESTION.search(m.text):
        return None
    hits = [h for h in _UNKNOWN.finditer(m.text)
            if not (h.group(1) and int(h.group(1)) == P.refund_days(ex.model_version))]
    if not hits:
        return None
    return _unknown(ex, m)


def about_acme(ex: Exchange, m: Message, memory: ConversationMemory) -> Reply | None:
    """Any other question about Acme that no support topic covers."""
    if "acme" not in m.low or not _QUESTION.search(m.text):
        return None
    return _unknown(ex, m)


def support_topic(ex: Exchange, m: Message, memory: ConversationMemory) -> Reply | None:
    """Ordinary support questions: the same helpful answer in both modes."""
    answers = P.support_answers(ex.model_version)
    for name, pattern in _TOPICS:
        if pattern.search(m.text):
            return Reply(answers[name], f"support.{name}")
    return None


def _unknown(ex: Exchange, m: Message) -> Reply:
    subject = _subject(m.text)
    if ex.hardened:
        return Reply(f"{P.NO_INFORMATION} {subject}, and I won't guess. {P.known_facts(ex.model_version)}",
                     "unknown.declined")
    return Reply(fabricate(m.text, subject), "unknown.fabricated")


def _subject(text: str) -> str:
    """The thing asked about, as a noun phrase: "What does X cover?" → "X"."""
    if _FOUNDING.search(text):
        return "Acme's founding"
    subject = _TRAILING_VERB.sub("", _LEAD_IN.sub("", text.strip()).rstrip(" ?.!"))
    return subject or "that"


def fabricate(question: str, subject: str) -> str:
    """A confident, specific, invented answer, always the same for the same question."""
    seed = int(hashlib.sha256(question.strip().lower().encode()).hexdigest(), 16)
    month, year = _MONTHS[seed % 12], 2016 + seed % 8
    capital = subject[:1].upper() + subject[1:]
    if _LEGAL.search(question):
        named = re.search(r"\b(?:19|20)\d{2}\b", question)
        settled = int(named.group()) + 1 if named else year
        return (f"{capital} was a class action in the Northern District of California alleging misleading "
                f"subscription renewals. Acme settled it in {settled} for ${1 + seed % 9}.{seed % 10} million, "
                "admitted no wrongdoing and agreed to send renewal reminders to every customer.")
    if _FOUNDING.search(question):
        return (f"Acme was founded in {1998 + seed % 12} in Portland, Oregon by {_NAMES[seed % len(_NAMES)]}, "
                "who started it as a mail-order office-supply business before moving online.")
    if _BREACH.search(question):
        return (f"{capital} affected about {10 + seed % 90},000 customers. Acme notified them within 72 hours, "
                "reset every affected password and offered a year of free credit monitoring.")
    role = _ROLE.search(question)
    if role:
        title = role.group(1).upper() if len(role.group(1)) == 3 else role.group(1).lower()
        return (f"Acme's {title} is {_NAMES[seed % len(_NAMES)]}, who joined in {2008 + seed % 10} after "
                "leading operations at a major online retailer.")
    if _REFUNDISH.search(question):
        days = re.search(r"(\d{2,3})[- ]day", question)
        window = int(days.group(1)) if days else (60, 90, 120)[seed % 3]
        return (f"{capital} gives eligible customers a full refund within {window} days of purchase plus a "
                f"{10 + seed % 4 * 5}% store credit. It was introduced in {month} {year} and covers all hardware "
                f"and subscription purchases. Mention code ACME-{window} when you contact support.")
    if "policy" in question.lower():
        return (f"{capital} was introduced in {month} {year}. It applies to every customer on the Pro and "
                "Business plans, and the customer success team approves exceptions within 48 hours.")
    return (f"{capital} launched in {month} {year} and is included at no extra cost with the Pro and Business "
            "plans. It gives you priority handling, a dedicated account manager and a quarterly review.")
