"""Topic checks on a question's words: signals for the verdict, not for scoring.

Does a message name something of the working world, someone of private life, a customer, the
law, a subject no story covers, a question of the law (a bribe), or a subject a story's caution
applies to? These lists live in the word table and are folded like questions; the matcher
reads the answers to decide whether a story may be told, only offered, or not at all. A part of
`Normalizer` (a mixin over its folding), kept apart from the folding itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from bot.content.model import LANGUAGES
from bot.engine.wordtable import Table

_SENTENCES = re.compile(r"(?<=[.?!;:])\s+|\n+")


def asking_part(text: str) -> str:
    """The sentences of a message that ask: those ending in "?" and the last one.

    A situation's backstory may name the law in passing ("a feature was dropped after a
    regulation changed") without asking what the law says; the question sits in these.
    """
    sentences = [s for s in _SENTENCES.split(text) if s and s.strip()]
    if len(sentences) <= 1:
        return text
    asking = [s for s in sentences[:-1] if s.rstrip().endswith("?")]
    return " ".join([*asking, sentences[-1]])


class TopicChecks:
    """The topic word sets of a table, folded by the normaliser, and the checks on them."""

    def _read_topics(self, table: Table) -> None:
        """Fold the table's topic lists (run last in `Normalizer.__init__`: it folds words)."""
        # Words of the working world and people of private life, folded like questions (see
        # `work` and `private` in the table); a phrase ("anak buah") counts through each word
        # it folds to.
        self.work = self._folded(table.work)
        self.private = self._folded(table.private)
        self.customers = self._folded(table.customers)
        self.superiors = self._folded(table.superiors)
        self.law = frozenset(word for words in table.law.values() for word in words)
        self.law_units = tuple(f" {' '.join(self.split(unit))} " for unit in table.law_units)
        # Subjects no story covers, each a list of groups of folded words (see `outside`).
        # Stopwords count here: "boleh" (may I) weighs nothing but asks for permission.
        # A word written "=word" is matched as written only: folded, "commissioning" (a
        # machine's) is a salesperson's "commission".
        self.outside = {
            name: [
                (
                    self._groups([[w for w in group if not w.startswith("=")]])[0],
                    frozenset(w[1:] for w in group if w.startswith("=")),
                )
                for group in groups
            ]
            for name, groups in table.outside.items()
        }
        # Also as written: a word the folding drops as a particle ("ok" in "is it ok to...")
        # still asks for permission (`legal_subject` is given the raw words too).
        # A word written "=word" is matched as written only: folded, "kepala" (head) is the
        # asker's boss, "memutuskan" (decides) a breakup, "wine" one typo from "win".
        self.legal = {
            name: [self._folded_or_written(group) for group in groups]
            for name, groups in table.legal.items()
        }
        self.legal_unless = self._groups([table.legal_unless])[0]
        self.legal_asked = [self._folded_or_written(group) for group in table.legal_asked]
        self.legal_story_after = table.legal_story_after
        self.legal_none = {
            name: self._folded_or_written(words) for name, words in table.legal_none.items()
        }
        # A word is folded like a question; a phrase, or a word written "=word", is matched as
        # written: folded, "jatuh cinta", "asmara" and "crush" are the concept "cinta", which
        # "the client loves our technician" folds to as well, and that is not a romance.
        # A word written "~word" is a weak sign: it touches the subject only beside a second
        # sign of it. "Jatuh cinta" is also a client delighted with a consultant (the seed's
        # own metaphor), "dinas" also a business trip ("dinas bareng klien").
        self.subjects = {}
        self.subject_phrases = {}
        self.weak_subjects = {}
        self.weak_subject_phrases = {}
        for name, entries in table.subjects.items():
            for weak, words in (
                (False, [w for w in entries if not w.startswith("~")]),
                (True, [w[1:] for w in entries if w.startswith("~")]),
            ):
                folded = frozenset(
                    w
                    for word in words
                    if " " not in word and not word.startswith("=")
                    for lang in LANGUAGES
                    for w in self.tokens(word, lang)
                    if w not in table.stopwords
                )
                phrases = tuple(
                    f" {' '.join(self.split(word))} "
                    for word in words
                    if " " in word or word.startswith("=")
                )
                (self.weak_subjects if weak else self.subjects)[name] = folded
                (self.weak_subject_phrases if weak else self.subject_phrases)[name] = phrases

    def _folded_or_written(self, group: Iterable[str]) -> frozenset[str]:
        """A group's words folded (but those written "=word") and every word as written."""
        words = list(group)
        folded = self._groups([[w for w in words if not w.startswith("=")]])[0]
        return folded | frozenset(w.lstrip("=") for w in words)

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

    def is_superior(self, word: str) -> bool:
        """The asker's own boss or manager: see `superiors` in the table."""
        return word in self.superiors

    def asks_law(self, text: str) -> bool:
        """Does the text ask about the law (legal, UU, gratifikasi)? See `law` in the table;
        its words are matched as written, not folded, in the sentences that ask."""
        law = self.law  # as written, or with stretched letters collapsed ("legalll")
        written = self.split(self.without_law_units(asking_part(text)))
        return any(raw in law or self.collapse(raw) in law for raw in written)

    def without_law_units(self, text: str) -> str:
        """The text with the parts of a company a law word names taken out (`law_units`:
        "staf legal" is someone at work, not the law); the text itself when it names none."""
        written = f" {' '.join(self.split(text))} "
        if not any(unit in written for unit in self.law_units):
            return text
        for unit in self.law_units:
            written = written.replace(unit, " ")
        return written.strip()

    def subjects_of(self, words: Iterable[str], text: str = "") -> frozenset[str]:
        """The subjects (`subjects` in the table: officials, gifts, ...) these canonical words
        (or, for a phrase, the question's `text` as written) touch: what decides whether a
        story's caution fits the question."""
        present = set(words)
        written = f" {' '.join(self.split(text))} "
        touched = set()
        for name, folded in self.subjects.items():
            if present & folded or any(p in written for p in self.subject_phrases[name]):
                touched.add(name)
                continue
            weak = present & self.weak_subjects[name]
            phrases = [p for p in self.weak_subject_phrases[name] if p in written]
            if len(weak) + len(phrases) >= 2:
                touched.add(name)
        return frozenset(touched)

    def legal_subject(self, words: Iterable[str], text: str = "") -> str | None:
        """The question of the law (`legal` in the table: a bribe, a kickback) these canonical
        words ask about (a word of each of its groups), if any; none when they ask how not
        to look like one (`legal_unless`: "tanpa kesan nyogok" wants a story), unless someone
        asks for it (`legal_unless_asked`: refusing "without losing the project" is the law's).
        Of several, the first in the table's order, a bribe or a cut before a gift's leave.
        `text`, the question as written, for two-word entries written "=uang rokok"."""
        present = set(words) | self._written(text)
        if "%" in text:  # "minta jatah 10%": the sign is the word "persen"
            present.add("persen")
        asked = bool(self.legal_asked) and all(present & group for group in self.legal_asked)
        if present & self.legal_unless and not asked:
            return None
        found = [
            name
            for name, groups in self.legal.items()
            if all(present & group for group in groups)
            and not present & self.legal_none.get(name, frozenset())
        ]
        # A gift to an official that is also tied to a decision ("biar proyek lancar") is the
        # latter: the subjects a story may follow (`legal_story_after`) count last.
        found.sort(key=lambda name: name in self.legal_story_after)
        return found[0] if found else None

    def _written(self, text: str) -> set[str]:
        """The text's words as written, and each two and three of them side by side: what an
        entry written "=word", "=uang rokok" or "=under the table" is matched against."""
        raw = self.split(text)
        return {
            *raw,
            *(f"{a} {b}" for a, b in zip(raw, raw[1:], strict=False)),
            *(f"{a} {b} {c}" for a, b, c in zip(raw, raw[1:], raw[2:], strict=False)),
        }

    def outside_subject(self, words: Iterable[str], text: str = "") -> str | None:
        """The subject no story covers that these canonical words ask about (a word of each
        of its groups), if any: see `outside` in the table. `text`, the question as
        written, for the words written "=word" or "=two words"."""
        present = set(words)
        written = self._written(text)
        for name, groups in self.outside.items():
            if all(present & folded or written & as_written for folded, as_written in groups):
                return name
        return None
