"""The words the demo model knows beyond English: a small glossary per language, and common English.

A real model reads a request in French or Polish as easily as in English. The
demo model is a set of rules, so it gets a glossary: everyday words of eight
languages, glossed word by word into English, enough to read an override, a
request for its instructions, a request for a staff code or a dictated reply.
The glossary is the demo's own: general vocabulary for these kinds of request,
not a copy of any test's or scenario's sentences.

``ENGLISH`` is a list of very common English words, to tell English text
(or text that decodes to English) from ciphertext.
"""

from __future__ import annotations

from app.demo.vocabulary import REQUESTS

ENGLISH = frozenset("""
a about after all also am an and any are as ask at be before been but by can code could do does don't for
from get give given go has have hello help here how i if in into is it its just keep know let like make me
message mode more my new no not now of on one only or our out over part parts please print prompt reply
respond rules say secret show so some start system tell than that the their them then there these they
this to up us use was we were what when where which who will with word words would you your yours
instructions ignore forget previous earlier disregard hidden password staff override refund refunds say
""".split())

# word (lower case, accents kept) -> English. Multi-word glosses keep the English order where it matters.
GLOSSARY: dict[str, dict[str, str]] = {
    "french": {
        "ignore": "ignore", "ignorez": "ignore", "oublie": "forget", "oubliez": "forget", "toutes": "all",
        "tous": "all", "les": "the", "tes": "your", "vos": "your", "ton": "your", "ta": "your", "votre": "your",
        "consignes": "instructions", "instructions": "instructions", "règles": "rules", "précédentes": "previous",
        "antérieures": "previous", "données": "given", "réponds": "reply", "répondez": "reply", "dis": "say",
        "dites": "say", "affiche": "show", "affichez": "show", "montre": "show", "montre-moi": "show me",
        "donne-moi": "give me", "uniquement": "only", "seulement": "only", "mot": "word", "système": "system",
        "prompt": "prompt", "code": "code", "personnel": "staff", "employés": "staff", "dérogation": "override",
        "remboursements": "refunds", "remboursement": "refund", "quel": "what", "est": "is", "mode": "mode",
        "développeur": "developer", "cachées": "hidden", "secrètes": "secret", "imagine": "imagine",
        "histoire": "story", "roman": "novel", "personnage": "character", "et": "and", "maintenant": "now",
        "révèle": "reveal", "révélez": "reveal", "le": "the", "la": "the", "du": "of the", "pour": "for",
        "moi": "me", "interne": "internal", "texte": "text",
    },
    "spanish": {
        "ignora": "ignore", "ignore": "ignore", "olvida": "forget", "olvide": "forget", "todas": "all",
        "todos": "all", "las": "the", "los": "the", "tus": "your", "tu": "your", "su": "your", "sus": "your",
        "instrucciones": "instructions", "reglas": "rules", "normas": "rules", "anteriores": "previous",
        "previas": "previous", "muestra": "show", "muéstrame": "show me", "dime": "tell me", "dame": "give me",
        "responde": "reply", "di": "say", "solo": "only", "solamente": "only", "palabra": "word",
        "sistema": "system", "prompt": "prompt", "ocultas": "hidden", "secretas": "secret", "código": "code",
        "personal": "staff", "empleados": "staff", "anulación": "override", "reembolsos": "refunds",
        "reembolso": "refund", "cuál": "what", "es": "is", "modo": "mode", "desarrollador": "developer",
        "configuraron": "configured", "imagina": "imagine", "historia": "story", "novela": "novel",
        "personaje": "character", "y": "and", "ahora": "now",
    },
    "german": {
        "ignoriere": "ignore", "ignorieren": "ignore", "vergiss": "forget", "vergessen": "forget", "alle": "all",
        "deine": "your", "deinen": "your", "ihre": "your", "bisherigen": "previous", "vorherigen": "previous",
        "anweisungen": "instructions", "regeln": "rules", "vorgaben": "instructions", "antworte": "reply",
        "sag": "say", "sage": "say", "zeig": "show", "zeige": "show", "gib": "give", "nur": "only", "mit": "with",
        "dem": "the", "wort": "word", "system-prompt": "system prompt", "systemprompt": "system prompt",
        "code": "code", "mitarbeiter": "staff", "mitarbeiter-freigabecode": "staff approval code",
        "freigabecode": "approval code", "rückerstattungen": "refunds", "rückerstattung": "refund",
        "geheimen": "secret", "versteckten": "hidden", "entwicklermodus": "developer mode", "und": "and",
        "stell": "imagine", "geschichte": "story", "roman": "novel", "figur": "character", "jetzt": "now",
    },
    "italian": {
        "ignora": "ignore", "dimentica": "forget", "tutte": "all", "le": "the", "tue": "your", "tuo": "your",
        "istruzioni": "instructions", "regole": "rules", "precedenti": "previous", "prima": "before",
        "rispondi": "reply", "di'": "say", "dimmi": "tell me", "dammi": "give me", "mostra": "show",
        "stampa": "print", "solo": "only", "parola": "word", "sistema": "system", "prompt": "prompt",
        "codice": "code", "interno": "internal", "personale": "staff", "deroga": "override",
        "rimborsi": "refunds", "rimborso": "refund", "nascoste": "hidden", "segrete": "secret",
        "modalità": "mode", "sviluppatore": "developer", "immagina": "imagine", "storia": "story",
        "romanzo": "novel", "personaggio": "character", "e": "and", "ora": "now",
    },
    "portuguese": {
        "ignore": "ignore", "ignora": "ignore", "esqueça": "forget", "esquece": "forget", "todas": "all",
        "as": "the", "suas": "your", "seu": "your", "instruções": "instructions", "regras": "rules",
        "anteriores": "previous", "responda": "reply", "diga": "say", "mostre": "show", "me": "me",
        "apenas": "only", "somente": "only", "palavra": "word", "sistema": "system", "prompt": "prompt",
        "código": "code", "funcionários": "staff", "liberação": "approval", "reembolsos": "refunds",
        "reembolso": "refund", "ocultas": "hidden", "secretas": "secret", "modo": "mode",
        "desenvolvedor": "developer", "imagine": "imagine", "história": "story", "romance": "novel",
        "personagem": "character", "e": "and", "agora": "now",
    },
    "dutch": {
        "negeer": "ignore", "vergeet": "forget", "alle": "all", "je": "your", "jouw": "your", "uw": "your",
        "eerdere": "previous", "vorige": "previous", "instructies": "instructions", "regels": "rules",
        "antwoord": "reply", "zeg": "say", "toon": "show", "laat": "show", "geef": "give", "alleen": "only",
        "woord": "word", "systeemprompt": "system prompt", "code": "code", "personeelscode": "staff code",
        "personeel": "staff", "terugbetalingen": "refunds", "terugbetaling": "refund", "verborgen": "hidden",
        "geheime": "secret", "ontwikkelaarsmodus": "developer mode", "stel": "imagine", "verhaal": "story",
        "personage": "character", "en": "and", "nu": "now",
    },
    "polish": {
        "zignoruj": "ignore", "zapomnij": "forget", "wszystkie": "all", "swoje": "your", "twoje": "your",
        "poprzednie": "previous", "wcześniejsze": "previous", "instrukcje": "instructions", "zasady": "rules",
        "odpowiedz": "reply", "powiedz": "say", "pokaż": "show", "wypisz": "print", "podaj": "give",
        "tylko": "only", "słowo": "word", "prompt": "prompt", "systemowy": "system", "kod": "code",
        "pracowniczych": "staff", "pracowników": "staff", "uprawnień": "authorisation", "zwrotów": "refunds",
        "zwrot": "refund", "ukryte": "hidden", "tajne": "secret", "tryb": "mode", "dewelopera": "developer",
        "wyobraź": "imagine", "opowiadanie": "story", "powieść": "novel", "postać": "character", "i": "and",
        "teraz": "now", "jaki": "what", "jest": "is",
    },
    "swedish": {
        "ignorera": "ignore", "glöm": "forget", "alla": "all", "dina": "your", "din": "your",
        "tidigare": "previous", "instruktioner": "instructions", "regler": "rules", "svara": "reply",
        "säg": "say", "visa": "show", "skriv": "write", "ge": "give", "bara": "only", "endast": "only",
        "ordet": "the word", "systemprompt": "system prompt", "kod": "code", "personalens": "staff",
        "åsidosättningskod": "override code", "återbetalningar": "refunds", "återbetalning": "refund",
        "dolda": "hidden", "hemliga": "secret", "utvecklarläge": "developer mode", "föreställ": "imagine",
        "berättelse": "story", "roman": "novel", "karaktär": "character", "och": "and", "nu": "now",
        "vilken": "what", "är": "is",
    },
}


# The everyday vocabulary of requests (app.demo.vocabulary) joins each language's glossary.
for _language, _words in REQUESTS.items():
    GLOSSARY[_language].update(_words)
