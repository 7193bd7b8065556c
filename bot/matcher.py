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

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.knowledge import LANGUAGES, Anecdote, KnowledgeBase
from bot.language import detect_language
from bot.normalize import Normalizer, get_normalizer

# Calibrated on the dev questions (see README / bench): below this an answer is a refusal.
DEFAULT_THRESHOLD = 40

# How much each field vouches for a word belonging to the story. Lessons are general advice
# and share vocabulary across stories, so they count less than the story's own phrasings.
FIELD_WEIGHTS = {"title": 1.0, "trigger": 1.0, "tag": 1.0, "lesson": 0.6}

COVERAGE_WEIGHT = 0.55
PHRASING_WEIGHT = 0.45
STRING_SHARE = 0.25  # share of the phrasing score taken from token_sort_ratio
RECALL_BETA2 = 4.0  # F-beta with beta=2: recall of the question matters more than precision
EVIDENCE_MASS = 2.5  # weighted matched words needed for full confidence (one word is little)
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
    by_length: dict[int, list[str]] = field(default_factory=dict)


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

    # --- index -------------------------------------------------------------------------
    def _content(self, text: str, lang: str) -> list[str]:
        seen: dict[str, None] = {}
        for word in self.normalizer.tokens(text, lang):
            if not self.normalizer.is_stopword(word):
                seen.setdefault(word, None)
        return list(seen)

    def _build(self, anecdotes: Sequence[Anecdote]) -> _Index:
        index = _Index()
        field_weight: list[dict[int, float]] = []

        def term(word: str) -> int:
            tid = index.term_ids.get(word)
            if tid is None:
                tid = len(index.vocab)
                index.term_ids[word] = tid
                index.vocab.append(word)
                field_weight.append({})
            return tid

        raw_phrasings: list[tuple[int, list[int], str]] = []
        for a_idx, anecdote in enumerate(anecdotes):
            for kind, lang, text in _fields(anecdote):
                words = self._content(text, lang)
                ids = [term(w) for w in words]
                weight = FIELD_WEIGHTS[kind]
                for tid in ids:
                    postings = field_weight[tid]
                    postings[a_idx] = max(postings.get(a_idx, 0.0), weight)
                if kind != "lesson" and ids:
                    raw_phrasings.append((a_idx, ids, " ".join(sorted(words))))
        n = max(len(anecdotes), 1)
        index.postings = field_weight
        index.idf = [math.log((n + 1) / len(p)) for p in field_weight]
        index.unknown_idf = math.log((n + 1) / 0.5)
        index.by_anecdote = [[] for _ in anecdotes]
        for a_idx, ids, text in raw_phrasings:
            weight = sum(index.idf[t] for t in set(ids))
            index.by_anecdote[a_idx].append(len(index.phrasings))
            index.phrasings.append(_Phrasing(a_idx, frozenset(ids), text, weight))
        by_length: dict[int, list[str]] = defaultdict(list)
        for word in index.vocab:
            by_length[len(word)].append(word)
        index.by_length = dict(by_length)
        return index

    # --- scoring -----------------------------------------------------------------------
    def _lookup(self, word: str) -> tuple[tuple[int, float], ...]:
        """Vocabulary terms a question word stands for, with a similarity 0-1."""
        index = self._index
        tid = index.term_ids.get(word)
        if tid is not None:
            return ((tid, 1.0),)
        cached = self._fuzzy_cache.get(word)
        if cached is not None:
            return cached
        result: tuple[tuple[int, float], ...] = ()
        if len(word) >= 4 and word.isalpha():
            cutoff = 80.0 if len(word) < 7 else 75.0
            pool: list[str] = []
            for size in range(len(word) - 2, len(word) + 3):
                pool.extend(index.by_length.get(size, ()))
            found = process.extract(
                word, pool, scorer=fuzz.ratio, score_cutoff=cutoff, limit=FUZZY_LIMIT
            )
            result = tuple(
                (index.term_ids[choice], (score / 100.0) ** 2) for choice, score, _ in found
            )
        if len(self._fuzzy_cache) < 50_000:
            self._fuzzy_cache[word] = result
        return result

    def _scores(self, question: str, lang: str) -> list[tuple[int, float]]:
        """(anecdote index, confidence 0-1) for every anecdote with any evidence."""
        index = self._index
        words = self._content(question, lang)
        if not words:
            return []
        looked = [self._lookup(w) for w in words]
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

        q_sorted = " ".join(sorted(words))
        ranked = sorted(evidence.items(), key=lambda item: item[1], reverse=True)
        results: list[tuple[int, float]] = []
        for a_idx, mass in ranked[:CANDIDATES]:
            coverage = mass / total
            phrasing = 0.0
            for p_idx in index.by_anecdote[a_idx]:
                p = index.phrasings[p_idx]
                matched = 0.0
                for matches, weight in zip(looked, weights, strict=True):
                    sim = max((s for tid, s in matches if tid in p.terms), default=0.0)
                    matched += weight * sim
                if matched <= 0:
                    continue
                recall = matched / total
                precision = min(1.0, matched / p.weight) if p.weight > 0 else 0.0
                f = (1 + RECALL_BETA2) * precision * recall / (RECALL_BETA2 * precision + recall)
                string = fuzz.token_sort_ratio(q_sorted, p.text) / 100.0
                score = (1 - STRING_SHARE) * f + STRING_SHARE * string
                if score > phrasing:
                    phrasing = score
            confidence = COVERAGE_WEIGHT * coverage + PHRASING_WEIGHT * phrasing
            confidence *= min(1.0, mass / EVIDENCE_MASS) ** 0.5
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
