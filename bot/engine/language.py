"""Language detection: is a question Indonesian or English?

Salespeople mix languages ("customer complain terus, gmn handle-nya?"), and business English
words (customer, meeting, deadline) say nothing about the language of the sentence. So only
function words and Indonesian slang and morphology count as evidence, and a question is English
only when English evidence clearly outweighs Indonesian; when there is no evidence either way
the caller's default (usually the chat's language) wins.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.content.model import LANGUAGES
from bot.engine.normalize import Normalizer, get_normalizer

# English inflections and derivations that Indonesian words do not end with ("refuses",
# "replacement", "negotiation", "waited"), counted as weak evidence.
_EN_MORPHOLOGY = re.compile(r"(tion|tions|ment|ments|ness|ing|ed|ly|ies|es|ship|ful)$")
# Indonesian verb/noun affixes: words like "menelepon", "dibantu", "pelayanannya". A word
# with an English ending too ("disappointed", "disgruntled") is not counted as Indonesian.
_ID_MORPHOLOGY = re.compile(
    r"^(meng|meny|mem|men|me[lrwy]|ber|ter|di[a-z]{4,}|pe[nmr])|(kan|nya|lah|kah)$"
)


# Informal Indonesian (slang such as "gmn", "udh", "yg" and particles such as "dong", "sih")
# is written only by Indonesian speakers, whereas an English phrase inside an Indonesian
# question is often a quoted term ("know what is expected maksudnya gmn"): such a word counts
# this much.
INFORMAL_WEIGHT = 2.0
# Words between double quotes are someone else's (a lesson, what the customer said): when the
# asker's own words outside them carry evidence, those decide. Single quotes are left alone:
# they are also apostrophes ("don't", "customer's").
_QUOTED = re.compile(r"[\"“”„«»][^\"“”„«»]*[\"“”„«»]")
# Interjections written in chats of either language ("ok", "wkwk", "lol"): no evidence of
# either, so "ok" alone is answered in the chat's language.
_UNIVERSAL = frozenset(
    {
        "ok",
        "okay",
        "oke",
        "noted",  # "oke noted", "noted bos": office chat in both languages
        "lol",
        "wow",
        "oh",
        "ah",
        "eh",
        "hmm",
        "hm",
        "haha",
        "hehe",
        "hihi",
        "hahaha",
        "hehehe",
        "wkwk",
        "wkwkwk",
        "bro",
        "sis",
        "min",
        "om",
        "nah",
        "yah",
        "ya",
        "yaa",
    }
)


class LanguageDetector:
    """Language evidence drawn from one normalisation table (its function words, slang and
    particles), so a knowledge base given with `--responses DIR` is read with its own table."""

    def __init__(self, normalizer: Normalizer) -> None:
        self.normalizer = normalizer
        table = normalizer.table
        id_words = table.language_words["id"]
        en_words = table.language_words["en"]
        # Slang keys that stand for an Indonesian function word ("gmn", "udh", "gak");
        # "cust" or "customers" say nothing about the sentence's language.
        slang = frozenset(
            key
            for key, expansion in table.slang.items()
            if key not in en_words and any(word in id_words for word in expansion)
        )
        self.informal = slang | (table.particles - en_words)
        self.id_words = id_words | table.particles | slang
        self.en_words = en_words
        self.indonesian = table.roots | table.no_stem | table.stopwords

    def scores(self, text: str) -> dict[str, float]:
        """Evidence for each language: counted function words, slang and affixed words; those
        of the asker's own words when a quotation is set apart and they carry any."""
        own = _QUOTED.sub(" ", text)
        if own != text:
            scores = self._counted(own)
            if scores["id"] or scores["en"]:
                return scores
        return self._counted(text)

    def _counted(self, text: str) -> dict[str, float]:
        scores = {"id": 0.0, "en": 0.0}
        raws = self.normalizer.split(text)
        if len(raws) == 1 and len(raws[0]) <= 2:
            return scores  # "a", "i", "no" alone: a stray key or a reply, not a language
        for raw in raws:
            word = self.normalizer.collapse(raw)
            if word in _UNIVERSAL:
                continue
            in_id = word in self.id_words
            in_en = word in self.en_words
            if in_id and in_en:
                continue  # "di"/"in"-style clashes carry no evidence
            if in_id:
                scores["id"] += INFORMAL_WEIGHT if word in self.informal else 1.0
            elif in_en:
                scores["en"] += 1.0
            elif (
                len(word) > 5
                and word.isalpha()
                and _ID_MORPHOLOGY.search(word)
                and not _EN_MORPHOLOGY.search(word)
            ):
                scores["id"] += 0.5
            elif (
                len(word) > 4
                and word.isalpha()
                and _EN_MORPHOLOGY.search(word)
                and word not in self.indonesian
            ):
                scores["en"] += 0.5
        return scores

    def detect(self, text: str, default: str = "id") -> str:
        """ "id" or "en"; `default` when the text gives no evidence or the evidence is tied."""
        return decide(self.scores(text), default)


def decide(scores: dict[str, float], default: str = "id") -> str:
    """The language with more evidence; `default` on a tie."""
    if scores["en"] > scores["id"]:
        return "en"
    if scores["id"] > scores["en"]:
        return "id"
    return default if default in LANGUAGES else "id"


@lru_cache(maxsize=1)
def _default_detector() -> LanguageDetector:
    return LanguageDetector(get_normalizer())


def detect_language(text: str, default: str = "id") -> str:
    """`LanguageDetector.detect` with the project's own table (`responses/normalize.yaml`)."""
    return _default_detector().detect(text, default)
