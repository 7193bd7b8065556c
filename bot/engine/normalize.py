"""Normalisation: informal Indonesian and English -> canonical words the matcher can compare.

Users write "gmn dong, cust udh ngamuk bgt" or "customers keep complaining"; the stories are
written in standard Indonesian and English. Both sides go through the same pipeline, so they
meet on canonical words: lower-case, punctuation and reduplication removed, repeated letters
collapsed, slang expanded, particles dropped, affixes stripped (preferring the stories' roots,
then the ~30,000 roots of PySastrawi's Indonesian dictionary, because a stemmer without one
over-stems "pesan" to "pes" and "pernah" to "rnah"), synonyms in either language folded into one
concept, and fixed phrases folded into one word.

The word lists live in `responses/normalize.yaml` so authors can extend them without Python;
they are loaded once per process. Typos are left to the matcher's fuzzy scoring.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from bot.content.model import LANGUAGES

DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "responses" / "normalize.yaml"

_VOWELS = frozenset("aeiou")
_CACHE_LIMIT = 200_000  # words remembered; random input must not grow memory without bound
_WORD = re.compile(r"[a-z0-9]+")
_APOSTROPHE_S = re.compile(r"['’`]s\b")
_APOSTROPHE = re.compile(r"['’`]")
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


class NormalizeTableError(ValueError):
    """The normalisation table is malformed; the message names the section and entry."""


@dataclass(frozen=True)
class Table:
    """The parsed `normalize.yaml`, already folded into lookup structures."""

    slang: Mapping[str, tuple[str, ...]]
    particles: frozenset[str]
    no_stem: frozenset[str]
    roots: frozenset[str]
    particle_suffixes: tuple[str, ...]
    possessive_suffixes: tuple[str, ...]
    derivational_suffixes: tuple[str, ...]
    min_stem: int
    concepts: Mapping[str, str]
    concept_phrases: Mapping[str, str]
    phrases: Mapping[str, str]
    stopwords: frozenset[str]
    common: Mapping[str, tuple[str, ...]]
    work: Mapping[str, tuple[str, ...]]
    private: Mapping[str, tuple[str, ...]]
    customers: Mapping[str, tuple[str, ...]]
    law: Mapping[str, tuple[str, ...]]
    outside: Mapping[str, tuple[tuple[str, ...], ...]]  # subject -> its groups of words
    language_words: Mapping[str, frozenset[str]]
    # Subjects a caution applies to (officials, gifts, ...): name -> its words.
    subjects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Questions of the law that get the legal reply (bribes, kickbacks): like `outside`.
    legal: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # Words of a question asking how NOT to look like a bribe: it wants a story, not the law.
    legal_unless: tuple[str, ...] = ()


def _words(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise NormalizeTableError(f"{where}: must be a list of words")
    return [str(v).strip().lower() for v in value if str(v).strip()]


def _subjects(value: Any, where: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """`outside`: each subject a list of groups (lists) of words."""
    if not isinstance(value, Mapping):
        raise NormalizeTableError(f"{where}: must map each subject to a list of word lists")
    subjects = {}
    for name, groups in value.items():
        if not isinstance(groups, list) or not groups:
            raise NormalizeTableError(f"{where}: {name}: must be a list of word lists")
        subjects[str(name)] = tuple(tuple(_words(group, f"{where}: {name}")) for group in groups)
    return subjects


def _subject_words(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """`subjects`: each subject a list of words."""
    if not isinstance(value, Mapping):
        raise NormalizeTableError(f"{where}: must map each subject to a list of words")
    return {str(name): tuple(_words(words, f"{where}: {name}")) for name, words in value.items()}


def load_table(path: Path = DEFAULT_TABLE) -> Table:
    """Read and check the table; every malformed entry is an error naming its section."""
    try:
        # libyaml when present: a quarter of a second less on every start
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise NormalizeTableError(f"{path}: cannot read the normalisation table: {exc}") from exc
    if not isinstance(data, Mapping):
        raise NormalizeTableError(f"{path}: must be a mapping of sections")

    slang: dict[str, tuple[str, ...]] = {}
    for key, value in (data.get("slang") or {}).items():
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
            raise NormalizeTableError(
                f"{path}: slang: {key!r}: key and value must be texts (quote yes/no/on/off)"
            )
        slang[key.lower()] = tuple(value.lower().split())

    affixes = data.get("affixes") or {}
    concepts: dict[str, str] = {}
    concept_phrases: dict[str, str] = {}
    for head, members in (data.get("concepts") or {}).items():
        if not isinstance(head, str) or " " in head:
            raise NormalizeTableError(f"{path}: concepts: {head!r}: the head must be one word")
        for member in [head, *_words(members, f"{path}: concepts: {head}")]:
            if " " in member:
                concept_phrases[member] = head
            else:
                concepts.setdefault(member, head)

    phrases: dict[str, str] = {}
    for key, value in (data.get("phrases") or {}).items():
        if not isinstance(key, str) or not isinstance(value, str) or " " in value.strip():
            raise NormalizeTableError(f"{path}: phrases: {key!r}: must map text to one word")
        phrases[key.lower()] = value.strip().lower()

    stop = data.get("stopwords") or {}
    language = data.get("language") or {}
    roots = set(_words(data.get("roots") or [], f"{path}: roots")) | set(concepts.values())
    return Table(
        slang=slang,
        particles=frozenset(_words(data.get("particles") or [], f"{path}: particles")),
        no_stem=frozenset(_words(data.get("no_stem") or [], f"{path}: no_stem")),
        roots=frozenset(roots),
        particle_suffixes=tuple(affixes.get("particle_suffixes", ())),
        possessive_suffixes=tuple(affixes.get("possessive_suffixes", ())),
        derivational_suffixes=tuple(affixes.get("derivational_suffixes", ())),
        min_stem=int(affixes.get("min_stem", 4)),
        concepts=concepts,
        concept_phrases=concept_phrases,
        phrases=phrases,
        common={
            lang: tuple(_words((data.get("common") or {}).get(lang, []), f"{path}: common.{lang}"))
            for lang in LANGUAGES
        },
        work={
            lang: tuple(_words((data.get("work") or {}).get(lang, []), f"{path}: work.{lang}"))
            for lang in LANGUAGES
        },
        private={
            lang: tuple(
                _words((data.get("private") or {}).get(lang, []), f"{path}: private.{lang}")
            )
            for lang in LANGUAGES
        },
        customers={
            lang: tuple(
                _words((data.get("customers") or {}).get(lang, []), f"{path}: customers.{lang}")
            )
            for lang in LANGUAGES
        },
        law={
            lang: tuple(_words((data.get("law") or {}).get(lang, []), f"{path}: law.{lang}"))
            for lang in LANGUAGES
        },
        outside=_subjects(data.get("outside") or {}, f"{path}: outside"),
        subjects=_subject_words(data.get("subjects") or {}, f"{path}: subjects"),
        legal=_subjects(data.get("legal") or {}, f"{path}: legal"),
        legal_unless=tuple(_words(data.get("legal_unless") or [], f"{path}: legal_unless")),
        stopwords=frozenset(
            _words(stop.get("id", []), f"{path}: stopwords.id")
            + _words(stop.get("en", []), f"{path}: stopwords.en")
        ),
        language_words={
            lang: frozenset(_words(language.get(lang, []), f"{path}: language.{lang}"))
            for lang in LANGUAGES
        },
    )


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


class Normalizer:
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
        self._word_cache: dict[tuple[str, str], tuple[str, ...]] = {}
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
        self.phrase_heads = frozenset(k[0] for k in phrases)  # most words start none
        # Words of the working world and people of private life, folded like questions (see
        # `work` and `private` in the table); a phrase ("anak buah") counts through each word
        # it folds to.
        self.work = self._folded(table.work)
        self.private = self._folded(table.private)
        self.customers = self._folded(table.customers)
        self.law = frozenset(word for words in table.law.values() for word in words)
        # Subjects no story covers, each a list of groups of folded words (see `outside`).
        # Stopwords count here: "boleh" (may I) weighs nothing but asks for permission.
        self.outside = {name: self._groups(groups) for name, groups in table.outside.items()}
        # Also as written: a word the folding drops as a particle ("ok" in "is it ok to...")
        # still asks for permission (`legal_subject` is given the raw words too).
        self.legal = {
            name: [
                folded | frozenset(raw)
                for folded, raw in zip(self._groups(groups), groups, strict=True)
            ]
            for name, groups in table.legal.items()
        }
        self.legal_unless = self._groups([table.legal_unless])[0]
        # A word is folded like a question; a phrase, or a word written "=word", is matched as
        # written: folded, "jatuh cinta", "asmara" and "crush" are the concept "cinta", which
        # "the client loves our technician" folds to as well, and that is not a romance.
        self.subjects = {
            name: frozenset(
                w
                for word in words
                if " " not in word and not word.startswith("=")
                for lang in LANGUAGES
                for w in self.tokens(word, lang)
                if w not in table.stopwords
            )
            for name, words in table.subjects.items()
        }
        self.subject_phrases = {
            name: tuple(
                f" {' '.join(self.split(word))} "
                for word in words
                if " " in word or word.startswith("=")
            )
            for name, words in table.subjects.items()
        }

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
        for stem, _, _ in candidates[1:]:
            if len(stem) >= 3 and (stem in t.roots or stem in t.no_stem or stem in t.slang):
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
        key = (raw, lang)
        cached = self._word_cache.get(key)
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
        if len(self._word_cache) < _CACHE_LIMIT:
            self._word_cache[key] = result
        return result

    def _fold(self, raw_words: Iterable[str], lang: str) -> list[str]:
        out: list[str] = []
        for raw in _reduplicated(raw_words, self.table.slang):
            for word in self.canonical_word(raw, lang):
                if not out or out[-1] != word:  # "teman-teman", "berbulan-bulan"
                    out.append(word)
        return out

    # --- texts -------------------------------------------------------------------------
    def split(self, text: str) -> list[str]:
        """Lower-case words of `text`, accents and punctuation removed."""
        text = text.lower()
        if not text.isascii():  # ASCII has no accents: most texts skip the per-letter pass
            text = unicodedata.normalize("NFKD", text)
            text = "".join(c for c in text if not unicodedata.combining(c))
        text = _APOSTROPHE_S.sub("", text)
        text = _APOSTROPHE.sub("", text)
        return _WORD.findall(text)

    def tokens(self, text: str, lang: str) -> list[str]:
        """Canonical words of `text` in order (stopwords included, particles dropped); `lang`
        ("id"/"en", see bot/engine/language.py) picks the stemmer."""
        raw = self.split(text)
        words = self._fold(raw, lang)
        if not self.phrases:
            return words
        out: list[str] = []
        i = 0
        while i < len(words):
            if words[i] not in self.phrase_heads:
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

    def _groups(self, groups: Iterable[Iterable[str]]) -> list[frozenset[str]]:
        """Groups of words, each folded like a question (both languages' stemmers)."""
        return [
            frozenset(w for word in group for lang in LANGUAGES for w in self.tokens(word, lang))
            for group in groups
        ]

    def _folded(self, words_by_lang: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
        return frozenset(
            form
            for lang, words in words_by_lang.items()
            for word in words
            for form in self.tokens(word, lang)
            if form not in self.table.stopwords
        )

    def is_work(self, word: str) -> bool:
        """A word of the working world (customer, boss, project): see `work` in the table."""
        return word in self.work

    def is_private(self, word: str) -> bool:
        """A person of private life (partner, spouse, parents): see `private` in the table."""
        return word in self.private

    def is_customer(self, word: str) -> bool:
        """Someone the stories serve (customer, official): see `customers` in the table."""
        return word in self.customers

    def asks_law(self, text: str) -> bool:
        """Does the text name the law (legal, UU, gratifikasi)? See `law` in the table; its
        words are matched as written, not folded."""
        law = self.law  # as written, or with stretched letters collapsed ("legalll")
        return any(raw in law or self.collapse(raw) in law for raw in self.split(text))

    def subjects_of(self, words: Iterable[str], text: str = "") -> frozenset[str]:
        """The subjects (`subjects` in the table: officials, gifts, ...) these canonical words
        (or, for a phrase, the question's `text` as written) touch: what decides whether a
        story's caution fits the question."""
        present = set(words)
        written = f" {' '.join(self.split(text))} "
        return frozenset(
            name
            for name, folded in self.subjects.items()
            if present & folded or any(p in written for p in self.subject_phrases[name])
        )

    def legal_subject(self, words: Iterable[str]) -> str | None:
        """The question of the law (`legal` in the table: a bribe, a kickback) these canonical
        words ask about (a word of each of its groups), if any; none when they ask how not
        to look like one (`legal_unless`: "tanpa kesan nyogok" wants a story)."""
        present = set(words)
        if present & self.legal_unless:
            return None
        for name, groups in self.legal.items():
            if all(present & group for group in groups):
                return name
        return None

    def outside_subject(self, words: Iterable[str]) -> str | None:
        """The subject no story covers that these canonical words ask about (a word of each
        of its groups), if any: see `outside` in the table."""
        present = set(words)
        for name, groups in self.outside.items():
            if all(present & group for group in groups):
                return name
        return None


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
