"""Concepts: the roles a word plays in a situation, shared by both languages and every register.

A salesperson tells a story's situation in words the story never uses: the customer collects
jazz records, not wayang; the florist "skipped" a Monday delivery, nobody "forgot an order".
Word overlap cannot see that these are the same situation; a concept can: "koleksi",
"kolektor", "suka banget", "is into" all name a personal passion, "lupa", "kelewat", "lalai",
"dropped the ball" a missed commitment. The table (`responses/concepts.yaml`) is content, like
the word table: each concept lists its words and phrases, written naturally, and they are
folded by the same normalisation as the questions (bot/engine/normalize.py), so a member's
slang, affixed and synonym forms count without being listed.

A concept that no story's situation uses names a subject next to the stories that none of
them covers (a salary, a tender's documents, an allowance): bot/engine/situations.py reads a
message made of such concepts as one to refuse, with no word list per case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from bot.engine.normalize import Normalizer
from bot.engine.wordtable import WordLoader

FILE = "concepts.yaml"  # beside normalize.yaml in a knowledge base's directory
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# English endings tried when a word is in no concept as written ("collects", "skipped",
# "ghosting"): the stemmer is Indonesian's, and listing every inflection is noise.
_EN_ENDINGS = ("ing", "ed", "es", "s", "d")
SEEN_WORDS = 100_000  # words whose concepts a table remembers (bounded: questions are free text)


class ConceptTableError(ValueError):
    """The concept table is malformed; the message names the file, line and concept."""


@dataclass(frozen=True)
class ConceptTable:
    """Canonical word sequences -> the concepts they name, ready for lookup."""

    names: tuple[str, ...]
    words: Mapping[str, frozenset[str]]  # one canonical word -> its concepts
    phrases: Mapping[tuple[str, ...], frozenset[str]]  # several words -> their concepts
    longest: int  # words in the longest phrase
    # The concepts that name someone the stories serve (a customer, an official, a decision
    # maker: `served` in concepts.yaml): a message naming one is about serving someone.
    served: frozenset[str] = frozenset()
    # The first two words of each phrase with the phrase lengths they start (longest first),
    # and each word's concepts once looked up: a base's thousands of situations (and every
    # question) use the same few thousand words, and most positions start no phrase, so
    # most need one or two dictionary lookups, not one per phrase length.
    _starts: dict[tuple[str, str], tuple[int, ...]] = field(init=False, repr=False, compare=False)
    _seen: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts: dict[tuple[str, str], set[int]] = {}
        for phrase in self.phrases:
            if len(phrase) < 2:
                continue  # a phrase is two words or more (a damaged cache entry is not)
            starts.setdefault((phrase[0], phrase[1]), set()).add(len(phrase))
        sizes = {pair: tuple(sorted(lengths, reverse=True)) for pair, lengths in starts.items()}
        object.__setattr__(self, "_starts", sizes)
        object.__setattr__(self, "_seen", {})

    def concepts(self, tokens: Iterable[str]) -> frozenset[str]:
        """Concepts named in a text's canonical words (normalizer.tokens), phrases first: the
        words of "putus kontrak" name the end of a partnership, not also a contract."""
        words = list(tokens)
        starts, seen, phrases = self._starts, self._seen, self.phrases
        if starts.keys().isdisjoint(pairwise(words)):  # most texts: no phrase starts
            hits = list(map(seen.get, words))
            if None in hits:
                hits = [
                    self._seen_word(word) if hit is None else hit
                    for word, hit in zip(words, hits, strict=True)
                ]
            return frozenset().union(*hits)
        found: set[str] = set()
        i, count = 0, len(words)
        while i < count:
            word = words[i]
            sizes = starts.get((word, words[i + 1])) if i + 1 < count else None
            if sizes is not None:
                for size in sizes:
                    hit = phrases.get(tuple(words[i : i + size])) if i + size <= count else None
                    if hit is not None:
                        found.update(hit)
                        i += size
                        break
                else:
                    found.update(self._word(word))
                    i += 1
                continue
            hit = seen.get(word)
            if hit is None:
                hit = self._seen_word(word)
            if hit:
                found.update(hit)
            i += 1
        return frozenset(found)

    def _seen_word(self, word: str) -> frozenset[str]:
        """`_word`, remembered (bounded)."""
        hit = self._word(word)
        if len(self._seen) < SEEN_WORDS:
            self._seen[word] = hit
        return hit

    def _word(self, word: str) -> frozenset[str]:
        hit = self.words.get(word)
        if hit is not None:
            return hit
        for ending in _EN_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                stem = word[: -len(ending)]
                hit = self.words.get(stem) or self.words.get(stem + "e")
                if hit is None and len(stem) >= 4 and stem[-1] == stem[-2]:
                    hit = self.words.get(stem[:-1])  # "skipped" skip, "dropping" drop
                if hit is not None:
                    return hit
        return frozenset()


def _section_line(text: str, section: str) -> int:
    """The line (1-based) of a top-level section in the YAML text, for a problem report."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{section}:"):
            return number
    return 1


def _lines(text: str) -> dict[str, int]:
    """Each concept's line (1-based) in the YAML text, for a problem report."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    for key, value in getattr(root, "value", ()):
        if getattr(key, "value", None) == "concepts":
            return {
                str(k.value): k.start_mark.line + 1
                for k, _ in getattr(value, "value", ())
                if hasattr(k, "value")
            }
    return {}


def load_concepts(path: Path, normalizer: Normalizer) -> ConceptTable:
    """Read, check and fold the concept table; every problem names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = yaml.load(text, Loader=WordLoader)  # noqa: S506  ("no", "on": words)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConceptTableError(f"{path}: cannot read the concept table: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConceptTableError(f"{where}: not valid YAML: {exc}") from exc
    concepts = data.get("concepts") if isinstance(data, Mapping) else None
    if not isinstance(concepts, Mapping) or not concepts:
        raise ConceptTableError(f"{path}:1: must have a 'concepts' mapping: name -> [words]")
    others = [str(key) for key in data if key not in ("concepts", "served")]
    if others:  # a second, misspelt section would be dropped without a word
        raise ConceptTableError(
            f"{path}: {others[0]}: unknown section; the concepts go under 'concepts'"
            " (and the concepts naming someone the stories serve under 'served')"
        )
    problems: list[str] = []
    words: dict[str, set[str]] = {}
    phrases: dict[tuple[str, ...], set[str]] = {}
    lines: dict[str, int] = {}  # composed only when there is a problem to report

    def at(name: object) -> str:
        if not lines:
            lines.update(_lines(text))
        return f"{path}:{lines.get(str(name), 1)}: concepts: {name}"

    for name, members in concepts.items():
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{at(name)}: a concept's name is lower-case letters, digits and _")
            continue
        if not isinstance(members, list) or not members:
            problems.append(f"{at(name)}: must be a non-empty list of words and phrases")
            continue
        for member in members:
            if not isinstance(member, str | int) or not str(member).strip():
                problems.append(f"{at(name)}: {member!r}: each member is a word or a phrase")
                continue
            # Both stemmers: a member may be Indonesian or English, as questions are.
            for lang in ("id", "en"):
                folded = tuple(normalizer.tokens(str(member), lang))
                if len(folded) == 1:
                    words.setdefault(folded[0], set()).add(name)
                elif folded:
                    phrases.setdefault(folded, set()).add(name)
    served = data.get("served") or []
    if not isinstance(served, list):
        problems.append(f"{path}:{_section_line(text, 'served')}: served: a list of concept names")
        served = []
    for name in served:
        if str(name) not in concepts:
            line = _section_line(text, "served")
            problems.append(f"{path}:{line}: served: {name}: not a concept of this table")
    if problems:
        raise ConceptTableError("\n".join(problems))
    return ConceptTable(
        names=tuple(str(n) for n in concepts),
        words={w: frozenset(c) for w, c in words.items()},
        phrases={p: frozenset(c) for p, c in phrases.items()},
        longest=max((len(p) for p in phrases), default=1),
        served=frozenset(str(n) for n in served),
    )


def crossed_members(
    table: ConceptTable,
    path: Path,
    normalizer: Normalizer,
    situations: Sequence[tuple[frozenset[str], Callable[[], Sequence[str]]]],
) -> list[str]:
    """Members of two concepts that fold to one word, where one of the two concepts is named
    by the stories' situations without that word and the other is named by none but
    through it, with the file and the concept's line.

    The stemmer joins words a concept must keep apart ("accounting" is "account", a customer;
    "pembukuan" is "buku", a gift book; "nyuruh nyuruh" is "suruh", any "told me to"). A
    concept no situation names is a subject to refuse (tax, salary): such a member makes every
    message using the other word look off-topic. `table`: the table read from `path`;
    `situations`: each situation's concepts (as the index read them) and a way to its
    canonical words, asked only of a situation that may hold a shared word (a base of
    thousands of stories is checked in well under a second).
    """
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = yaml.load(text, Loader=WordLoader)  # noqa: S506  ("no", "on": words)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    shared = {word: owners for word, owners in table.words.items() if len(owners) > 1}
    concepts = data.get("concepts") if isinstance(data, Mapping) else None
    if not shared or not isinstance(concepts, Mapping):
        return []
    members: dict[str, list[tuple[str, str]]] = {}  # shared word -> (concept, member)
    for name, words in concepts.items():
        for member in words if isinstance(words, list) else ():
            for lang in ("id", "en"):
                folded = normalizer.tokens(str(member), lang)
                if len(folded) == 1 and folded[0] in shared:
                    pair = (str(name), str(member))
                    if pair not in members.setdefault(folded[0], []):
                        members[folded[0]].append(pair)
    words_of: dict[int, Sequence[str]] = {}
    lines = _lines(text)
    problems: list[str] = []
    for word, owners in shared.items():
        # A situation without the word names what it names either way; one naming every
        # owner may hold it, and is read again without it.
        named: set[str] = set()
        maybe: list[int] = []
        for i, (found, _) in enumerate(situations):
            if owners <= found:
                maybe.append(i)
            else:
                named |= found & owners
        without = replace(table, words={w: c for w, c in table.words.items() if w != word})
        for i in maybe:
            if named >= owners:
                break
            if i not in words_of:
                words_of[i] = situations[i][1]()
            named |= without.concepts(words_of[i]) & owners
        if named >= owners or not named:
            continue  # every owner stands without the word, or no story concept does
        pairs = sorted(members.get(word, []))
        alone = sorted(owners - named)
        problems.append(
            f"{path}:{lines.get(alone[0], 1)}: concepts: "
            + ", ".join(f"{name} '{member}'" for name, member in pairs)
            + f" fold to one word, '{word}': {', '.join(alone)} "
            + ("is" if len(alone) == 1 else "are")
            + " named by no story's situation but through it, so a message using the other's"
            " word would read as that subject"
        )
    return problems


def table_json(table: ConceptTable) -> dict[str, Any]:
    """The folded table as data for the cache (bot/storage/cache.py)."""
    return {
        "names": list(table.names),
        "words": {word: sorted(names) for word, names in table.words.items()},
        "phrases": [[list(words), sorted(names)] for words, names in table.phrases.items()],
        "served": sorted(table.served),
    }


def table_of(data: Any) -> ConceptTable | None:
    """The table `table_json` wrote; None for anything else (absent or damaged)."""
    try:
        if not isinstance(data, dict):
            return None
        words = {str(w): frozenset(map(str, n)) for w, n in data["words"].items()}
        phrases = {tuple(map(str, p)): frozenset(map(str, n)) for p, n in data["phrases"]}
        names = tuple(map(str, data["names"]))
        served = frozenset(map(str, data["served"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return ConceptTable(
        names, words, phrases, max((len(p) for p in phrases), default=1), served=served
    )
