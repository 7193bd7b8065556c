"""The matcher: which story fits a question, and how sure are we.

Built once into an index at start-up; a question only touches the index. Both sides are
normalised by bot/engine/normalize.py (slang, affixes, synonyms across languages), and every word is
weighted: a word found in every story ("customer") says little, a word that names one story
("teknisi", "wayang") says a lot, and a word that appears only by accident of phrasing (one
trigger of a hundred says "pagi") is damped. A question is scored against each story on:

- coverage: the share of the question's weight that the story's vocabulary (title, triggers,
  tags, lessons) explains. A question about the weather is mostly words no story uses, so it
  covers nothing, which is what makes an honest refusal possible;
- phrasing: the best single trigger (or title, or tag), as a recall-weighted overlap of
  weighted words (does one phrasing say what the question says, rather than scattered
  words from many?), refined with rapidfuzz's `token_sort_ratio` on the normalised strings.
  (Not WRatio: its partial scoring gives a high score for one shared word.)

Words missing from the vocabulary are looked up with rapidfuzz's OSA edit distance (1 edit, 2
for long words), both as canonical words and as written in the stories ("terlambt" is one edit
from "terlambat", further from the stem "telat"), which absorbs typos. The confidence is
0-100, damped when the evidence is thin (a single matched word); `ask` refuses below a
threshold calibrated on labelled questions, `rank` does not (evaluation, "did you mean").

That lexical evidence is read by a small calibrated model (bot/engine/confidence.py) into the
confidence users see: the whole message and each of its clauses are scored, so a long
situation is judged by its informative parts rather than diluted by names, places and chatter,
and the result is a probability that the story is right, comparable across lengths. Between
"sure" and "no evidence" lies "plausible": `ask` then offers the story as a suggestion.
"""

from __future__ import annotations

import hashlib
import heapq
import inspect
import math
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from itertools import accumulate, chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.content.knowledge import digest_of
from bot.content.model import LANGUAGES, Anecdote, KnowledgeBase, Text
from bot.content.parsecache import code_digest
from bot.engine.concepts import FILE as CONCEPTS
from bot.engine.concepts import ConceptTable, load_concepts, table_json, table_of
from bot.engine.confidence import WORDS_ONLY, Calibration, Evidence, noisy_or, parts
from bot.engine.language import LanguageDetector, decide
from bot.engine.normalize import DEFAULT_TABLE, Normalizer, get_normalizer
from bot.engine.situations import SituationIndex
from bot.engine.smalltalk import FILE as SMALL_TALK
from bot.engine.smalltalk import SmallTalk
from bot.engine.taught import Phrasing, TaughtPhrasings
from bot.storage.cache import Cache, dumps, loads, pack, paused_gc, unpack

if TYPE_CHECKING:
    import numpy as np

# Whole indexes kept in the cache (bot/storage/cache.py), most recently used first: a few
# bases (a test base beside the real one) start fast each; every story's analysis is kept
# separately.
INDEX_ENTRIES = 3
CALIBRATION = "calibration.yaml"  # beside normalize.yaml: the weights fitted for this base


@dataclass(frozen=True)
class ScoringParams:
    """Every tuning constant of the matcher, in one typed object.

    Why one object: the constants interact (the threshold is read against the calibration, the
    dampings against the threshold), so an experiment varies one with `dataclasses.replace`
    and measures the whole with `bot.tools.evaluation.evaluate(Matcher(kb, params=...), items)`,
    instead of editing module constants. The defaults are the calibrated ones.
    """

    # The confidence is a calibrated probability (bot/engine/confidence.py) in percent. At or above
    # the threshold the story is told; from `maybe_threshold` it is only offered ("maybe this
    # story fits"); below, the honest "no story". Chosen with `python -m bot eval`'s trade-off
    # table, with a margin; the rule and its history are in docs/matching.md.
    threshold: int = 34
    maybe_threshold: int = 25
    no_work_margin: int = 15  # extra confidence a message naming nothing of work needs
    # How much lessons and the story vouch for a word belonging to the story (titles, triggers
    # and tags: 1). Lessons are general advice shared across stories, so they count less.
    lesson_field_weight: float = 0.6
    story_field_weight: float = 0.6
    coverage_weight: float = 0.55  # lexical score = coverage and phrasing, blended
    phrasing_weight: float = 0.45
    string_share: float = 0.25  # share of the phrasing score taken from token_sort_ratio
    recall_beta2: float = 4.0  # F-beta, beta=2: covering the question beats the trigger's
    evidence_mass: float = 2.5  # matched word weight needed for full confidence
    evidence_power: float = 0.5  # how steeply thin evidence lowers the confidence
    assoc_power: float = 0.5  # how fast a word's pull on a story fades with its frequency
    topical_share: float = 0.08  # share of a story's fields a word must be in to be topical
    topical_count: float = 8.0  # ...or this many occurrences (more triggers must not dilute)
    common_weight: float = 0.5  # an everyday word no story uses ("worth", "biasanya")
    common_known_cap: float = 1.0  # ceiling on an everyday word's weight where a story uses it
    unknown_df: float = 0.5  # a word no story uses weighs like one found in half a story
    # ...unless, in an Indonesian message, it is no Indonesian word either (not in the
    # dictionary): a name, a place, a brand, an English word. That is the situation's setting
    # ("Pak Hartono", "Purwokerto", "owner"), not its subject, and weighs this much of it.
    foreign_unknown_factor: float = 0.5
    question_prior: float = 0.5  # unexplained weight added to every question (smoothing)
    single_word_min: float = 1.7  # one matched word stands alone only if this specific...
    single_word_factor: float = 0.7  # ...else the lexical score is damped ("help", "sales")
    # A question naming nothing of the working world (`work` in normalize.yaml) is damped:
    # "hotel murah di yogya" shares a phrase with a story but not its situation.
    no_work_factor: float = 0.8
    string_checks: int = 3  # best phrasings per story refined with token_sort_ratio
    candidates: int = 12  # stories (by coverage) whose phrasings are scored in detail
    # A question this close (weighted F1 of words, bot/engine/taught.py) to a phrasing a team lead
    # taught gets that story with the F1 as its confidence, if higher than its own. High: two
    # rare words shared with a taught situation ("ikan koi") are not the same question.
    taught_min: float = 0.75

    def field_weight(self, kind: str) -> float:
        if kind == "lesson":
            return self.lesson_field_weight
        if kind == "story":
            return self.story_field_weight
        return 1.0


DEFAULT_PARAMS = ScoringParams()
DEFAULT_THRESHOLD = DEFAULT_PARAMS.threshold

FUZZY_LIMIT = 3  # vocabulary words a misspelt word may stand for
FUZZY_CACHE = 50_000  # remembered typo lookups (bounded: random input must not grow memory)
WRITTEN_CACHE = 200_000  # remembered readings of the stories' written words (bounded)
NO_CONCEPTS = ConceptTable((), {}, {}, 1)  # a base without responses/concepts.yaml
TAUGHT_PHRASE = -2  # `_Scored.best_phrase` of a story found through a taught phrasing
MAX_QUESTION_WORDS = 60  # a pasted essay is not a question; bound the work per message


@dataclass(frozen=True)
class Match:
    anecdote: Anecdote
    score: int  # confidence 0-100
    lesson: int = 0  # index of the lesson that fits the question best (shown first)
    lessons: tuple[int, ...] = ()  # every lesson's index in order of fit ("another lesson")


@dataclass(frozen=True)
class Answer:
    question: str
    lang: str
    matches: tuple[Match, ...]  # confident, best first; () = no story to tell
    maybe: Match | None = None  # plausible but unsure: offered, not told
    small_talk: str | None = None  # "greeting", "thanks", ...: not a question at all
    # A question of the law (a bribe, a kickback, a gift to an official: `legal` in
    # normalize.yaml): answered with what the law says, a story at most offered (`maybe`).
    legal: str | None = None
    # The subjects the question touches (`subjects` in normalize.yaml): a story's caution is
    # shown in the first message only for one of its `applies_to`.
    subjects: frozenset[str] = frozenset()

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


@dataclass(frozen=True)
class Explanation:
    """Why a story got its confidence: for authors tuning triggers and for tests."""

    anecdote: Anecdote
    score: int
    lexical: int  # the lexical score before calibration, 0-100
    coverage: float  # 0-1: share of the question's weight the story's vocabulary explains
    phrasing: float  # 0-1: how well its best single phrasing says the same thing
    evidence: float  # matched word weight (evidence_mass or more = full confidence)
    best_phrasing: str  # that phrasing, normalised


class _Postings:
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
    def of_arrays(cls, offsets: array, stories: array, pulls: array) -> _Postings:
        postings = cls([])
        postings._offsets, postings._stories, postings._pulls = offsets, stories, pulls
        postings._dicts = [None] * (len(offsets) - 1)
        return postings


@dataclass
class _Index:
    """Flat arrays rather than an object per trigger: a 5,000-story base has 250,000
    phrasings, and fewer Python objects mean less memory and shorter GC pauses. Kept in the
    cache as JSON and packed arrays (`_index_bytes`); the lookup tables are derived again."""

    vocab: list[str] = field(default_factory=list)
    term_ids: dict[str, int] = field(default_factory=dict)
    postings: _Postings = field(default_factory=lambda: _Postings([]))  # term -> story -> pull
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


@dataclass
class _Scored:
    story: int
    confidence: float
    coverage: float
    phrasing: float
    evidence: float
    best_phrase: int
    lexical: float = 0.0


@dataclass
class _Question:
    """A question's content words as the index sees them (for lexical scoring and lessons)."""

    looked: list[tuple[tuple[int, float], ...]]
    weights: list[float]
    at_work: bool  # names something of the working world (customer, boss, project...)
    customer: bool  # names someone the stories serve (customer, official)
    private: bool  # names someone of private life (partner, spouse, parents...)
    law: bool  # asks what the law says (legal, UU, gratifikasi...)
    outside: bool  # asks about a subject no story covers (price negotiation, gift rules...)
    words: tuple[str, ...] = ()  # the canonical content words `weights` belong to
    taught: bool = False  # the best story is the one a team lead taught for such a question
    legal: str | None = None  # a question of the law (bribe, kickback): `legal` in the table
    subjects: frozenset[str] = frozenset()  # subjects touched (officials, gifts, ...)
    concepts: frozenset[str] = frozenset()  # concepts named (responses/concepts.yaml)


class Matcher:
    """Ranks anecdotes for a question; the index is built once in the constructor."""

    def __init__(
        self,
        kb: KnowledgeBase,
        threshold: int | None = None,
        *,
        normalizer: Normalizer | None = None,
        calibration: Calibration | None = None,
        params: ScoringParams | None = None,
        default_lang: str = "id",
        cache_dir: Path | None = None,
        concepts: ConceptTable | None = None,
    ) -> None:
        """`cache_dir`: where the built index is kept between runs (see `_read_index`);
        `concepts`: the concept table, instead of the base's `concepts.yaml`."""
        self.kb = kb
        self.params = params or DEFAULT_PARAMS
        self.threshold = self.params.threshold if threshold is None else threshold
        self.maybe_threshold = min(self.params.maybe_threshold, self.threshold)
        self.normalizer_path = _table_path(kb)
        cache = Cache(cache_dir) if cache_dir is not None and normalizer is None else None
        self.normalizer = normalizer or get_normalizer(self.normalizer_path)
        self.detector = LanguageDetector(self.normalizer)  # the base's own table
        base_dir = _table_path(kb).parent
        self.calibration = calibration or Calibration.load(base_dir / CALIBRATION)
        self.small_talk = SmallTalk.load(base_dir / SMALL_TALK)
        self.concepts_path = _concepts_path(kb)
        self._concepts_key = ""  # which concept table the cached index's situations were read by
        if concepts is None and not self.concepts_path.is_file():
            concepts = NO_CONCEPTS
        self.default_lang = default_lang
        self.anecdotes = kb.anecdotes
        self._positions = {anecdote.id: n for n, anecdote in enumerate(kb.anecdotes)}
        self.taught = TaughtPhrasings()  # what team leads taught, on top of the index
        self._fuzzy_cache: dict[tuple[str, str], tuple[tuple[int, float], ...]] = {}
        self._lesson_matchers: dict[int, Matcher] = {}  # story -> its lessons (lazily)
        self._written_forms: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        if cache is None:
            self.concept_table = concepts or load_concepts(self.concepts_path, self.normalizer)
            with paused_gc():
                self._index = self._build(kb.anecdotes)
            self.situations = self._situations()
            return
        try:
            try:
                self._built_by = self._builder_digest()
            except OSError:  # the table cannot be read: loading it has reported that
                self.concept_table = concepts or load_concepts(self.concepts_path, self.normalizer)
                self._index = self._build(kb.anecdotes)
                self.situations = self._situations()
                return
            if concepts is None:
                self.concept_table = self._cached_concepts(cache)
            else:
                self.concept_table = concepts
                table = hashlib.blake2b(dumps(table_json(concepts)), digest_size=20)
                self._concepts_key = "table:" + table.hexdigest()
            key = "index:" + self._index_key(kb)
            with paused_gc():
                index = _index_of(cache.get(key), len(kb.anecdotes))
                if index is None:
                    index = self._build(kb.anecdotes, cache)
                    cache.put_many({key: _index_bytes(index)})
                    cache.keep_latest("index:", INDEX_ENTRIES)
            self._index = index
            self.situations = self._situations()
        finally:
            cache.close()

    def _cached_concepts(self, cache: Cache) -> ConceptTable:
        """The concept table folded by an earlier run (keyed by this builder and the file's
        bytes), else read, checked and folded now and kept: folding its members costs a
        start tens of milliseconds. Only a valid table is ever kept."""
        raw = self.concepts_path.read_bytes()
        h = hashlib.blake2b(self._built_by, digest_size=20)
        h.update(raw)
        key = "concepts:" + h.hexdigest()
        self._concepts_key = key  # the index's situations are read through this table
        table = table_of(loads(cache.get(key)))
        if table is None:
            table = load_concepts(self.concepts_path, self.normalizer)
            cache.put_many({key: dumps(table_json(table))})
            cache.keep_latest("concepts:", INDEX_ENTRIES)
        return table

    def _situations(self) -> SituationIndex:
        """The stories' situations as concept sets (read through the table with the index)."""
        return SituationIndex(
            self.concept_table,
            [[frozenset(c) for c in story] for story in self._index.situation_concepts],
        )

    # --- index -------------------------------------------------------------------------
    def _builder_digest(self) -> bytes:
        """What every index this process builds depends on besides the stories: the code
        (this module and bot/engine/normalize.py), the scoring parameters, the stemmer's
        dictionary and the word table, so a cache is never read as if built by other code."""
        h = hashlib.blake2b(digest_size=20)
        h.update(
            code_digest(
                __file__,
                inspect.getfile(Normalizer),
                inspect.getfile(SituationIndex),
                inspect.getfile(ConceptTable),
            )
        )
        h.update(repr(self.params).encode())  # the index is built with these
        h.update(f"dictionary\0{version('PySastrawi')}\0".encode())  # and the stemmer's roots
        table = self.normalizer_path
        h.update(f"{table}\0".encode())
        h.update(table.read_bytes())
        return h.digest()

    def _index_key(self, kb: KnowledgeBase) -> str:
        """The whole index's key: the builder and every story's matched texts (or the
        files' hash, when kb is the base just loaded from them: no need to hash it again)."""
        h = hashlib.blake2b(self._built_by, digest_size=20)
        h.update(f"{self._concepts_key}\0".encode())  # the situations' concepts
        loaded = digest_of(kb)
        if loaded is not None:
            h.update(f"files\0{loaded}".encode())
            return h.hexdigest()
        for anecdote in kb.anecdotes:
            h.update(b"\x1e")
            h.update(_story_texts(anecdote))
        return h.hexdigest()

    def _story_key(self, anecdote: Anecdote) -> str:
        h = hashlib.blake2b(self._built_by, digest_size=20)
        h.update(_story_texts(anecdote))
        return "story:" + h.hexdigest()

    def _build(self, anecdotes: Sequence[Anecdote], cache: Cache | None = None) -> _Index:
        """The index of `anecdotes`: each story's words from the cache or analysed afresh
        (the slow part: stemming), then weighed against each other (this depends on all)."""
        analyses: list[_StoryTerms | None] = [None] * len(anecdotes)
        keys: list[str] = []
        found: dict[str, bytes] = {}
        if cache is not None:
            keys = [self._story_key(anecdote) for anecdote in anecdotes]
            found = cache.get_many(keys)
            for n, key in enumerate(keys):
                analyses[n] = _story_terms_of(found.get(key))
        new: dict[str, bytes] = {}
        for n, anecdote in enumerate(anecdotes):
            if analyses[n] is None:
                terms = self._analyse(anecdote)
                analyses[n] = terms
                if cache is not None:
                    new[keys[n]] = _story_terms_bytes(terms)
        if cache is not None and new:
            cache.put_many(new, touch=[key for key in keys if key in found])
        return self._assemble(anecdotes, [a for a in analyses if a is not None])

    def _analyse(self, anecdote: Anecdote) -> _StoryTerms:
        """One story's terms and how often its fields use them, its phrasings and lessons as
        positions among its terms, its written words' canonical forms (for typos) and the
        written words of each language: everything the index needs from this story alone."""
        p, normalizer = self.params, self.normalizer
        positions: dict[str, int] = {}  # term -> its position in the story's terms
        counts = array("d")
        size = 0.0
        phrases: list[array] = []
        texts: list[str] = []
        lessons: list[set[int]] = []
        surface: dict[str, str] = {}
        written: dict[str, dict[str, None]] = {lang: {} for lang in LANGUAGES}
        for kind, number, lang, text in _fields(anecdote):
            words = _content(normalizer, text, lang)
            weight = p.field_weight(kind)
            size += weight
            ids = []
            for word in words:
                at = positions.setdefault(word, len(counts))
                if at == len(counts):
                    counts.append(0.0)
                counts[at] += weight
                ids.append(at)
            if kind == "lesson":
                while len(lessons) <= number:
                    lessons.append(set())
                lessons[number].update(ids)
            elif kind in ("title", "trigger", "tag") and ids:
                phrases.append(array("i", ids))
                texts.append(" ".join(sorted(words)))
            for raw in normalizer.split(text):
                form, word = self._written_form(raw, lang)
                if form is not None:
                    surface.setdefault(raw, form)
                if word is not None:
                    written[lang].setdefault(word, None)
        situations = [
            normalizer.tokens(situation.id, "id") + normalizer.tokens(situation.en, "en")
            for situation in anecdote.situations
        ]
        return _StoryTerms(
            terms=list(positions),
            counts=counts,
            size=size,
            phrases=phrases,
            texts=texts,
            lessons=[array("i", sorted(ids)) for ids in lessons],
            surface=surface,
            written={lang: list(words) for lang, words in written.items()},
            situations=situations,
        )

    def _written_form(self, raw: str, lang: str) -> tuple[str | None, str | None]:
        """A written word's canonical form (words of 4+ letters: for typos) and its collapsed
        spelling (alphabetic, 4+ letters: for telling languages apart), None where not kept.
        Remembered: thousands of stories write the same few thousand words."""
        key = (raw, lang)
        found = self._written_forms.get(key)
        if found is None:
            forms = self.normalizer.canonical_word(raw, lang) if len(raw) >= 4 else ()
            word = self.normalizer.collapse(raw)
            found = (
                forms[0] if forms else None,
                word if len(word) >= 4 and word.isalpha() else None,
            )
            if len(self._written_forms) < WRITTEN_CACHE:
                self._written_forms[key] = found
        return found

    def _assemble(self, anecdotes: Sequence[Anecdote], analyses: Sequence[_StoryTerms]) -> _Index:
        """The index of the stories' analyses: the part that depends on every story (term
        ids, weights, postings), so it is recomputed at each start that edits a story. Only
        sums and lookups over what `_analyse` found: no text is read again."""
        import numpy as np  # here only: a start with a full cache does not need it

        p = self.params
        index = _Index()
        # Term ids in order of first use, story by story, field by field; then every
        # (story, term) pair as flat arrays, story by story.
        terms = list(chain.from_iterable(a.terms for a in analyses))
        index.vocab = list(dict.fromkeys(terms))
        term_ids = index.term_ids = {word: tid for tid, word in enumerate(index.vocab)}
        tids = np.fromiter(map(term_ids.__getitem__, terms), dtype=np.int64, count=len(terms))
        sizes = [len(a.terms) for a in analyses]
        story_start = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
        owner = np.repeat(np.arange(len(analyses), dtype=np.int32), sizes)
        counts = np.frombuffer(b"".join(a.counts.tobytes() for a in analyses), dtype=np.float64)

        # The same pairs term by term, each term's stories ascending: its postings.
        order, offsets = _grouped(tids, len(index.vocab))
        stories, counts, tids_sorted = owner[order], counts[order], tids[order]
        starts = offsets[:-1]

        # A word's pull on a story: its frequency there relative to the story that uses it
        # most ("teknisi" in forty phrasings of one story and one of another pulls to the
        # first). Its weight: an inverse frequency over stories counted with those pulls,
        # damped when it fills only a small share of any story's fields. Topical: in a fair
        # share of some story's fields, counted up to topical_count occurrences so that
        # writing more triggers does not dilute every word.
        # The powers and sums are Python's own (powers of the few distinct ratios; sums
        # left to right), so the weights are bit for bit those of a plain loop over stories.
        n = max(len(analyses), 1)
        pulls = np.zeros(0)
        shares: list[float] = []
        if len(counts):
            ratios = counts / np.maximum.reduceat(counts, starts)[tids_sorted]
            distinct, back = np.unique(ratios, return_inverse=True)
            powers = [ratio**p.assoc_power for ratio in distinct.tolist()]
            pulls = np.array(powers, dtype=np.float64)[back]
            room = [min(p.topical_count, p.topical_share * a.size) for a in analyses]
            shares = np.maximum.reduceat(counts / np.array(room)[stories], starts).tolist()
        pull_list, ends = pulls.tolist(), offsets.tolist()
        for tid, share in enumerate(shares):
            total = sum(pull_list[ends[tid] : ends[tid + 1]])
            index.weight.append(math.log((n + 1) / total) * min(1.0, share) ** 0.5)
        index.unknown_weight = math.log((n + 1) / p.unknown_df)
        index.postings = _Postings.of_arrays(
            array("q", offsets.tobytes()),
            array("i", stories.astype(np.int32).tobytes()),
            array("d", pulls.tobytes()),
        )

        # Phrasings (titles, triggers, tags), story by story: their weight is the sum of
        # their terms' weights; each term lists the phrasings that use it, ascending.
        all_ids, bounds = tids.tolist(), story_start.tolist()
        weight = index.weight
        phrase_terms: list[int] = []  # the term ids of every phrasing, one after the other
        phrase_sizes: list[int] = []
        for a_idx, analysis in enumerate(analyses):
            ids = all_ids[bounds[a_idx] : bounds[a_idx + 1]]
            start = len(index.phrase_text)
            for positions, text in zip(analysis.phrases, analysis.texts, strict=True):
                unique = set(map(ids.__getitem__, positions))
                index.phrase_story.append(a_idx)
                index.phrase_weight.append(sum(map(weight.__getitem__, unique)))
                index.phrase_text.append(text)
                phrase_terms.extend(unique)
                phrase_sizes.append(len(unique))
            index.story_phrases.append((start, len(index.phrase_text)))
            index.lesson_terms.append(
                [set(map(ids.__getitem__, lesson)) for lesson in analysis.lessons]
            )
        phrase_of = np.repeat(np.arange(len(phrase_sizes), dtype=np.int32), phrase_sizes)
        order, offsets = _grouped(np.array(phrase_terms, dtype=np.int64), len(index.vocab))
        flat = array("i", phrase_of[order].tobytes())
        ends = offsets.tolist()
        index.term_phrases = [flat[ends[t] : ends[t + 1]] for t in range(len(index.vocab))]

        # Written forms for typo lookup: the first story's reading of a word wins, then the
        # table's slang and concepts ("kustomer", "komplen": typos of these too).
        surfaces = [a.surface for a in analyses]
        first: dict[str, str] = {}
        for surface in reversed(surfaces):  # earlier stories overwrite later ones
            first.update(surface)
        surface_words = {raw: first[raw] for raw in dict.fromkeys(chain.from_iterable(surfaces))}
        normalizer = self.normalizer
        table = normalizer.table
        for raw in [*table.concepts, *table.slang]:
            forms = normalizer.canonical_word(raw, "id") if len(raw) >= 4 else ()
            if forms and forms[0] in term_ids and raw not in surface_words:
                surface_words[raw] = forms[0]
        for raw, word in surface_words.items():
            if word in term_ids:
                index.surface.setdefault(raw, term_ids[word])
        index.by_length = _by_length(index.vocab)
        index.surface_by_length = _by_length(index.surface)

        # Written words of one language only, in order of first use.
        used_in = {
            lang: set(chain.from_iterable(a.written[lang] for a in analyses)) for lang in LANGUAGES
        }
        every = dict.fromkeys(
            chain.from_iterable(a.written[lang] for a in analyses for lang in LANGUAGES)
        )
        for word in every:
            langs = [lang for lang in LANGUAGES if word in used_in[lang]]
            if len(langs) == 1:
                index.language_only[word] = langs[0]
        concepts = self.concept_table.concepts
        index.situation_concepts = [
            [sorted(concepts(words)) for words in analysis.situations] for analysis in analyses
        ]
        return index

    # --- question ----------------------------------------------------------------------
    def _question_words(self, question: str, lang: str) -> list[tuple[str, str]]:
        """(canonical word, the written word it came from) for the question's content words."""
        normalizer = self.normalizer
        origin: dict[str, str] = {}
        for raw in normalizer.split(question):
            for word in normalizer.canonical_word(raw, lang):
                origin.setdefault(word, normalizer.collapse(raw))
        words = []
        seen: set[str] = set()
        for word in normalizer.tokens(question, lang):
            if word not in seen and not normalizer.is_stopword(word):
                seen.add(word)
                words.append((word, origin.get(word, word)))
        return words

    def _lookup(self, word: str, surface: str) -> tuple[tuple[int, float], ...]:
        """Vocabulary terms a question word stands for, with a similarity 0-1.

        Exact canonical words first; otherwise the nearest canonical words and written forms
        within 1 edit (2 for words of 9+ letters), same first letter, with rapidfuzz's OSA
        distance (a swap of two letters is one typo). No processor: both sides are normalised.
        """
        index = self._index
        tid = index.term_ids.get(word)
        if tid is not None:
            return ((tid, 1.0),)
        key = (word, surface)
        cached = self._fuzzy_cache.get(key)
        if cached is not None:
            return cached
        restored = self._restored(surface)
        if restored is not None:
            self._fuzzy_cache[key] = restored
            return restored
        best: dict[int, float] = {}
        is_word = self.normalizer.is_word
        for query, buckets, ids in (
            (word, index.by_length, index.term_ids),
            (surface, index.surface_by_length, index.surface),
        ):
            if len(query) < 4 or not query.isalpha():
                continue
            if is_word(query):
                continue  # a real word, not a typo ("murah" is not a misspelt "marah")
            edits = 1 if len(query) < 9 else 2
            pool: list[str] = []
            for size in range(len(query) - edits, len(query) + edits + 1):
                pool.extend(buckets.get((query[0], size), ()))
            for choice, distance, _ in process.extract(
                query, pool, scorer=OSA.distance, score_cutoff=edits, limit=FUZZY_LIMIT
            ):
                if (
                    len(query) <= 5
                    and len(choice) == len(query)
                    and sorted(choice) != sorted(query)
                ):
                    continue  # in short words a changed letter is a different word, not a typo
                tid = ids[choice]
                sim = (1.0 - distance / max(len(query), len(choice))) ** 2
                best[tid] = max(best.get(tid, 0.0), sim)
        result = tuple(sorted(best.items(), key=lambda item: -item[1])[:FUZZY_LIMIT])
        if len(self._fuzzy_cache) < FUZZY_CACHE:
            self._fuzzy_cache[key] = result
        return result

    def _weight(self, word: str, matches: tuple[tuple[int, float], ...], lang: str) -> float:
        """A question word's weight: its best vocabulary match's, an everyday word's capped;
        a word no story uses weighs as rare unless it is an everyday word, or in an Indonesian
        message a word of no Indonesian dictionary (a name, a place: the setting)."""
        p, index = self.params, self._index
        normalizer = self.normalizer
        if matches:
            weight = index.weight[matches[0][0]]
            return min(weight, p.common_known_cap) if normalizer.is_common(word) else weight
        if normalizer.is_common(word):
            return p.common_weight
        if lang == "id" and not normalizer.is_indonesian(word):
            return index.unknown_weight * p.foreign_unknown_factor
        return index.unknown_weight

    def _restored(self, surface: str) -> tuple[tuple[int, float], ...] | None:
        """A spoken verb form whose stem the stemmer could not confirm, read as the story
        word it stands for: the informal nasal prefix drops "me" and the first letter
        ("ngoleksi" koleksi, "nembus" tembus, "nyesel" sesal), and "-in" stands for "-kan"
        or "-i". Only a form that gives a word of the stories counts."""
        ids = self._index.term_ids
        for form in _informal_roots(surface):
            for word in self.normalizer.canonical_word(form, "id"):
                tid = ids.get(word)
                if tid is not None:
                    return ((tid, 1.0),)
        return None

    def _score(
        self, question: str, chat_id: int | None = None
    ) -> tuple[list[_Scored], _Question | None]:
        """Every candidate story with its calibrated confidence (0-1), best first; with the
        phrasings taught for `chat_id` (and bot-wide) on top."""
        scored, q, evidence = self._evidence(question)
        for s, found in zip(scored, evidence, strict=True):
            model = self.calibration if self.situations.has(s.story) else WORDS_ONLY
            s.confidence = model.probability(found)
        if q is not None and len(self.taught):
            self._add_taught(scored, q, chat_id)
        scored.sort(key=lambda s: s.confidence, reverse=True)
        if q is not None and scored:
            top = scored[0]
            q.taught = top.best_phrase == TAUGHT_PHRASE
        return scored, q

    def _add_taught(self, scored: list[_Scored], q: _Question, chat_id: int | None) -> None:
        """Raise each story a team lead taught for a question like this one to that
        closeness (bot/engine/taught.py), adding it when the words alone did not find it. Only
        what applies in `chat_id` counts: bot-wide phrasings, and that chat's own."""
        close = self.taught.similarity(dict(zip(q.words, q.weights, strict=True)), chat_id)
        by_story = {s.story: s for s in scored}
        for story, f1 in close.items():
            if f1 < self.params.taught_min:
                continue
            found = by_story.get(story)
            if found is None:
                scored.append(_Scored(story, f1, 0.0, f1, 0.0, TAUGHT_PHRASE))
            elif f1 > found.confidence:
                found.confidence, found.best_phrase = f1, TAUGHT_PHRASE

    # --- taught phrasings -----------------------------------------------------------------
    def phrasing(
        self, anecdote_id: str, text: str, *, scope: int | None = None, order: float = 0.0
    ) -> Phrasing | None:
        """`text` read as a question is, as a phrasing of the story, for the chats of `scope`
        (a group's id, None: every chat); None when the story is not in this base or the text
        has no content word (nothing to learn from)."""
        story = self._positions.get(anecdote_id)
        if story is None:
            return None
        lang = self.detector.detect(text, self.default_lang)
        pairs = self._question_words(text, lang)[:MAX_QUESTION_WORDS]
        weights = {w: self._weight(w, self._lookup(w, surface), lang) for w, surface in pairs}
        return Phrasing(story, weights, scope, order) if weights else None

    def teach(
        self,
        key: Hashable,
        anecdote_id: str,
        text: str,
        *,
        scope: int | None = None,
        order: float = 0.0,
    ) -> bool:
        """Use `text` as a phrasing of the story from the next question on (under `key`,
        the question's id; teaching the key again re-points it), in the chats of `scope`
        (see `phrasing`). False if `phrasing` is None."""
        phrasing = self.phrasing(anecdote_id, text, scope=scope, order=order)
        if phrasing is None:
            return False
        self.taught.put(key, phrasing)
        return True

    def forget(self, key: Hashable) -> bool:
        """Stop using the phrasing taught under `key` (undo); False if there was none."""
        return self.taught.remove(key)

    def _evidence(self, question: str) -> tuple[list[_Scored], _Question | None, list[Evidence]]:
        """The lexical candidates and, for each, the evidence the calibration reads.

        The whole message is scored, then each clause on its own: a story that one clause
        states clearly, or that several clauses point to, is not lost in a long message.
        """
        whole, q = self._lexical(question)
        if not whole or q is None:
            return [], q, []
        clauses = parts(question)
        by_part: list[dict[int, float]] = []
        if len(clauses) > 1:
            # A clause's score is read only for the whole message's candidates (a story not
            # among the clause's own candidates scores 0 there, as before): only they are
            # scored in detail.
            wanted = {s.story for s in whole}
            for clause in clauses:
                scored, _ = self._lexical(clause, wanted)
                by_part.append({s.story: s.lexical for s in scored})
        evidence = []
        situations = self.situations
        uncovered = situations.uncovered(q.concepts)
        for s in whole:
            part_scores = [p.get(s.story, 0.0) for p in by_part] or [s.lexical]
            fit = situations.score(s.story, q.concepts)
            evidence.append(
                Evidence(
                    lexical=s.lexical,
                    coverage=s.coverage,
                    phrasing=s.phrasing,
                    evidence=s.evidence,
                    words=len(q.weights),
                    customer=q.customer,
                    best_part=max(part_scores),
                    parts_agree=noisy_or(part_scores),
                    situation=fit.situation,
                    concept_share=fit.concept_share,
                    uncovered=uncovered,
                    named=bool(q.concepts) and situations.has(s.story),
                )
            )
        return whole, q, evidence

    def evidence(self, question: str) -> list[tuple[Anecdote, Evidence]]:
        """Each candidate story with the evidence behind its confidence (for calibration)."""
        scored, _, evidence = self._evidence(question)
        return [(self.anecdotes[s.story], e) for s, e in zip(scored, evidence, strict=True)]

    def _lexical(
        self, question: str, only: set[int] | None = None
    ) -> tuple[list[_Scored], _Question | None]:
        """Every candidate story with its lexical score (0-1) and parts, best first.

        Candidates are the `candidates` stories the question covers most; with `only`, those
        outside it are left out of the result (not scored in detail), the others unchanged.
        """
        p = self.params
        index = self._index
        lang = self.detector.detect(question, self.default_lang)  # the stemmer follows the text
        pairs = self._question_words(question, lang)[:MAX_QUESTION_WORDS]
        if not pairs:
            return [], None
        words = [word for word, _ in pairs]
        looked = [self._lookup(word, surface) for word, surface in pairs]
        is_work = self.normalizer.is_work
        vocab = index.vocab
        at_work = any(
            is_work(word) or any(is_work(vocab[tid]) for tid, _ in matches)
            for word, matches in zip(words, looked, strict=True)
        )
        weights = [self._weight(w, m, lang) for w, m in zip(words, looked, strict=True)]
        # A pseudo-word of unexplained weight: a one-word question is not "fully covered" by
        # a story that happens to use that word ("help", "sales"); long questions barely feel it.
        total = sum(weights) + p.question_prior
        if total <= p.question_prior:
            return [], None

        # coverage: each question word counts once per story, at its best match there
        evidence: dict[int, float] = {}
        bests: list[dict[int, float]] = []  # per question word: story -> its best match
        for matches, weight in zip(looked, weights, strict=True):
            best = _best_per_story(index.postings, matches)
            bests.append(best)
            get = evidence.get
            for a_idx, value in best.items():
                evidence[a_idx] = get(a_idx, 0.0) + weight * value
        candidates = heapq.nlargest(p.candidates, evidence.items(), key=itemgetter(1))

        q_text = " ".join(sorted(words))
        scored: list[_Scored] = []
        for a_idx, mass in candidates:
            if only is not None and a_idx not in only:
                continue  # its phrasing would not be read (a clause's other stories)
            # Per candidate only (a long message touches thousands of stories): the question
            # words found in the story, and the best single word's weight there.
            found = [
                weight * best[a_idx]
                for best, weight in zip(bests, weights, strict=True)
                if a_idx in best
            ]
            hits, strongest = len(found), max(found, default=0.0)
            start, end = index.story_phrases[a_idx]
            overlap: dict[int, float] = defaultdict(float)
            for matches, weight in zip(looked, weights, strict=True):
                if len(matches) == 1:  # the usual case, an exact word: no best-of to take
                    tid, sim = matches[0]
                    ids = index.term_phrases[tid]
                    lo = bisect_left(ids, start)
                    for p_idx in ids[lo : bisect_left(ids, end, lo)]:
                        overlap[p_idx] += weight * sim
                    continue
                best_p: dict[int, float] = {}
                for tid, sim in matches:
                    ids = index.term_phrases[tid]
                    lo = bisect_left(ids, start)
                    for p_idx in ids[lo : bisect_left(ids, end, lo)]:
                        if sim > best_p.get(p_idx, 0.0):
                            best_p[p_idx] = sim
                for p_idx, sim in best_p.items():
                    overlap[p_idx] += weight * sim
            ranked_phrases = []
            phrase_weight = index.phrase_weight
            for p_idx, matched in overlap.items():  # the hot loop: plain comparisons, no calls
                recall = matched / total
                weight = phrase_weight[p_idx]
                precision = matched / weight if weight > 1e-9 else matched / 1e-9
                if precision > 1.0:
                    precision = 1.0
                f = (
                    (1 + p.recall_beta2)
                    * precision
                    * recall
                    / (p.recall_beta2 * precision + recall)
                )
                ranked_phrases.append((f, p_idx))
            phrasing, best_phrase = 0.0, -1
            for f, p_idx in heapq.nlargest(p.string_checks, ranked_phrases):
                string = fuzz.token_sort_ratio(q_text, index.phrase_text[p_idx]) / 100.0
                value = (1 - p.string_share) * f + p.string_share * string
                if value > phrasing:
                    phrasing, best_phrase = value, p_idx
            coverage = mass / total
            confidence = p.coverage_weight * coverage + p.phrasing_weight * phrasing
            confidence *= min(1.0, mass / p.evidence_mass) ** p.evidence_power
            if hits < 2 and (strongest < p.single_word_min or not at_work):
                confidence *= p.single_word_factor
            if not at_work:
                confidence *= p.no_work_factor
            scored.append(
                _Scored(a_idx, confidence, coverage, phrasing, mass, best_phrase, confidence)
            )
        scored.sort(key=lambda s: s.confidence, reverse=True)
        normalizer = self.normalizer
        private = any(normalizer.is_private(word) for word in words)
        customer = any(normalizer.is_customer(word) for word in words)
        law = outside = False
        legal: str | None = None
        subjects: frozenset[str] = frozenset()
        concepts: frozenset[str] = frozenset()
        if only is None:  # the whole message (a clause's question is not read for these)
            law = normalizer.asks_law(question)
            # stopwords count: "boleh" (may I) weighs nothing but asks for permission
            folded = normalizer.tokens(question, lang)
            outside = normalizer.outside_subject(folded) is not None
            legal = normalizer.legal_subject([*folded, *normalizer.split(question)])
            subjects = normalizer.subjects_of(folded, question)
            concepts = self.situations.message(folded)
        return scored, _Question(
            looked,
            weights,
            at_work,
            customer,
            private,
            law,
            outside,
            tuple(words),
            legal=legal,
            subjects=subjects,
            concepts=concepts,
        )

    def lesson_order(self, story: int, question: str) -> tuple[int, ...]:
        """The story's lessons, best fit for the question first.

        Each lesson is read as a small story of its own: its `when` list (the dilemmas it
        helps with) as phrasings and its text as the title, scored by this matcher's own
        lexical machinery (normalisation, concepts, typos, word weights, coverage and
        phrasing), over the story's lessons only, so a word all its lessons share weighs
        little. The whole message is scored, not its best clause: adding half the best
        clause's fit (the way a long message's story is judged) chose worse on the
        development lesson set (0.90 against 0.93, docs/matching.md). A tie keeps the authors'
        order (the first lesson is the story's main one).
        """
        anecdote = self.anecdotes[story]
        total = len(anecdote.lessons)
        if total < 2:
            return tuple(range(total))
        lessons = self._lesson_matchers.get(story)
        if lessons is None:
            lessons = self._lesson_matchers[story] = self._lesson_matcher(anecdote)
        whole, _ = lessons._lexical(question)
        fit = {s.story: s.lexical for s in whole}
        return tuple(sorted(range(total), key=lambda n: (-round(fit.get(n, 0.0), 6), n)))

    def _lesson_matcher(self, anecdote: Anecdote) -> Matcher:
        """A matcher whose "stories" are this story's lessons (see `lesson_order`)."""
        pseudo = []
        for number, lesson in enumerate(anecdote.lessons):
            when = anecdote.when[number] if number < len(anecdote.when) else {}
            pseudo.append(
                replace(
                    anecdote,
                    id=f"{anecdote.id}.{number}",
                    title=lesson,
                    story=Text("", ""),
                    lessons=(),
                    triggers={lang: tuple(when.get(lang, ())) for lang in LANGUAGES},
                    tags={lang: () for lang in LANGUAGES},
                    tips=(),
                    when=(),
                    situations=(),
                )
            )
        base = KnowledgeBase(anecdotes=tuple(pseudo), ui={}, seeds_dir=self.kb.seeds_dir)
        return Matcher(
            base,
            normalizer=self.normalizer,
            calibration=self.calibration,
            params=self.params,
            default_lang=self.default_lang,
            concepts=NO_CONCEPTS,  # lessons are ordered by their words
        )

    def _ranked(
        self, question: str, limit: int, chat_id: int | None = None
    ) -> tuple[list[Match], _Question | None]:
        """Best matches, and the question as the index saw it."""
        scored, q = self._score(question, chat_id)
        matches = []
        for s in scored[:limit]:
            order = self.lesson_order(s.story, question)
            lesson = order[0] if order else 0
            matches.append(Match(self.anecdotes[s.story], _percent(s.confidence), lesson, order))
        return matches, q

    # --- public ------------------------------------------------------------------------
    def language(self, text: str, default: str = "id") -> str:
        """The language to answer `text` in. Function words and slang decide
        (bot/engine/language.py); a text without any ("sincere apology", "client ultimatum") goes by
        the words the stories use in one language only; else `default`."""
        scores = self.detector.scores(text)
        if scores["id"] == scores["en"]:
            only = self._index.language_only
            for raw in self.normalizer.split(text):
                found = only.get(self.normalizer.collapse(raw))
                if found:
                    scores[found] += 1.0
        if scores["id"] == scores["en"]:
            # Still undecided ("extra mile", "onsite romance"): words of which none is in the
            # Indonesian dictionary, nor slang, are English, if the stories know one of them.
            # Letters no text has ("asdfgh", "p") say nothing: the chat's language answers.
            normalizer = self.normalizer
            raw_words = [w for w in normalizer.split(text) if w.isalpha()]
            known = any(normalizer.collapse(w) in self._index.surface for w in raw_words)
            if known and not any(
                normalizer.is_indonesian(normalizer.collapse(w)) or w in normalizer.table.slang
                for w in raw_words
            ):
                scores["en"] += 1.0
        return decide(scores, default)

    def rank(self, question: str, limit: int = 3, *, chat_id: int | None = None) -> list[Match]:
        """Best matches without a threshold (evaluation, "did you mean"). `chat_id`: the
        chat asking, whose own taught phrasings count (None: only the bot-wide ones)."""
        return self._ranked(question, limit, chat_id)[0]

    def judge(
        self, question: str, limit: int = 3, *, chat_id: int | None = None
    ) -> tuple[list[Match], int | None]:
        """The best matches without a threshold, and the margin over the threshold this
        question needs for a story to be told (None: it may only be offered).

        A message naming nothing of work needs stronger evidence ("jadwal kereta ke yogya
        besok pagi" shares "tomorrow morning" with a story, not its situation), and one naming
        someone of private life and nothing of work ("kado ultah buat pacar") is about
        private life: a story may be offered, never told. So is a question of what the law
        says ("is a gift to an official legal?"): no story is legal advice; and one about a
        subject next to the stories that none covers (price negotiation, `outside` in
        normalize.yaml).
        """
        ranked, margin, _ = self._judge(question, limit, chat_id)
        return ranked, margin

    def _judge(
        self, question: str, limit: int, chat_id: int | None = None
    ) -> tuple[list[Match], int | None, _Question | None]:
        """`judge`, with the question as the index read it (for `ask`)."""
        ranked, q = self._ranked(question, limit, chat_id)
        return (ranked, self._margin(q), q)

    def _margin(self, q: _Question | None) -> int | None:
        p = self.params
        if q is not None and q.taught:  # a team lead vouched for such a question
            return 0
        if q is not None and (q.law or q.outside or q.legal):
            return None
        if q is None or q.at_work:
            return 0
        return None if q.private else p.no_work_margin

    def ask(
        self,
        question: str,
        limit: int = 3,
        lang: str | None = None,
        *,
        chat_id: int | None = None,
    ) -> Answer:
        """Matches at or above the threshold, best first; none means "no story for that".

        `lang` forces the answer's language (e.g. a chat's setting); None answers in the
        question's language. `chat_id`: the chat asking; the phrasings its own team leads
        taught count there only (None, as for inline mode and the CLI: only bot-wide ones).
        """
        lang = lang or self.language(question, self.default_lang)
        kind = self.small_talk.kind(question)
        if kind is not None:
            return Answer(question=question, lang=lang, matches=(), small_talk=kind)
        ranked, margin, q = self._judge(question, limit, chat_id)
        matches = tuple(
            m for m in ranked if margin is not None and m.score >= self.threshold + margin
        )
        maybe = None
        if not matches and ranked and ranked[0].score >= self.maybe_threshold:
            maybe = ranked[0]
        return Answer(
            question=question,
            lang=lang,
            matches=matches,
            maybe=maybe,
            legal=q.legal if q is not None else None,
            subjects=q.subjects if q is not None else frozenset(),
        )

    def explain(self, question: str, limit: int = 3) -> list[Explanation]:
        """The parts of each top story's confidence, to see why a question matched."""
        scored, _ = self._score(question)
        return [
            Explanation(
                anecdote=self.anecdotes[s.story],
                score=_percent(s.confidence),
                lexical=_percent(s.lexical),
                coverage=round(s.coverage, 3),
                phrasing=round(s.phrasing, 3),
                evidence=round(s.evidence, 3),
                best_phrasing=self._index.phrase_text[s.best_phrase] if s.best_phrase >= 0 else "",
            )
            for s in scored[:limit]
        ]


def _informal_roots(surface: str) -> list[str]:
    """Formal readings of an informal Indonesian verb form (see `Matcher._restored`)."""
    if len(surface) < 5 or not surface.isalpha():
        return []
    heads: list[str] = []
    if surface.startswith("ng") and surface[2] in "aeiou":
        heads += ["k" + surface[2:], surface[2:]]  # "ngoleksi" koleksi, "nganterin" anter
    elif surface.startswith("ny") and surface[2] in "aeiou":
        heads += ["s" + surface[2:], "c" + surface[2:]]
    elif surface[0] == "n" and surface[1] in "aeiou":
        heads.append("t" + surface[1:])
    elif surface[0] == "m" and surface[1] in "aeiou":
        heads.append("p" + surface[1:])
    forms: list[str] = []
    for head in heads or [surface]:
        if head.endswith("in"):
            forms += [head[:-2] + "kan", head[:-2] + "i", head[:-2]]
        if head is not surface:
            forms.append(head)
    return forms


def _best_per_story(
    postings: _Postings, matches: tuple[tuple[int, float], ...]
) -> dict[int, float]:
    """Story -> the best of a question word's matches there (similarity times pull).

    An exact word (one match, similarity 1) is its postings as they are: 1.0 * pull is pull,
    so the shared dict is returned, never to be changed by the caller.
    """
    if len(matches) == 1 and matches[0][1] == 1.0:
        return postings[matches[0][0]]
    best: dict[int, float] = {}
    for tid, sim in matches:
        for a_idx, pull in postings[tid].items():
            value = sim * pull
            if value > best.get(a_idx, 0.0):
                best[a_idx] = value
    return best


def _table_path(kb: KnowledgeBase) -> Path:
    """The knowledge base's own `normalize.yaml` (beside its `anecdotes/`), so a base given
    with `--responses DIR` brings its own slang and synonyms; else the project's table."""
    for anecdote in kb.anecdotes:
        candidate = anecdote.source.parent.parent / "normalize.yaml"
        if candidate.is_file():
            return candidate.resolve()
        break
    return DEFAULT_TABLE


def _concepts_path(kb: KnowledgeBase) -> Path:
    """The knowledge base's own `concepts.yaml` (beside its `anecdotes/`), as for the word
    table; else the project's."""
    for anecdote in kb.anecdotes:
        candidate = anecdote.source.parent.parent / CONCEPTS
        if candidate.is_file():
            return candidate.resolve()
        break
    return DEFAULT_TABLE.parent / CONCEPTS


def _content(normalizer: Normalizer, text: str, lang: str) -> list[str]:
    """Canonical content words of a text, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in normalizer.tokens(text, lang):
        if not normalizer.is_stopword(word):
            seen.setdefault(word, None)
    return list(seen)


def _by_length(words: Iterable[str]) -> dict[tuple[str, int], list[str]]:
    """Words bucketed by first letter and length: typos rarely hit the first letter, and a
    word within k edits has a length within k, so a lookup scans a few small buckets."""
    buckets: dict[tuple[str, int], list[str]] = defaultdict(list)
    for word in words:
        if word:
            buckets[(word[0], len(word))].append(word)
    return dict(buckets)


def _grouped(keys: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of `keys` (ints from 0 to groups - 1) grouped by key, each group in its
    original order, and where each group starts (one more entry: the end)."""
    import numpy as np

    order = np.argsort(keys, kind="stable")
    offsets = np.zeros(groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=groups), out=offsets[1:])
    return order, offsets


def _percent(score: float) -> int:
    return max(0, min(100, round(score * 100)))


def _fields(anecdote: Anecdote) -> Iterable[tuple[str, int, str, str]]:
    """(field kind, number within the kind, language, text) of everything an anecdote is
    matched on."""
    for lang in LANGUAGES:
        yield "title", 0, lang, anecdote.title.get(lang)
        for number, trigger in enumerate(anecdote.triggers.get(lang, ())):
            yield "trigger", number, lang, trigger
        for number, tag in enumerate(anecdote.tags.get(lang, ())):
            yield "tag", number, lang, tag
        for number, lesson in enumerate(anecdote.lessons):
            yield "lesson", number, lang, lesson.get(lang)
        yield "story", 0, lang, anecdote.story.get(lang)


@dataclass
class _StoryTerms:
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


def _story_texts(anecdote: Anecdote) -> bytes:
    """Everything of a story the index reads, as bytes to hash."""
    texts = [f"{k}\x1f{n}\x1f{lang}\x1f{t}" for k, n, lang, t in _fields(anecdote)]
    texts.extend(f"situation\x1f{s.id}\x1f{s.en}" for s in anecdote.situations)
    return "\x1d".join(texts).encode("utf-8", "surrogatepass")


def _str_list(value: object) -> list[str]:
    if not isinstance(value, list) or not _all_str(value):
        raise ValueError("not a list of words")
    return value


def _all_str(values: Iterable[object]) -> bool:
    return set(map(type, values)) <= {str}  # one pass in C: thousands of stories are read


def _flat(parts: Sequence[array]) -> tuple[array, array]:
    """Arrays of ints as one: where each ends, and all their values."""
    ends = array("q", accumulate(map(len, parts)))
    return ends, array("i", chain.from_iterable(parts))


def _split(ends: array, values: array) -> list[array]:
    """The arrays `_flat` joined."""
    return [values[start:end] for start, end in zip(chain([0], ends), ends, strict=False)]


def _story_terms_bytes(terms: _StoryTerms) -> bytes:
    """A story's analysis as data: its words as JSON, its numbers as packed arrays."""
    meta = dumps(
        {
            "terms": terms.terms,
            "texts": terms.texts,
            "surface": terms.surface,
            "written": terms.written,
            "situations": terms.situations,
        }
    )
    numbers = pack(
        terms.counts, array("d", [terms.size]), *_flat(terms.phrases), *_flat(terms.lessons)
    )
    return len(meta).to_bytes(4, "little") + meta + numbers


def _story_terms_of(raw: bytes | None) -> _StoryTerms | None:
    """The analysis `_story_terms_bytes` wrote, or None for anything else (absent, damaged,
    or positions outside the story's terms)."""
    if raw is None:
        return None
    try:
        size = int.from_bytes(raw[:4], "little")
        meta = loads(raw[4 : 4 + size])
        counts, story_size, phrase_ends, phrase_ids, lesson_ends, lesson_ids = unpack(
            raw[4 + size :]
        )
        terms = _StoryTerms(
            terms=_str_list(meta["terms"]),
            counts=counts,
            size=story_size[0],
            phrases=_split(phrase_ends, phrase_ids),
            texts=_str_list(meta["texts"]),
            lessons=_split(lesson_ends, lesson_ids),
            surface=meta["surface"],
            written={lang: _str_list(meta["written"][lang]) for lang in LANGUAGES},
            situations=[_str_list(words) for words in meta["situations"]],
        )
        consistent = (
            len(counts) == len(terms.terms)
            and len(story_size) == 1
            and len(terms.phrases) == len(terms.texts)
            and _ascending(phrase_ends, len(phrase_ids))
            and _ascending(lesson_ends, len(lesson_ids))
            and _within(phrase_ids, len(counts))
            and _within(lesson_ids, len(counts))
            and isinstance(terms.surface, dict)
            and _all_str(chain(terms.surface, terms.surface.values()))
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None
    return terms if consistent else None


def _ascending(ends: array, total: int) -> bool:
    """`ends` are the ends of consecutive parts of `total` values (see `_flat`)."""
    return (
        list(ends) == sorted(ends)
        and (ends[-1] if ends else 0) == total
        and (not ends or ends[0] >= 0)
    )


def _index_bytes(index: _Index) -> bytes:
    """The index as data: its texts and small tables as JSON, its numbers as packed arrays."""
    meta = dumps(
        {
            "vocab": index.vocab,
            "unknown_weight": index.unknown_weight,
            "phrase_text": index.phrase_text,
            "story_phrases": index.story_phrases,
            "surface": index.surface,
            "lesson_terms": [[sorted(terms) for terms in story] for story in index.lesson_terms],
            "language_only": index.language_only,
            "situation_concepts": index.situation_concepts,
        }
    )
    offsets = array("q", [0])
    flat = array("i")
    for ids in index.term_phrases:
        flat.extend(ids)
        offsets.append(len(flat))
    numbers = pack(
        *index.postings.arrays(),
        array("d", index.weight),
        index.phrase_story,
        index.phrase_weight,
        offsets,
        flat,
    )
    return len(meta).to_bytes(4, "little") + meta + numbers


def _index_of(raw: bytes | None, stories: int) -> _Index | None:
    """The index `_index_bytes` wrote, for a base of `stories` stories; None for anything
    else (absent, damaged, or numbers that point outside the index)."""
    if raw is None:
        return None
    try:
        size = int.from_bytes(raw[:4], "little")
        meta = loads(raw[4 : 4 + size])
        post_offsets, post_stories, pulls, weight, phrase_story, phrase_weight, offsets, flat = (
            unpack(raw[4 + size :])
        )
        index = _Index(
            vocab=_str_list(meta["vocab"]),
            unknown_weight=float(meta["unknown_weight"]),
            phrase_text=_str_list(meta["phrase_text"]),
            story_phrases=[(int(a), int(b)) for a, b in meta["story_phrases"]],
            surface={str(k): int(v) for k, v in meta["surface"].items()},
            lesson_terms=[[set(map(int, t)) for t in story] for story in meta["lesson_terms"]],
            language_only={str(k): str(v) for k, v in meta["language_only"].items()},
            situation_concepts=[
                [_str_list(names) for names in story] for story in meta["situation_concepts"]
            ],
        )
        terms, phrases = len(index.vocab), len(index.phrase_text)
        consistent = (
            len(index.story_phrases) == stories
            and len(index.lesson_terms) == stories
            and len(index.situation_concepts) == stories
            and len(weight) == terms
            and len(post_offsets) == terms + 1
            and len(offsets) == terms + 1
            and len(post_stories) == len(pulls) == post_offsets[-1]
            and list(post_offsets) == sorted(post_offsets)
            and list(offsets) == sorted(offsets)
            and offsets[0] == post_offsets[0] == 0
            and offsets[-1] == len(flat)
            and len(phrase_story) == len(phrase_weight) == phrases
            and all(0 <= a <= b <= phrases for a, b in index.story_phrases)
            and _within(post_stories, stories)
            and _within(phrase_story, stories)
            and _within(flat, phrases)
            and _within(index.surface.values(), terms)
            and _within(chain.from_iterable(chain.from_iterable(index.lesson_terms)), terms)
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not consistent:
        return None
    index.postings = _Postings.of_arrays(post_offsets, post_stories, pulls)
    index.weight = weight.tolist()
    index.phrase_story, index.phrase_weight = phrase_story, phrase_weight
    index.term_phrases = [flat[offsets[t] : offsets[t + 1]] for t in range(terms)]
    index.term_ids = {word: tid for tid, word in enumerate(index.vocab)}
    index.by_length = _by_length(index.vocab)
    index.surface_by_length = _by_length(index.surface)
    return index


def _within(values: Iterable[int], size: int) -> bool:
    """Every value is a valid position in a sequence of `size` items."""
    values = list(values) if not isinstance(values, array) else values
    return not values or (min(values) >= 0 and max(values) < size)
