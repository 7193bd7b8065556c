"""Normalisation: informal Indonesian and English -> canonical words the matcher can compare.

Users write "gmn dong, cust udh ngamuk bgt" or "customers keep complaining"; the stories are
written in standard Indonesian and English. Both sides go through the same pipeline, so they
meet on canonical words: lower-case, punctuation and reduplication removed, repeated letters
collapsed, slang expanded, particles dropped, affixes stripped (preferring the stories' roots,
then the ~30,000 roots of PySastrawi's Indonesian dictionary, because a stemmer without one
over-stems "pesan" to "pes" and "pernah" to "rnah"), synonyms in either language folded into one
concept, and fixed phrases folded into one word.

The word lists live in `responses/normalize.yaml` so authors can extend them without Python;
they are loaded once per process (read and checked by bot/engine/wordtable.py; the topic checks
the verdict reads are in bot/engine/topics.py). Typos are left to the matcher's fuzzy scoring.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import chain, groupby
from operator import eq
from pathlib import Path

from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from bot.content.model import LANGUAGES
from bot.engine.topics import TopicChecks
from bot.engine.wordtable import DEFAULT_TABLE, Table, load_table

_VOWELS = frozenset("aeiou")
_CACHE_LIMIT = 200_000  # words remembered; random input must not grow memory without bound
_WORD = re.compile(r"[a-z0-9]+")
# A link's words are an address, not the situation ("https://example.com/klien-marah").
_URL = re.compile(r"\b(?:https?://|www\.)\S+")
_APOSTROPHE_S = re.compile(r"['’`]s\b")
_APOSTROPHE = re.compile(r"['’`]")
# English contractions whose letters, once the apostrophe is gone, spell another word: "I'll"
# would be "ill" (sick), "I'd" "id", "we'd" "wed", "she'll" "shell". Spelt out first; the
# others ("don't", "I'm") are the word table's slang.
_CONTRACTION = re.compile(r"(?<=[a-z])['’`](ll|d|re|ve|m)\b")
_CONTRACTED = {"ll": " will", "d": " would", "re": " are", "ve": " have", "m": " am"}
_REDUPLICATION_DIGIT = re.compile(r"^([a-z]{2,})2$")
_RUN3 = re.compile(r"(.)\1{2,}")
_RUN2 = re.compile(r"(.)\1")
# Letter patterns that do not occur in native Indonesian words: such words are English (or
# loanwords) and get no Indonesian affix stripping ("director" must not lose "di-").
_ENGLISH_LIKE = re.compile(
    r"th|sh|ph|ck|oo|ee|ea|ou|q|x|v|z|w$|tion|ight|nn|ll|ss|tt|ment|ness|ly$|or$|er$"
)


# Inflectional endings removed before the English-likeness check ("pesanannya" has "nn" only
# because "-nya" follows "-an").
_INFLECTION = re.compile(r"(nya|lah|kah|ku|mu)$")


def _prefix_variants(word: str) -> list[tuple[str, str]]:
    """Possible (prefix, rest) splits with meN-/peN- nasal recoding; several when ambiguous.

    "mengirim" can be meng+irim or meng+kirim, "memesan" mem+esan or mem+pesan: the caller
    prefers a variant that is a known root, else the first (the commonest reading).
    """
    out: list[tuple[str, str]] = []

    def nasal(head: str, rest: str) -> None:
        if not rest:
            return
        first = rest[0]
        if head.endswith("ny") and first in _VOWELS:
            out.append((head, "s" + rest))
            out.append((head, "c" + rest))
        elif head.endswith("ng"):
            if first in _VOWELS:
                out.append((head, rest))
                out.append((head, "k" + rest))
            elif first in "ghk":
                out.append((head, rest))
        elif head.endswith("n") and not head.endswith("ng"):
            if first in _VOWELS:
                out.append((head, "t" + rest))
                out.append((head, rest))
                out.append((head[:-1], "n" + rest))  # "menikah" is me+nikah
            elif first in "cdjstz":
                out.append((head, rest))
        elif head.endswith("m"):
            if first in _VOWELS:
                out.append((head, "p" + rest))
                out.append((head, rest))
                out.append((head[:-1], "m" + rest))  # "memohon" is me+mohon
            elif first in "bfpv":
                out.append((head, rest))
        elif first in "lrwymn":  # me-/pe- before l, r, w, y, m, n
            out.append((head, rest))

    for base in ("me", "pe"):
        if word.startswith(base):
            for head in (base + "ny", base + "ng", base + "n", base + "m"):
                if word.startswith(head):
                    nasal(head, word[len(head) :])
                    break
            else:
                nasal(base, word[len(base) :])
    for head in ("memper", "diper", "per", "ber", "ter"):
        if word.startswith(head) and len(word) > len(head) + 2:
            out.append((head, word[len(head) :]))
    if word.startswith("bel") and word[3:4] in _VOWELS:  # belajar -> ajar
        out.append(("bel", word[3:]))
    if word.startswith("be") and word[2:5].startswith("ker"):  # bekerja -> kerja
        out.append(("be", word[2:]))
    for head in ("di", "ke", "se"):
        if word.startswith(head) and len(word) > len(head) + 2:
            out.append((head, word[len(head) :]))
    if word.startswith("nge") and len(word) > 5:  # ngebantu -> bantu
        out.append(("nge", word[3:]))
    if word.startswith("ny") and word[2:3] in _VOWELS:  # nyuruh -> suruh, nyoba -> coba
        out.append(("ny", "s" + word[2:]))
        out.append(("ny", "c" + word[2:]))
    if word.startswith("ng") and word[2:3] in _VOWELS:  # ngajak -> ajak, ngirim -> kirim
        out.append(("ng", word[2:]))
        out.append(("ng", "k" + word[2:]))
    return out


# Which suffixes may close a confix with which prefix (Indonesian morphology): "di...kan",
# "ke...an", "pe...an"; a pair outside this table is not stripped in the fallback.
_CONFIX = {
    "di": ("kan", "i", "in"),
    "diper": ("kan", "i", "in"),
    "ke": ("an",),
    "ber": ("an", "kan"),
    "ter": ("kan", "i"),
    "per": ("an", "kan", "i"),
    "memper": ("kan", "i"),
    "se": ("nya",),
    "nge": ("in",),
    "ng": ("in", "kan", "i"),
    "ny": ("in", "kan", "i"),
}


class Normalizer(TopicChecks):
    """Applies one table; memoises each word's canonical form (the vocabulary is small)."""

    def __init__(self, table: Table, dictionary: frozenset[str] | None = None) -> None:
        self.table = table
        # Indonesian root words (PySastrawi's dictionary): a word listed there is a word of its
        # own, not an affixed form to strip ("pernah" is not per-nah) nor a typo to correct
        # ("toko" is not a misspelt "tokoh").
        self.dictionary = indonesian_roots() if dictionary is None else dictionary
        self.protected = table.no_stem | table.stopwords | table.particles
        self.known = (
            table.roots
            | table.no_stem
            | table.stopwords
            | table.particles
            | frozenset(table.slang)
            | frozenset(table.concepts)
        )
        # language -> written word -> its canonical words: looked up with `map` over a
        # whole text, since building the index folds millions of words of a few thousand kinds
        self._word_cache: dict[str, dict[str, tuple[str, ...]]] = {}
        # The last text split and its words: building the index splits each story text for
        # its canonical words, then again for its written forms.
        self._last_split: tuple[str, tuple[str, ...]] = ("", ())
        self._stem_cache: dict[str, str] = {}
        # Synonyms meet whatever affix they carry: "merekomendasikan" stems to "rekomendasi",
        # which must reach the same concept as the listed "rekomendasikan".
        self.concepts: dict[str, str] = dict(table.concepts)
        self.concepts_en: dict[str, str] = dict(table.concepts)
        for member, head in table.concepts.items():
            # ...but a stem that is a word of its own keeps its meaning ("kesukaan" is a
            # hobby, "suka" is just "like").
            for stem, target in (
                (self.stem_id(member), self.concepts),
                (self.stem_en(member), self.concepts_en),
            ):
                if (
                    stem not in table.roots
                    and stem not in self.protected
                    and stem not in self.dictionary
                ):
                    target.setdefault(stem, head)
        # Everyday words, folded like any other word so they match whatever the stemmer makes.
        self.common: frozenset[str] = frozenset(
            form
            for lang, words in table.common.items()
            for word in words
            for form in self.canonical_word(word, lang)
        )
        # Phrase keys are written naturally ("minta maaf"); fold them with the word pipeline
        # so they meet the questions whatever slang or affix the user used.
        phrases: dict[tuple[str, ...], str] = {}
        for source in (table.concept_phrases, table.phrases):
            for key, value in source.items():
                for lang in LANGUAGES:
                    folded = tuple(self._fold(key.split(), lang))
                    if len(folded) > 1:
                        phrases.setdefault(folded, table.concepts.get(value, value))
        self.phrases = phrases
        self.max_phrase = max((len(k) for k in phrases), default=1)
        # A text holds a phrase only if it holds the phrase's first two words side by side:
        # most texts hold none, and that is checked in C (building the index folds millions
        # of texts; phrases starting with an everyday word, "in order to", "kasih tahu", made
        # a check of first words alone send most texts down the slow path).
        self.phrase_pairs = frozenset(k[:2] for k in phrases)
        self._read_topics(table)

    # --- words -------------------------------------------------------------------------
    def collapse(self, word: str) -> str:
        """Collapse stretched letters: "bangettt" -> "banget", "pleaseee" -> "please"."""
        if _RUN3.search(word):
            double = _RUN3.sub(r"\1\1", word)
            single = _RUN3.sub(r"\1", word)
            if double in self.known:
                return double
            word = single
        if word not in self.known and _RUN2.search(word):
            single = _RUN2.sub(r"\1", word)
            if single in self.known:  # "gakk" -> "gak", "bgtt" -> "bgt"
                return single
        return word

    def stem_id(self, word: str) -> str:
        """Indonesian affix stripping, preferring known roots, guarded against over-stemming."""
        cached = self._stem_cache.get(word)
        if cached is not None:
            return cached
        result = self._stem_id(word)
        if len(self._stem_cache) < _CACHE_LIMIT:
            self._stem_cache[word] = result
        return result

    def _stem_id(self, word: str) -> str:
        t = self.table
        if (
            len(word) <= t.min_stem
            or word in self.protected
            or word in t.roots
            or word in self.dictionary
            or not word.isalpha()
        ):
            return word
        base = _INFLECTION.sub("", word)
        if _ENGLISH_LIKE.search(base):
            # an English word with an Indonesian ending: "customernya" -> "customer"
            return base if len(base) >= t.min_stem and base != word else word
        # Every reading: [particle] [possessive] [derivational suffix] and up to two prefixes.
        bases = [word]
        for group in (t.particle_suffixes, t.possessive_suffixes):
            extra = []
            for base in bases:
                for suffix in group:
                    if base.endswith(suffix) and len(base) - len(suffix) >= 3:
                        extra.append(base[: -len(suffix)])
            bases += extra
        forms: list[tuple[str, str, str]] = []  # (stem, prefix, suffix)
        for base in bases:
            forms.append((base, "", ""))
            for suffix in t.derivational_suffixes:
                if base.endswith(suffix) and len(base) - len(suffix) >= 3:
                    forms.append((base[: -len(suffix)], "", suffix))
        candidates: list[tuple[str, str, str]] = list(forms)
        for stem, _, suffix in forms:
            for prefix, rest in _prefix_variants(stem):
                candidates.append((rest, prefix, suffix))
                for prefix2, rest2 in _prefix_variants(rest):
                    if prefix2 in ("per", "ber", "ke", "pe", "ter"):
                        candidates.append((rest2, prefix + prefix2, suffix))
        # Informal nasal verbs drop the prefix's "me": "nunggu" (tunggu), "mikir" (pikir).
        # Only ever accepted when they give a known root.
        if word[0] in "nm" and word[1:2] in _VOWELS and not word.startswith(("ng", "ny")):
            head = "t" if word[0] == "n" else "p"
            for stem, _, suffix in forms:
                if stem[:1] == word[0]:
                    candidates.append((head + stem[1:], word[0] + "~", suffix))
        # A slang word is a whole word: one reached by taking a prefix off is a standard
        # word's confix ("kejadian" is ke-jadi-an, an event, not "jadian", a couple).
        for stem, prefix, _ in candidates[1:]:
            if len(stem) >= 3 and (
                stem in t.roots or stem in t.no_stem or (stem in t.slang and not prefix)
            ):
                return self._after_stem(stem)
        # Then a root of the Indonesian dictionary: it knows far more words than the table,
        # but the table's roots (the stories' words) come first, so "mengunjungi" stays
        # "kunjung" rather than the dictionary's rarer "unjung".
        for stem, _, _ in candidates[1:]:
            if len(stem) >= 4 and stem in self.dictionary:
                return self._after_stem(stem)
        # No known root: strip only what Indonesian morphology makes near-certain, preferring
        # a whole confix ("pe-...-an") to a prefix alone, and a prefix to a suffix alone.
        confix, prefixed, suffixed = [], [], []
        for stem, prefix, suffix in candidates[1:]:
            if len(stem) < t.min_stem or prefix.endswith("~"):
                continue
            if prefix and suffix:
                if prefix[:2] in ("me", "pe") or suffix in _CONFIX.get(prefix, ()):
                    confix.append(stem)
            elif prefix and prefix not in ("ke", "se"):
                prefixed.append(stem)
            elif suffix in ("kan", "in", "an"):
                suffixed.append(stem)
        for group in (confix, prefixed, suffixed):
            if group:
                return group[0]
        return bases[-1] if len(bases[-1]) >= t.min_stem else word

    def _after_stem(self, stem: str) -> str:
        slang = self.table.slang.get(stem)
        return slang[0] if slang and len(slang) == 1 else stem

    @staticmethod
    def stem_en(word: str) -> str:
        """A light English suffix stripper: consistent, not linguistic (both sides use it)."""
        if len(word) <= 3 or not word.isalpha():
            return word
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("sses"):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        if word.endswith("ing") and len(word) > 5:
            word = word[:-3]
        elif word.endswith("ed") and len(word) > 4:
            word = word[:-2]
        if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
            word = word[:-1]
        if word.endswith("y") and len(word) > 3:
            word = word[:-1] + "i"
        if word.endswith("e") and len(word) > 3:
            word = word[:-1]
        return word

    def _canon(self, word: str, lang: str) -> str:
        t = self.table
        concepts = self.concepts_en if lang == "en" else self.concepts
        concept = concepts.get(word)
        if concept is not None:
            return concept
        if word in self.protected or word in t.roots:
            return word
        if lang == "en":
            stem = self.stem_en(word)
            return concepts.get(stem, stem)
        stem = self.stem_id(word)
        if stem == word and word not in self.dictionary:
            if word.endswith(("ing", "ed")) and len(word) > 5:
                stem = self.stem_en(word)  # English words inside Indonesian questions
            elif word.endswith("s") and word[:-1] in concepts:
                stem = word[:-1]
        stem = self._after_stem(stem)
        return concepts.get(stem, stem)

    def canonical_word(self, raw: str, lang: str) -> tuple[str, ...]:
        known = self._word_cache.get(lang)
        if known is None:
            known = self._word_cache.setdefault(lang, {})
        cached = known.get(raw)
        if cached is not None:
            return cached
        word = raw
        match = _REDUPLICATION_DIGIT.match(word)
        if match and word not in self.table.slang:  # "teman2" -> "teman"; "oleh2" is a word
            word = match.group(1)
        word = self.collapse(word)
        out = []
        for part in self.table.slang.get(word, (word,)):
            if part in self.table.particles:
                continue
            out.append(self._canon(part, lang))
        result = tuple(out)
        if len(known) < _CACHE_LIMIT:
            known[raw] = result
        return result

    def _fold(self, raw_words: list[str], lang: str) -> list[str]:
        """Each written word's canonical words, in order, a word repeated next to itself
        once ("teman-teman", "berbulan-bulan"). Done a text at a time in C loops (`map`,
        `chain`), with a Python loop only for words not seen before: building the index folds
        millions of words."""
        if len(set(raw_words)) < len(raw_words):  # a word written twice: maybe "oleh-oleh"
            raw_words = _reduplicated(raw_words, self.table.slang)
        found: list[tuple[str, ...] | None] = list(
            map((self._word_cache.get(lang) or {}).get, raw_words)
        )
        if None in found:
            canonical = self.canonical_word
            found = [
                canonical(raw, lang) if forms is None else forms
                for raw, forms in zip(raw_words, found, strict=True)
            ]
        words = list(chain.from_iterable(found))
        if any(map(eq, words, words[1:])):
            words = [word for word, _ in groupby(words)]
        return words

    # --- texts -------------------------------------------------------------------------
    def split(self, text: str) -> list[str]:
        """Lower-case words of `text`, accents, punctuation and links removed."""
        last, words = self._last_split
        if text == last:
            return list(words)
        original = text
        text = text.lower()
        if "http" in text or "www." in text:
            text = _URL.sub(" ", text)
        if not text.isascii():  # ASCII has no accents: most texts skip the per-letter pass
            text = unicodedata.normalize("NFKD", text)
            text = "".join(c for c in text if not unicodedata.combining(c))
        text = _APOSTROPHE_S.sub("", text)
        if "'" in text or "’" in text or "`" in text:
            text = _CONTRACTION.sub(lambda m: _CONTRACTED[m.group(1)], text)
        text = _APOSTROPHE.sub("", text)
        found = _WORD.findall(text)
        self._last_split = (original, tuple(found))
        return found

    def tokens(self, text: str, lang: str) -> list[str]:
        """Canonical words of `text` in order (stopwords included, particles dropped); `lang`
        ("id"/"en", see bot/engine/language.py) picks the stemmer."""
        return self.tokens_of(self.split(text), lang)

    def tokens_of(self, raw_words: list[str], lang: str) -> list[str]:
        """`tokens` of a text already split (building the index reads the written words
        too, so each text is split once)."""
        words = self._fold(raw_words, lang)
        pairs = self.phrase_pairs
        if pairs.isdisjoint(zip(words, words[1:], strict=False)):
            return words
        out: list[str] = []
        i = 0
        while i < len(words):
            if tuple(words[i : i + 2]) not in pairs:
                out.append(words[i])
                i += 1
                continue
            for size in range(min(self.max_phrase, len(words) - i), 1, -1):
                target = self.phrases.get(tuple(words[i : i + size]))
                if target is not None:
                    if not out or out[-1] != target:
                        out.append(target)
                    i += size
                    break
            else:
                out.append(words[i])
                i += 1
        return out

    def is_word(self, word: str) -> bool:
        """A real word (of the table or the Indonesian dictionary), so not a typo."""
        return word in self.known or word in self.dictionary

    def is_indonesian(self, word: str) -> bool:
        """A canonical word of the Indonesian dictionary (names, places and English are not)."""
        return word in self.dictionary

    def is_stopword(self, word: str) -> bool:
        return word in self.table.stopwords

    def is_common(self, word: str) -> bool:
        """An everyday word: weak evidence of a topic (see `common` in the table)."""
        return word in self.common


def _reduplicated(raw_words: Iterable[str], slang: Mapping[str, tuple[str, ...]]) -> list[str]:
    """ "oleh oleh" (written "oleh-oleh") -> "oleh2" when the table knows the doubled word.

    Some reduplicated words mean something of their own ("oleh-oleh" is a souvenir, "oleh"
    alone is a preposition), so the doubled form is looked up as one word, as "oleh2" is.
    """
    out: list[str] = []
    for raw in raw_words:
        if out and out[-1] == raw and f"{raw}2" in slang:
            out[-1] = f"{raw}2"
        else:
            out.append(raw)
    return out


@lru_cache(maxsize=1)
def indonesian_roots() -> frozenset[str]:
    """The root words of PySastrawi's Indonesian dictionary (about 30,000), loaded once."""
    return frozenset(w.strip() for w in StemmerFactory().get_words() if w.strip())


@lru_cache(maxsize=4)
def get_normalizer(path: Path = DEFAULT_TABLE) -> Normalizer:
    """The normaliser for a table file, loaded once per process."""
    return Normalizer(load_table(path))


def tokens(text: str, lang: str) -> list[str]:
    """Canonical words of `text`; `lang` ("id"/"en") picks the stemmer."""
    return get_normalizer().tokens(text, lang)


def normalize(text: str, lang: str) -> str:
    """`text` as one string of canonical words, e.g. "gmn klo cust ngamuk" -> ..."""
    return " ".join(tokens(text, lang))


def content_tokens(text: str, lang: str) -> list[str]:
    """Canonical words that carry meaning (stopwords removed), in order, without repeats."""
    normalizer = get_normalizer()
    seen: dict[str, None] = {}
    for word in normalizer.tokens(text, lang):
        if not normalizer.is_stopword(word):
            seen.setdefault(word, None)
    return list(seen)
