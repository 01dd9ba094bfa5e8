"""Translation strategies: the library's attack messages in other languages, from shipped files.

Guards and refusal training are strongest in English; the same request in
Polish or Swedish often gets through. Redline works offline and has no
translation model, so each language is a file of translations written by hand
(``assets/strategies/languages/*.yaml``), keyed by the English message exactly
as a scenario sends it. A message with no translation cannot be translated:
:class:`NotApplicable` says so, and the variant is skipped with that reason
rather than sent half in English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

MAX_LANGUAGE_FILES = 64


class NotApplicable(ValueError):
    """The strategy cannot transform this message (no translation exists for it)."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    en: str = Field(min_length=1, max_length=4000)
    text: str = Field(min_length=1, max_length=8000)


class _Review(BaseModel):
    """Who checked the translations as a native speaker, and when: empty until someone has."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    checked_by: str = Field(default="", max_length=200)
    checked_on: date | None = None


class _LanguageFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    language: str = Field(min_length=1)
    review: _Review = _Review()
    translations: list[_Entry] = Field(min_length=1, max_length=2000)


def key(text: str) -> str:
    """The lookup key of an English message: its words, one space apart (YAML folds line ends)."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Translation:
    """One language's translations, both ways."""

    name: str
    language: str
    source: str
    to_language: dict[str, str]
    checked_by: str = ""
    checked_on: str = ""

    @property
    def review(self) -> str:
        """What the file says of its review, in the words the strategy list, the run and the report use.

        A translation nobody has checked as a native speaker may read oddly to
        the model under test, which weakens a "holds under Polish" claim; so
        the claim always travels with this sentence.
        """
        if self.checked_by:
            return f"checked by {self.checked_by} (native {self.language} speaker)" + (
                f" on {self.checked_on}" if self.checked_on else "")
        return f"not yet checked by a native {self.language} speaker"

    def translate(self, text: str) -> str:
        found = self.to_language.get(key(text))
        if found is None:
            raise NotApplicable(f"no {self.language} translation ships for the message {key(text)[:60]!r}")
        return found

    def back(self, text: str) -> str:
        """The English message a translation came from."""
        for english, translated in self.to_language.items():
            if translated == text:
                return english
        raise ValueError(f"the prompt is not one of the {self.language} translations")


def languages_dir() -> Path:
    from app.resources import assets_dir

    return assets_dir() / "strategies" / "languages"


@lru_cache(maxsize=1)
def shipped() -> tuple[Translation, ...]:
    """Every shipped language, in file-name order; a malformed file raises FileFormatError."""
    return tuple(load_language(p) for p in sorted(languages_dir().glob("*.yaml"))[:MAX_LANGUAGE_FILES])


def load_language(path: Path) -> Translation:
    from app.errors import FileFormatError, Problem
    from app.formats.yamlsource import load_yaml, validate

    data, where = load_yaml(path)
    spec = validate(_LanguageFile, data, where, path)
    table: dict[str, str] = {}
    for i, entry in enumerate(spec.translations):
        english = key(entry.en)
        if english in table:
            line, column = where.nearest(("translations", i, "en"))
            raise FileFormatError([Problem(str(path), line, column, f"translations[{i}].en",
                                           "this English message is translated twice")])
        table[english] = entry.text.strip()
    checked_on = spec.review.checked_on.isoformat() if spec.review.checked_on else ""
    return Translation(spec.name, spec.language, str(path), table, spec.review.checked_by, checked_on)


def find(name: str) -> Translation | None:
    return next((t for t in shipped() if t.name == name), None)
