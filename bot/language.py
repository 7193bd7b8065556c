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

from bot.normalize import get_normalizer

LANGUAGES = ("id", "en")

# English inflections and derivations that Indonesian words do not end with ("refuses",
# "replacement", "negotiation", "waited"), counted as weak evidence.
_EN_MORPHOLOGY = re.compile(r"(tion|tions|ment|ments|ness|ing|ed|ly|ies|es|ship|ful)$")
# Indonesian verb/noun affixes: words like "menelepon", "dibantu", "pelayanannya".
_ID_MORPHOLOGY = re.compile(
    r"^(meng|meny|mem|men|me[lrwy]|ber|ter|di[a-z]{4,}|pe[nmr])|(kan|nya|lah|kah)$"
)


# Informal Indonesian (slang such as "gmn", "udh", "yg" and particles such as "dong", "sih")
# is written only by Indonesian speakers, whereas an English phrase inside an Indonesian
# question is often a quoted term ("know what is expected maksudnya gmn"): such a word counts
# this much.
INFORMAL_WEIGHT = 2.0
# Interjections written in chats of either language: ordinary (single) evidence at most.
_UNIVERSAL = frozenset(
    {
        "ok",
        "okay",
        "oke",
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


@lru_cache(maxsize=1)
def _indonesian_slang() -> frozenset[str]:
    """Slang keys that stand for an Indonesian function word ("gmn", "udh", "gak"); "cust" or
    "customers" say nothing about the sentence's language."""
    table = get_normalizer().table
    id_words = table.language_words["id"]
    en_words = table.language_words["en"]
    return frozenset(
        key
        for key, expansion in table.slang.items()
        if key not in en_words and any(word in id_words for word in expansion)
    )


@lru_cache(maxsize=1)
def _informal_words() -> frozenset[str]:
    """Slang keys standing for Indonesian words, and particles (see `_evidence_words`)."""
    table = get_normalizer().table
    return _indonesian_slang() | (table.particles - table.language_words["en"] - _UNIVERSAL)


@lru_cache(maxsize=1)
def _evidence_words() -> tuple[frozenset[str], frozenset[str]]:
    """Indonesian and English evidence words from the normalisation table; slang counts as
    Indonesian only as far as `_indonesian_slang` says."""
    table = get_normalizer().table
    id_words = table.language_words["id"] | table.particles | _indonesian_slang()
    return id_words, table.language_words["en"]


def language_scores(text: str) -> dict[str, float]:
    """Evidence for each language: counted function words, slang and affixed words."""
    normalizer = get_normalizer()
    table = normalizer.table
    id_words, en_words = _evidence_words()
    informal = _informal_words()
    indonesian = table.roots | table.no_stem | table.stopwords
    scores = {"id": 0.0, "en": 0.0}
    for raw in normalizer.split(text):
        word = normalizer.collapse(raw)
        in_id = word in id_words
        in_en = word in en_words
        if in_id and in_en:
            continue  # "di"/"in"-style clashes carry no evidence
        if in_id:
            scores["id"] += INFORMAL_WEIGHT if word in informal else 1.0
        elif in_en:
            scores["en"] += 1.0
        elif len(word) > 5 and word.isalpha() and _ID_MORPHOLOGY.search(word):
            scores["id"] += 0.5
        elif (
            len(word) > 4
            and word.isalpha()
            and _EN_MORPHOLOGY.search(word)
            and word not in indonesian
        ):
            scores["en"] += 0.5
    return scores


def detect_language(text: str, default: str = "id") -> str:
    """ "id" or "en"; `default` when the text gives no evidence or the evidence is tied."""
    scores = language_scores(text)
    if scores["en"] > scores["id"]:
        return "en"
    if scores["id"] > scores["en"]:
        return "id"
    return default if default in LANGUAGES else "id"
