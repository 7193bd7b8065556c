"""The index's data: what a question is looked up in, and what one story contributes to it.

Plain data shared by the builder (bot/engine/index_build.py), its bytes format for the cache
(bot/engine/index_bytes.py) and the scoring (bot/engine/scoring.py); no code here reads text.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.content.model import LANGUAGES, Story


class Postings:
    """Term -> {story: pull}, kept as flat arrays and made into a dict when first read.

    A 5,000-story base has two million (term, story) pairs: as dicts they take seconds to
    read back from the cache and most are never used (a question names a few dozen terms).
    A term's dict is the same, in the same order, as the one the index was built with.
    """

    __slots__ = ("_dicts", "_offsets", "_stories", "_pulls")

    def __init__(self, postings: Sequence[dict[int, float]]) -> None:
        self._offsets = array("q", [0])
        self._stories = array("i")
        self._pulls = array("d")
        for pulls in postings:
            self._stories.extend(pulls.keys())
            self._pulls.extend(pulls.values())
            self._offsets.append(len(self._stories))
        self._dicts: list[dict[int, float] | None] = [None] * len(postings)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, term: int) -> dict[int, float]:
        found = self._dicts[term]
        if found is None:
            start, end = self._offsets[term], self._offsets[term + 1]
            found = dict(zip(self._stories[start:end], self._pulls[start:end], strict=True))
            self._dicts[term] = found
        return found

    def arrays(self) -> tuple[array, array, array]:
        return self._offsets, self._stories, self._pulls

    @classmethod
    def of_arrays(cls, offsets: array, stories: array, pulls: array) -> Postings:
        postings = cls([])
        postings._offsets, postings._stories, postings._pulls = offsets, stories, pulls
        postings._dicts = [None] * (len(offsets) - 1)
        return postings


@dataclass
class Index:
    """Flat arrays rather than an object per trigger: a 5,000-story base has 250,000
    phrasings, and fewer Python objects mean less memory and shorter GC pauses. Kept in the
    cache as JSON and packed arrays (`index_bytes`); the lookup tables are derived again."""

    vocab: list[str] = field(default_factory=list)
    term_ids: dict[str, int] = field(default_factory=dict)
    postings: Postings = field(default_factory=lambda: Postings([]))  # term -> story -> pull
    weight: list[float] = field(default_factory=list)  # term -> weight
    unknown_weight: float = 1.0
    phrase_story: array = field(default_factory=lambda: array("i"))
    phrase_weight: array = field(default_factory=lambda: array("d"))
    phrase_text: list[str] = field(default_factory=list)
    story_phrases: list[tuple[int, int]] = field(default_factory=list)  # story -> [start, end)
    term_phrases: list[array] = field(default_factory=list)  # term -> sorted phrasing ids
    by_length: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    # Words as written in the stories (and the table's slang and synonyms) -> canonical term,
    # for typo lookup: a misspelt word is closer to its written form than to its stem.
    surface: dict[str, int] = field(default_factory=dict)
    surface_by_length: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    # story -> lesson -> its terms (both languages): which lesson a question speaks to
    lesson_terms: list[list[set[int]]] = field(default_factory=list)
    # Written words found in one language's texts of the stories only ("apology", "ultimatum"
    # vs "kelupaan"): the tie-breaker when a question has no function word to tell its language
    language_only: dict[str, str] = field(default_factory=dict)
    # story -> situation -> the concepts it names (bot/engine/situations.py), kept in the
    # index so a start does not fold thousands of situations again
    situation_concepts: list[list[list[str]]] = field(default_factory=list)


def matched_fields(story: Story) -> Iterable[tuple[str, int, str, str]]:
    """(field kind, number within the kind, language, text) of everything a story is
    matched on."""
    for lang in LANGUAGES:
        yield "title", 0, lang, story.title.get(lang)
        for number, trigger in enumerate(story.triggers.get(lang, ())):
            yield "trigger", number, lang, trigger
        for number, tag in enumerate(story.tags.get(lang, ())):
            yield "tag", number, lang, tag
        for number, lesson in enumerate(story.lessons):
            yield "lesson", number, lang, lesson.get(lang)
        yield "story", 0, lang, story.story.get(lang)


@dataclass
class StoryTerms:
    """What one story contributes to the index, independent of every other story: cached
    per story, so editing one story among thousands analyses that story only, and the index
    is then assembled from the stories' terms and counts without reading their texts again."""

    terms: list[str]  # its content words, first used first
    counts: array  # "d", per term: the field-weighted number of its fields using it
    size: float  # the field-weighted number of its fields
    phrases: list[array]  # its titles, triggers and tags that have words: term positions
    texts: list[str]  # ...and each one's words, sorted and joined
    lessons: list[array]  # per lesson, its terms in either language: sorted positions
    surface: dict[str, str]  # written word -> its canonical form, first seen first
    written: dict[str, list[str]]  # language -> written words (4+ letters) in its texts
    situations: list[list[str]] = field(default_factory=list)  # canonical words of each


def story_texts(story: Story) -> bytes:
    """Everything of a story the index reads, as bytes to hash."""
    texts = [f"{k}\x1f{n}\x1f{lang}\x1f{t}" for k, n, lang, t in matched_fields(story)]
    texts.extend(f"situation\x1f{s.id}\x1f{s.en}" for s in story.situations)
    return "\x1d".join(texts).encode("utf-8", "surrogatepass")


def length_buckets(words: Iterable[str]) -> dict[tuple[str, int], list[str]]:
    """Words bucketed by first letter and length: typos rarely hit the first letter, and a
    word within k edits has a length within k, so a lookup scans a few small buckets."""
    buckets: dict[tuple[str, int], list[str]] = defaultdict(list)
    for word in words:
        if word:
            buckets[(word[0], len(word))].append(word)
    return dict(buckets)


def near_words(
    word: str, buckets: dict[tuple[str, int], list[str]], limit: int | None
) -> list[tuple[str, float]]:
    """Words of `buckets` (`length_buckets`) a misspelt `word` may stand for, with their OSA
    distance (a swap of two letters is one typo): within 1 edit, 2 for words of 9+ letters,
    same first letter, nearest first, at most `limit` before the short words are left out.
    In words of 5 letters or fewer a changed letter makes a different word, not a typo."""
    edits = 1 if len(word) < 9 else 2
    pool: list[str] = []
    for size in range(len(word) - edits, len(word) + edits + 1):
        pool.extend(buckets.get((word[0], size), ()))
    found = process.extract(word, pool, scorer=OSA.distance, score_cutoff=edits, limit=limit)
    return [
        (choice, distance)
        for choice, distance, _ in found
        if not (len(word) <= 5 and len(choice) == len(word) and sorted(choice) != sorted(word))
    ]
