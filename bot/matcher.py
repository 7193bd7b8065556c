"""The matcher: which story fits a question, and how sure are we.

Built once into an index at start-up; a question only touches the index. Scoring has two parts,
both on normalised words (bot/normalize.py) and both weighting rare words above common ones
(an inverse frequency over anecdotes: "customer" is in every story and says little,
"teknisi" names one):

- coverage: how much of the question's weight the anecdote's vocabulary (title, triggers, tags,
  lessons) explains. A question about the weather is mostly words no story uses, so it covers
  nothing, which is what makes an honest refusal possible.
- phrasing: the best single trigger (or title/tag), scored as a recall-weighted overlap of the
  question's and the trigger's weighted words, blended with rapidfuzz's token_sort_ratio on
  the normalised strings, so a question phrased like a trigger wins over one that merely
  shares scattered words.

Question words missing from the vocabulary are matched to the nearest known word with
rapidfuzz (`fuzz.ratio`, length-bucketed), which absorbs typos ("pelangan", "komplen"). The
confidence is 0-100; `ask` refuses below a threshold calibrated on labelled questions
(bot/evaluation.py), `rank` does not (for evaluation and "did you mean").
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.knowledge import LANGUAGES, Anecdote, KnowledgeBase
from bot.language import detect_language
from bot.normalize import Normalizer, get_normalizer

# Calibrated on the dev questions (see README / bench): below this an answer is a refusal.
DEFAULT_THRESHOLD = 32

# How much each field vouches for a word belonging to the story. Lessons are general advice
# and share vocabulary across stories, so they count less than the story's own phrasings.
FIELD_WEIGHTS = {"title": 1.0, "trigger": 1.0, "tag": 1.0, "lesson": 0.6}

COVERAGE_WEIGHT = 0.55
PHRASING_WEIGHT = 0.45
STRING_SHARE = 0.25  # share of the phrasing score taken from token_sort_ratio
RECALL_BETA2 = 4.0  # F-beta with beta=2: recall of the question matters more than precision
EVIDENCE_MASS = 2.5  # weighted matched words needed for full confidence (one word is little)
ASSOC_POWER = 0.5  # how fast a word's pull on a story fades with its relative frequency there
TOPICAL_SHARE = 0.08  # share of a story's fields a word must appear in to count as topical
EVIDENCE_POWER = 0.5
UNKNOWN_DF = 0.5  # a word no story uses weighs like one found in half a story
GEOMETRIC = False
STRING_CHECKS = 3  # best phrasings per story refined with token_sort_ratio
CANDIDATES = 12  # anecdotes whose phrasings are scored in detail
FUZZY_LIMIT = 3


@dataclass(frozen=True)
class Match:
    anecdote: Anecdote
    score: int  # confidence 0-100


@dataclass(frozen=True)
class Answer:
    question: str
    lang: str
    matches: tuple[Match, ...]  # best first; () = out of scope

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


@dataclass
class _Phrasing:
    """One trigger, title or tag of an anecdote, as weighted canonical words."""

    anecdote: int
    terms: frozenset[int]
    text: str
    weight: float


@dataclass
class _Index:
    vocab: list[str] = field(default_factory=list)
    term_ids: dict[str, int] = field(default_factory=dict)
    postings: list[dict[int, float]] = field(default_factory=list)  # term -> anecdote -> field w
    idf: list[float] = field(default_factory=list)
    unknown_idf: float = 1.0
    phrasings: list[_Phrasing] = field(default_factory=list)
    by_anecdote: list[list[int]] = field(default_factory=list)
    term_phrasings: list[list[int]] = field(default_factory=list)  # term -> phrasings with it
    by_length: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    # Words as written in the stories (and the table's slang and synonyms) -> canonical term:
    # a misspelt word is closer to its written form ("terlambt" ~ "terlambat") than to the
    # stem its misspelling produces.
    surface: dict[str, int] = field(default_factory=dict)
    surface_by_length: dict[tuple[str, int], list[str]] = field(default_factory=dict)


class Matcher:
    """Ranks anecdotes for a question; the index is built once in the constructor."""

    def __init__(
        self,
        kb: KnowledgeBase,
        threshold: int | None = None,
        *,
        normalizer: Normalizer | None = None,
        default_lang: str = "id",
    ) -> None:
        self.kb = kb
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.normalizer = normalizer or get_normalizer()
        self.default_lang = default_lang
        self.anecdotes = kb.anecdotes
        self._index = self._build(kb.anecdotes)
        self._fuzzy_cache: dict[str, tuple[tuple[int, float], ...]] = {}
        self.debug: list[tuple[int, float, float, float]] | None = None

    # --- index -------------------------------------------------------------------------
    def _content(self, text: str, lang: str) -> list[str]:
        seen: dict[str, None] = {}
        for word in self.normalizer.tokens(text, lang):
            if not self.normalizer.is_stopword(word):
                seen.setdefault(word, None)
        return list(seen)

    def _build(self, anecdotes: Sequence[Anecdote]) -> _Index:
        index = _Index()
        freq: list[dict[int, float]] = []  # term -> anecdote -> field-weighted count

        def term(word: str) -> int:
            tid = index.term_ids.get(word)
            if tid is None:
                tid = len(index.vocab)
                index.term_ids[word] = tid
                index.vocab.append(word)
                freq.append({})
            return tid

        raw_phrasings: list[tuple[int, list[int], str]] = []
        sizes = [0.0] * len(anecdotes)  # field-weighted number of fields per anecdote
        for a_idx, anecdote in enumerate(anecdotes):
            for kind, lang, text in _fields(anecdote):
                words = self._content(text, lang)
                ids = [term(w) for w in words]
                weight = FIELD_WEIGHTS[kind]
                sizes[a_idx] += weight
                for tid in ids:
                    counts = freq[tid]
                    counts[a_idx] = counts.get(a_idx, 0.0) + weight
                if kind != "lesson" and ids:
                    raw_phrasings.append((a_idx, ids, " ".join(sorted(words))))
        n = max(len(anecdotes), 1)
        # How strongly a word points at each story: its frequency there relative to the story
        # that uses it most ("teknisi" in forty phrasings of one story and one of another
        # points at the first). Its weight: an inverse frequency over stories counted with
        # those strengths, damped for words that appear in only a small share of any story's
        # fields ("pagi" in one trigger of a hundred is an accident of phrasing, not the topic).
        index.postings = []
        index.idf = []
        for counts in freq:
            top = max(counts.values())
            assoc = {a: (c / top) ** ASSOC_POWER for a, c in counts.items()}
            index.postings.append(assoc)
            idf = math.log((n + 1) / sum(assoc.values()))
            share = max(c / sizes[a] for a, c in counts.items())
            index.idf.append(idf * min(1.0, share / TOPICAL_SHARE) ** 0.5)
        index.unknown_idf = math.log((n + 1) / UNKNOWN_DF)
        index.by_anecdote = [[] for _ in anecdotes]
        index.term_phrasings = [[] for _ in index.vocab]
        for a_idx, ids, text in raw_phrasings:
            weight = sum(index.idf[t] for t in set(ids))
            p_idx = len(index.phrasings)
            index.by_anecdote[a_idx].append(p_idx)
            for tid in set(ids):
                index.term_phrasings[tid].append(p_idx)
            index.phrasings.append(_Phrasing(a_idx, frozenset(ids), text, weight))
        index.by_length = _by_length(index.vocab)
        table = self.normalizer.table
        for raw, canonical in [*table.concepts.items(), *table.slang.items()]:
            words = (canonical,) if isinstance(canonical, str) else canonical
            for word in words:
                if word in index.term_ids and len(raw) >= 4:
                    index.surface.setdefault(raw, index.term_ids[word])
        for anecdote in anecdotes:
            for _, lang, text in _fields(anecdote):
                for raw in self.normalizer.split(text):
                    for word in self.normalizer._word(raw, lang):
                        if word in index.term_ids and len(raw) >= 4:
                            index.surface.setdefault(raw, index.term_ids[word])
        index.surface_by_length = _by_length(index.surface)
        return index

    # --- scoring -----------------------------------------------------------------------
    def _lookup(self, word: str, surface: str) -> tuple[tuple[int, float], ...]:
        """Vocabulary terms a question word stands for, with a similarity 0-1.

        Exact canonical words first; otherwise the nearest canonical word and the nearest
        written form (for typos), with rapidfuzz's plain `ratio` (no processor: both sides
        are already normalised), looking only at words of similar length.
        """
        index = self._index
        tid = index.term_ids.get(word)
        if tid is not None:
            return ((tid, 1.0),)
        key = f"{word} {surface}"
        cached = self._fuzzy_cache.get(key)
        if cached is not None:
            return cached
        best: dict[int, float] = {}
        for query, vocab, ids in (
            (word, index.by_length, index.term_ids),
            (surface, index.surface_by_length, index.surface),
        ):
            if len(query) < 4 or not query.isalpha():
                continue
            edits = 1 if len(query) <= 7 else 2
            pool: list[str] = []
            for size in range(len(query) - edits, len(query) + edits + 1):
                pool.extend(vocab.get((query[0], size), ()))
            for choice, distance, _ in process.extract(
                query, pool, scorer=OSA.distance, score_cutoff=edits, limit=FUZZY_LIMIT
            ):
                tid = ids[choice]
                sim = (1.0 - distance / max(len(query), len(choice))) ** 2
                best[tid] = max(best.get(tid, 0.0), sim)
        result = tuple(sorted(best.items(), key=lambda item: -item[1])[:FUZZY_LIMIT])
        if len(self._fuzzy_cache) < 50_000:
            self._fuzzy_cache[key] = result
        return result

    def _question_words(self, question: str, lang: str) -> list[tuple[str, str]]:
        """(canonical word, the written word it came from) for the question's content words."""
        normalizer = self.normalizer
        origin: dict[str, str] = {}
        for raw in normalizer.split(question):
            for word in normalizer._word(raw, lang):
                origin.setdefault(word, normalizer._collapse(raw))
        words = []
        seen: set[str] = set()
        for word in normalizer.tokens(question, lang):
            if word not in seen and not normalizer.is_stopword(word):
                seen.add(word)
                words.append((word, origin.get(word, word)))
        return words

    def _scores(self, question: str, lang: str) -> list[tuple[int, float]]:
        """(anecdote index, confidence 0-1) for every anecdote with any evidence."""
        index = self._index
        pairs = self._question_words(question, lang)
        if not pairs:
            return []
        words = [word for word, _ in pairs]
        looked = [self._lookup(word, surface) for word, surface in pairs]
        weights = [index.idf[m[0][0]] if m else index.unknown_idf for m in looked]
        total = sum(weights)
        if total <= 0:
            return []

        evidence: dict[int, float] = defaultdict(float)
        for matches, weight in zip(looked, weights, strict=True):
            best: dict[int, float] = {}
            for tid, sim in matches:
                for a_idx, fw in index.postings[tid].items():
                    value = sim * fw
                    if value > best.get(a_idx, 0.0):
                        best[a_idx] = value
            for a_idx, value in best.items():
                evidence[a_idx] += weight * value
        if not evidence:
            return []

        # Weighted overlap of the question with every phrasing that shares a word with it,
        # through the inverted index (a phrasing sharing nothing scores nothing).
        overlap: dict[int, float] = defaultdict(float)
        for matches, weight in zip(looked, weights, strict=True):
            best_p: dict[int, float] = {}
            for tid, sim in matches:
                for p_idx in index.term_phrasings[tid]:
                    if sim > best_p.get(p_idx, 0.0):
                        best_p[p_idx] = sim
            for p_idx, sim in best_p.items():
                overlap[p_idx] += weight * sim
        f_by_anecdote: dict[int, list[tuple[float, int]]] = defaultdict(list)
        for p_idx, matched in overlap.items():
            p = index.phrasings[p_idx]
            recall = matched / total
            precision = min(1.0, matched / p.weight) if p.weight > 0 else 0.0
            f = (1 + RECALL_BETA2) * precision * recall / (RECALL_BETA2 * precision + recall)
            f_by_anecdote[p.anecdote].append((f, p_idx))

        q_sorted = " ".join(sorted(words))
        ranked = sorted(evidence.items(), key=lambda item: item[1], reverse=True)
        results: list[tuple[int, float]] = []
        for a_idx, mass in ranked[:CANDIDATES]:
            coverage = mass / total
            phrasing = 0.0
            # rapidfuzz's string similarity refines only the few best phrasings.
            for f, p_idx in heapq.nlargest(STRING_CHECKS, f_by_anecdote.get(a_idx, ())):
                string = fuzz.token_sort_ratio(q_sorted, index.phrasings[p_idx].text) / 100.0
                phrasing = max(phrasing, (1 - STRING_SHARE) * f + STRING_SHARE * string)
            if self.debug is not None:
                self.debug.append((a_idx, round(coverage, 2), round(phrasing, 2), round(mass, 2)))
            if GEOMETRIC:
                confidence = coverage**COVERAGE_WEIGHT * phrasing**PHRASING_WEIGHT
            else:
                confidence = COVERAGE_WEIGHT * coverage + PHRASING_WEIGHT * phrasing
            confidence *= min(1.0, mass / EVIDENCE_MASS) ** EVIDENCE_POWER
            results.append((a_idx, confidence))
        results.sort(key=lambda item: item[1], reverse=True)
        return results

    # --- public ------------------------------------------------------------------------
    def rank(self, question: str, limit: int = 3) -> list[Match]:
        """Best matches without a threshold (evaluation, "did you mean")."""
        # The stemmer follows the question's own language, whatever language we answer in.
        text_lang = detect_language(question, self.default_lang)
        return [
            Match(self.anecdotes[a_idx], _percent(score))
            for a_idx, score in self._scores(question, text_lang)[:limit]
        ]

    def ask(self, question: str, limit: int = 3, lang: str | None = None) -> Answer:
        """Matches at or above the threshold, best first; none means "no story for that".

        `lang` forces the answer's language (a chat's setting); None answers in the
        question's language.
        """
        lang = lang or detect_language(question, self.default_lang)
        matches = tuple(m for m in self.rank(question, limit) if m.score >= self.threshold)
        return Answer(question=question, lang=lang, matches=matches)


def _by_length(words: Iterable[str]) -> dict[tuple[str, int], list[str]]:
    """Words bucketed by first letter and length: typos rarely hit the first letter, and a
    word within k edits has a length within k, so fuzzy lookup scans a few small buckets."""
    by_length: dict[tuple[str, int], list[str]] = defaultdict(list)
    for word in words:
        if word:
            by_length[(word[0], len(word))].append(word)
    return dict(by_length)


def _percent(score: float) -> int:
    return max(0, min(100, round(score * 100)))


def _fields(anecdote: Anecdote) -> Iterable[tuple[str, str, str]]:
    """(field kind, language, text) of everything an anecdote is matched on."""
    for lang in LANGUAGES:
        yield "title", lang, anecdote.title.get(lang)
        for trigger in anecdote.triggers.get(lang, ()):
            yield "trigger", lang, trigger
        for tag in anecdote.tags.get(lang, ()):
            yield "tag", lang, tag
        for lesson in anecdote.lessons:
            yield "lesson", lang, lesson.get(lang)
