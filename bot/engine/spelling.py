"""A misspelt word read as the word it was meant to be, before anything else reads the message.

The scorer has always looked up a word it does not know among the stories' words, one or two
edits away. Everything else that reads a message did not: the concepts of its situation, who
it names, the law and the subjects saw "pelangan" or "mrah" as a word no story uses, and a
misspelt function word ("yanng", "klau") as an unknown Indonesian word, which is what an
off-topic message is made of. Correcting the message's words once, at the door, lets every
reading meet the same words.

Only a misspelling is corrected, not another word: a word of everyday English or Indonesian
(wordfreq's lists of the ~30,000 most frequent words of each: "finance" is not a misspelt
"fiance", "Semarang" not "sekarang") is kept, and so is a spelling informal Indonesian uses on
purpose: another vowel ("alesan", "pinter") or a dropped "h" ("ketauan"). A changed letter
counts as a typo only where it is a neighbouring key.

Chat Indonesian also drops vowels to type faster ("plnggan", "prshaan", "dket"): a word whose
consonants, in order, are exactly one known word's, with only vowels missing, is read as that
word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz.distance import OSA, Levenshtein

from bot.engine.index import length_buckets, near_words
from bot.engine.normalize import Normalizer
from bot.engine.scoring import informal_roots

_LETTERS = re.compile(r"[^\W\d_]+")
_MIN_LENGTH = 4  # a shorter word one edit from another is as likely another word
_CACHE_LIMIT = 50_000  # words remembered: random input must not grow memory
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_VOWELS = re.compile(r"[aeiou]")
_MIN_SKELETON = 3  # "sm" may be sama, semua, sumu...: too few letters to tell


def _neighbours() -> dict[str, frozenset[str]]:
    """Each letter's neighbouring keys on a QWERTY keyboard (same row and the rows next to it)."""
    where = {key: (row, col) for row, keys in enumerate(_KEYBOARD) for col, key in enumerate(keys)}
    return {
        key: frozenset(
            other
            for other, (r, c) in where.items()
            if other != key and abs(r - row) <= 1 and -1 <= c - col + (r - row) * 0.5 <= 1
        )
        for key, (row, col) in where.items()
    }


_NEAR = _neighbours()


def _skeleton(word: str) -> str:
    """The first letter and the consonants after it: what a word typed without its vowels
    keeps ("plnggn" of "pelanggan")."""
    return word[0] + _VOWELS.sub("", word[1:])


def _subsequence(short: str, long: str) -> bool:
    """Whether `short` is `long` with some letters left out."""
    letters = iter(long)
    return all(letter in letters for letter in short)


def _everyday(word: str) -> bool:
    """A word of everyday English or Indonesian (wordfreq's small lists). Imported here, on
    the first word that looks misspelt: wordfreq takes a quarter of a second to import, and
    most starts and questions do not need it."""
    from wordfreq import zipf_frequency

    return any(zipf_frequency(word, lang, wordlist="small") > 0 for lang in ("en", "id"))


def _typing_slip(word: str, meant: str) -> bool:
    """Whether `word` differs from `meant` as a typing slip does: letters swapped, doubled,
    dropped or added, or a neighbouring key; not as informal Indonesian spells a word (another
    vowel, a dropped "h")."""
    if OSA.distance(word, meant) < Levenshtein.distance(word, meant):
        return True  # two letters swapped
    for op in Levenshtein.editops(word, meant):
        if op.tag == "replace" and meant[op.dest_pos] not in _NEAR[word[op.src_pos]]:
            return False
        if op.tag == "insert" and meant[op.dest_pos] == "h":
            return False
    return True


class Speller:
    """Corrects the words of a message toward the words Kisah reads: the stories' written
    words and the word table's (function words, slang, concept members, roots)."""

    def __init__(self, normalizer: Normalizer, written: Iterable[str], terms: Iterable[str]):
        """`written`: the stories' words as written; `terms`: their canonical words (an
        affixed form of one is a word, not a typo)."""
        self.normalizer = normalizer
        targets = {
            word
            for word in (*written, *normalizer.known)
            if len(word) >= _MIN_LENGTH - 1 and word.isalpha() and word.isascii()
        }
        self.targets = frozenset(targets)
        self.terms = frozenset(terms)
        self._buckets = length_buckets(targets)
        # first letter + the consonants after it -> the known words spelt with them
        self._skeletons: dict[str, list[str]] = {}
        for word in sorted(targets):
            self._skeletons.setdefault(_skeleton(word), []).append(word)
        self._cache: dict[str, str | None] = {}

    def correct(self, text: str) -> str:
        """`text` with each misspelt word replaced by the word it stands for (lower case);
        everything else, punctuation included, as written."""
        return _LETTERS.sub(self._replace, text)

    def _replace(self, found: re.Match[str]) -> str:
        raw = found.group(0)
        word = self.word(raw.lower())
        return raw if word is None else word

    def word(self, raw: str) -> str | None:
        """The word `raw` was meant to be; None if it is a word already, or no single word
        is the nearest one."""
        if raw in self._cache:
            return self._cache[raw]
        result = self._nearest(raw)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[raw] = result
        return result

    def _known(self, word: str) -> bool:
        """A word Kisah reads as it is: written in the stories or the table, in the
        Indonesian dictionary, or an affixed or inflected form of a story's word. (Not of
        any dictionary word: the stemmer reads "perusahan" as per+usah+an, "usah" a word.)"""
        normalizer = self.normalizer
        if word in self.targets or normalizer.is_word(word):
            return True
        for lang in ("id", "en"):
            for form in normalizer.canonical_word(word, lang):
                if form != word and form in self.terms:
                    return True
        return any(  # a spoken verb form: "ngajuin" is ajukan, not a misspelt "ngakuin"
            form in self.terms or normalizer.is_word(form)
            for root in informal_roots(word)
            for form in normalizer.canonical_word(root, "id")
        )

    def _nearest(self, raw: str) -> str | None:
        if not raw.isascii() or not raw.isalpha():
            return None
        word = self.normalizer.collapse(raw)
        if len(word) < _MIN_LENGTH or self._known(word):
            return None
        best: list[str] = []
        best_distance = float("inf")
        for choice, distance in near_words(word, self._buckets, None):
            if not _typing_slip(word, choice):
                continue
            if distance < best_distance:
                best, best_distance = [choice], distance
            elif distance == best_distance:
                best.append(choice)
        if not best:
            best = self._without_vowels(word)
        if not best or _everyday(word):  # looked up last: the lists take a while to load
            return None
        meanings = {self.normalizer.canonical_word(choice, "id") for choice in best}
        return best[0] if len(meanings) == 1 else None

    def _without_vowels(self, word: str) -> list[str]:
        """The known words `word` is, typed with some of its vowels left out."""
        skeleton = _skeleton(word)
        if len(skeleton) < _MIN_SKELETON:
            return []
        return [
            choice
            for choice in self._skeletons.get(skeleton, ())
            if len(choice) > len(word) and _subsequence(word, choice)
        ]
