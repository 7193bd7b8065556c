"""Scoring a question against the index: its words looked up (typos included), weighed,
and each candidate story scored on coverage and phrasing, then read into a confidence.

A part of `Matcher` (a mixin over its attributes), kept apart from the facade (ask, rank,
explain, teach) that turns these scores into answers; the method is described in
bot/engine/matcher.py.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from bot.engine.confidence import BRIEF_WORDS, WORDS_ONLY, Calibration, Evidence, noisy_or, parts
from bot.engine.index import Index, near_words
from bot.engine.language import LanguageDetector
from bot.engine.normalize import Normalizer
from bot.engine.params import ScoringParams
from bot.engine.scope import ScopeWords
from bot.engine.situations import SituationIndex
from bot.engine.story_words import StoryWords
from bot.engine.taught import TaughtPhrasings

if TYPE_CHECKING:
    import numpy as np

    from bot.content.model import Story

FUZZY_LIMIT = 3  # vocabulary words a misspelt word may stand for
FUZZY_CACHE = 50_000  # remembered typo lookups (bounded: random input must not grow memory)
TAUGHT_PHRASE = -2  # `Scored.best_phrase` of a story found through a taught phrasing
MAX_QUESTION_WORDS = 60  # a pasted essay is not a question; bound the work per message


@dataclass
class Scored:
    """One candidate story's scores for a question: its confidence and the lexical parts."""

    story_index: int
    confidence: float
    coverage: float
    phrasing: float
    evidence: float
    best_phrase: int
    lexical: float = 0.0
    # Share of the question's weight the story explains by its words or, for a word it does
    # not use, by a concept its situations name ("skipped" where the story says "lupa").
    concept_coverage: float = 0.0
    # Root-sum-square of its phrasings' fits, each the F-measure of the words it shares with
    # the question (read only when asked: a lesson's, not a story's).
    phrase_rss: float = 0.0


@dataclass
class Question:
    """A question's content words as the index sees them (for lexical scoring and lessons)."""

    looked: list[tuple[tuple[int, float], ...]]
    weights: list[float]
    at_work: bool  # names something of the working world (customer, boss, project...)
    customer: bool  # names someone the stories serve (customer, official)
    private: bool  # names someone of private life (partner, spouse, parents...)
    words: tuple[str, ...] = ()  # the canonical content words `weights` belong to
    written: tuple[str, ...] = ()  # ...and the written word each came from
    lang: str = "id"  # the language its words were read in
    # Read for the whole message only (`_read_whole`), not for a clause or a lesson:
    law: bool = False  # asks what the law says (legal, UU, gratifikasi...)
    outside: bool = False  # asks about a subject no story covers (price negotiation, ...)
    taught: bool = False  # the best story is the one a team lead taught for such a question
    legal: str | None = None  # a question of the law (bribe, kickback): `legal` in the table
    subjects: frozenset[str] = frozenset()  # subjects touched (officials, gifts, ...)
    concepts: frozenset[str] = frozenset()  # concepts named (responses/concepts.yaml)


class LexicalScoring:
    """Scores a question against `Matcher`'s index: candidates, their parts and confidence."""

    params: ScoringParams
    normalizer: Normalizer
    detector: LanguageDetector
    calibration: Calibration
    situations: SituationIndex
    scope_words: ScopeWords
    story_words: StoryWords
    stories: tuple[Story, ...]
    taught: TaughtPhrasings
    default_lang: str
    _index: Index
    _fuzzy_cache: dict[tuple[str, str], tuple[tuple[int, float], ...]]

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
            for choice, distance in near_words(query, buckets, FUZZY_LIMIT):
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
        for form in informal_roots(surface):
            for word in self.normalizer.canonical_word(form, "id"):
                tid = ids.get(word)
                if tid is not None:
                    return ((tid, 1.0),)
        return None

    def _score(
        self, question: str, chat_id: int | None = None
    ) -> tuple[list[Scored], Question | None]:
        """Every candidate story with its calibrated confidence (0-1), best first; with the
        phrasings taught for `chat_id` (and bot-wide) on top."""
        scored, q, evidence = self._evidence(question)
        for s, found in zip(scored, evidence, strict=True):
            # A story without situations is judged by the words alone (`WORDS_ONLY`): the
            # concept inputs would read its missing situations as a poor fit. A message of a
            # few keywords ("wayang", "indirect sales") tells no situation and sounds like
            # nothing, and the labelled sets hold few such messages, so it gets the better of
            # the words alone and the full model: the concepts its few words name may say more
            # ("cara deketin klien yg dingin" names a cold customer, which no word of 001's
            # says). Either way its words count against it where they name a subject no story
            # covers, as they do in the model ("saya mau resign, gimana bilangnya").
            if not self.situations.has(s.story_index):
                s.confidence = WORDS_ONLY.probability(found) * (1.0 - found.uncovered)
            elif found.words <= BRIEF_WORDS:
                best_reading = max(
                    WORDS_ONLY.probability(found), self.calibration.probability(found)
                )
                s.confidence = best_reading * (1.0 - found.uncovered)
            else:
                s.confidence = self.calibration.probability(found)
            if found.lexical >= self.params.author_phrasing and found.lead > 0:
                s.confidence = max(s.confidence, found.lexical)  # an author's own phrasing
        if q is not None and len(self.taught):
            self._add_taught(scored, q, chat_id)
        scored.sort(key=lambda s: s.confidence, reverse=True)
        if q is not None and scored:
            top = scored[0]
            q.taught = top.best_phrase == TAUGHT_PHRASE
        return scored, q

    def _add_taught(self, scored: list[Scored], q: Question, chat_id: int | None) -> None:
        """Raise each story a team lead taught for a question like this one to that
        closeness (bot/engine/taught.py), adding it when the words alone did not find it. Only
        what applies in `chat_id` counts: bot-wide phrasings, and that chat's own."""
        close = self.taught.similarity(dict(zip(q.words, q.weights, strict=True)), chat_id)
        by_story = {s.story_index: s for s in scored}
        for story_index, f1 in close.items():
            if f1 < self.params.taught_min:
                continue
            found = by_story.get(story_index)
            if found is None:
                scored.append(Scored(story_index, f1, 0.0, f1, 0.0, TAUGHT_PHRASE))
            elif f1 > found.confidence:
                found.confidence, found.best_phrase = f1, TAUGHT_PHRASE

    def _evidence(self, question: str) -> tuple[list[Scored], Question | None, list[Evidence]]:
        """The lexical candidates and, for each, the evidence the calibration reads.

        The whole message is scored, then each clause on its own: a story that one clause
        states clearly, or that several clauses point to, is not lost in a long message.
        """
        whole, q = self._lexical(question)
        if q is None:
            return [], q, []
        self._read_whole(q, question)
        if not whole:
            return [], q, []
        clauses = parts(question)
        by_part: list[dict[int, float]] = []
        if len(clauses) > 1:
            # A clause's score is read only for the whole message's candidates (a story not
            # among the clause's own candidates scores 0 there, as before): only they are
            # scored in detail.
            wanted = {s.story_index for s in whole}
            for clause in clauses:
                scored, _ = self._lexical(clause, wanted)
                by_part.append({s.story_index: s.lexical for s in scored})
        evidence = []
        situations = self.situations
        uncovered = situations.uncovered(q.concepts)
        scope = self.scope_words.score(q.words)
        best, second = [*sorted((s.lexical for s in whole), reverse=True)[:2], 0.0][:2]
        leads = self._words_leads(whole, q.words)
        for s, words_lead in zip(whole, leads, strict=True):
            rival = second if s.lexical == best else best  # the best other candidate
            part_scores = [p.get(s.story_index, 0.0) for p in by_part] or [s.lexical]
            fit = situations.score(s.story_index, q.concepts)
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
                    situation_told=fit.told,
                    uncovered=uncovered,
                    named=bool(q.concepts) and situations.has(s.story_index),
                    concept_coverage=s.concept_coverage,
                    scope=scope,
                    lead=s.lexical - rival,
                    words_lead=words_lead,
                )
            )
        return whole, q, evidence

    def _words_leads(self, whole: list[Scored], words: tuple[str, ...]) -> list[float]:
        """Each candidate's story-words lead over the best other candidate the words know.

        A story the words were not fitted on (a new story before `calibrate`, or one with
        too few labelled messages: `MIN_STORY_MESSAGES`) has no words to be weighed by: it
        gets no lead (0), and the stories the words know are weighed among themselves, so a
        new story that merely shares a few words with a message does not take the lead from
        the story the message is about. Where the new story fits the message's words at
        least as well as a known one (its own triggers), that known story keeps no positive
        lead over it.
        """
        known = [self.story_words.knows(self.stories[s.story_index].id) for s in whole]
        worded = [
            self.story_words.score(self.stories[s.story_index].id, words) if k else 0.0
            for s, k in zip(whole, known, strict=True)
        ]
        ranked = sorted((w for w, k in zip(worded, known, strict=True) if k), reverse=True)
        best, second = [*ranked[:2], 0.0, 0.0][:2]
        new_fit = max((s.lexical for s, k in zip(whole, known, strict=True) if not k), default=-1.0)
        leads = []
        for s, own, k in zip(whole, worded, known, strict=True):
            if not k:
                leads.append(0.0)
                continue
            lead = own - (second if own == best else best)
            leads.append(min(lead, 0.0) if new_fit >= s.lexical else lead)
        return leads

    def _coverage(
        self, looked: list[tuple[tuple[int, float], ...]], weights: list[float]
    ) -> tuple[list[tuple[int, float, int, float]], list[tuple[np.ndarray, np.ndarray] | None]]:
        """The stories the question's words cover most, best first (at most `candidates`):
        (story, the question's weight found there, how many of its words are found there, the
        strongest one's weight); and per question word, the stories it reaches with its value
        in each (None for a word no story uses), for the concept-widened coverage.

        Each question word counts once per story, at its best match there. A long message's
        words touch thousands of stories, so the sums are numpy's, over the index's flat
        postings: the same additions in the same order as a loop over words, so the same
        floats. Among equal sums, the story the words reached first comes first.
        """
        import numpy as np  # here only: a start with a full cache does not need it

        index = self._index
        offsets, story_ids, pulls = index.postings.arrays()
        all_stories = np.frombuffer(story_ids, dtype=np.intc)
        all_pulls = np.frombuffer(pulls, dtype=np.float64)
        # Every (story, value) pair of every word, word after word, with the word's weight.
        stories, values, word_weights = [], [], []
        per_word: list[tuple[np.ndarray, np.ndarray] | None] = []
        for matches, weight in zip(looked, weights, strict=True):
            if not matches:
                per_word.append(None)
                continue  # a word no story uses
            if len(matches) == 1 and matches[0][1] == 1.0:  # an exact word: its postings
                tid = matches[0][0]
                stories.append(all_stories[offsets[tid] : offsets[tid + 1]])
                values.append(all_pulls[offsets[tid] : offsets[tid + 1]])
            else:  # a misspelt word: per story, the best of its matches
                reached = [all_stories[offsets[tid] : offsets[tid + 1]] for tid, _ in matches]
                pulled = [sim * all_pulls[offsets[tid] : offsets[tid + 1]] for tid, sim in matches]
                best_stories, best_values = _best_per_story(reached, pulled)
                stories.append(best_stories)
                values.append(best_values)
            per_word.append((stories[-1], values[-1]))
            word_weights.append(weight)
        if not stories:
            return [], per_word
        lengths = [len(s) for s in stories]
        story_rows = np.concatenate(stories)
        found = np.concatenate(values) * np.repeat(word_weights, lengths)
        size = len(index.story_phrases)
        # bincount adds in the pairs' order, from 0.0: word after word, as a loop would.
        mass = np.bincount(story_rows, weights=found, minlength=size)
        hits = np.bincount(story_rows, minlength=size)
        strongest = np.zeros(size)
        np.maximum.at(strongest, story_rows, found)
        first = np.full(size, len(story_rows))  # the first pair that reaches each story
        np.minimum.at(first, story_rows, np.arange(len(story_rows)))
        touched = np.flatnonzero(hits)
        wanted = self.params.candidates
        if len(touched) > wanted:  # sort only those that can be among the best
            kth = np.partition(mass[touched], -wanted)[-wanted]  # the wanted-th largest sum
            touched = touched[mass[touched] >= kth]
        best_first = touched[np.lexsort((first[touched], -mass[touched]))][:wanted]
        return list(
            zip(
                best_first.tolist(),
                mass[best_first].tolist(),
                hits[best_first].tolist(),
                strongest[best_first].tolist(),
                strict=True,
            )
        ), per_word

    def fits(
        self, question: str, read: Question | None = None, *, phrase_rss: bool = False
    ) -> dict[int, tuple[float, float]]:
        """Each candidate story's (lexical score, phrase_rss) for the question, by position:
        how well a lesson matcher's lessons fit a message (bot/engine/lesson_order.py).
        `read`: the question as another matcher with this one's word table read it."""
        whole, _ = self._lexical(question, read=read, phrase_rss=phrase_rss)
        return {s.story_index: (s.lexical, s.phrase_rss) for s in whole}

    def _lexical(
        self,
        question: str,
        only: set[int] | None = None,
        read: Question | None = None,
        *,
        phrase_rss: bool = False,
    ) -> tuple[list[Scored], Question | None]:
        """Every candidate story with its lexical score (0-1) and parts, best first.

        Candidates are the `candidates` stories the question covers most; with `only`, those
        outside it are left out of the result (not scored in detail), the others unchanged.
        `read`: the same question as another matcher with this one's word table read it (its
        language and words: a story's lessons are ordered for the message that chose the
        story), so it is not read again. What only a whole message is read for is left to
        `_read_whole`. `phrase_rss`: also sum up every phrasing's fit (its F-measure, before
        the best ones are refined by their strings) into `Scored.phrase_rss`, which the order
        of a story's lessons weighs.
        """
        p = self.params
        index = self._index
        if read is None:
            lang = self.detector.detect(question, self.default_lang)  # the stemmer follows it
            pairs = self._question_words(question, lang)[:MAX_QUESTION_WORDS]
        else:
            lang, pairs = read.lang, list(zip(read.words, read.written, strict=True))
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

        candidates, per_word = self._coverage(looked, weights)
        situations = self.situations
        word_concepts = [situations.word_concepts(word) for word in words]

        q_text = " ".join(sorted(words))
        scored: list[Scored] = []
        for a_idx, mass, hits, strongest in candidates:
            if only is not None and a_idx not in only:
                continue  # its phrasing would not be read (a clause's other stories)
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
            squares = sum(f * f for f, _ in ranked_phrases) if phrase_rss else 0.0
            coverage = mass / total
            union = situations.union(a_idx)
            widened = mass
            if union:
                for reach, weight, named in zip(per_word, weights, word_concepts, strict=True):
                    if named and not named.isdisjoint(union):
                        widened += weight * max(0.0, 1.0 - _value_at(reach, a_idx))
            confidence = p.coverage_weight * coverage + p.phrasing_weight * phrasing
            confidence *= min(1.0, mass / p.evidence_mass) ** p.evidence_power
            if hits < 2 and (strongest < p.single_word_min or not at_work):
                confidence *= p.single_word_factor
            if not at_work:
                confidence *= p.no_work_factor
            scored.append(
                Scored(
                    a_idx,
                    confidence,
                    coverage,
                    phrasing,
                    mass,
                    best_phrase,
                    confidence,
                    widened / total,
                    math.sqrt(squares),
                )
            )
        scored.sort(key=lambda s: s.confidence, reverse=True)
        normalizer = self.normalizer
        private = any(normalizer.is_private(word) for word in words)
        customer = any(normalizer.is_customer(word) for word in words)
        written = tuple(surface for _, surface in pairs)
        return scored, Question(
            looked, weights, at_work, customer, private, tuple(words), written, lang
        )

    def _read_whole(self, q: Question, question: str) -> None:
        """Fill in what only the whole message is read for (a clause's score and a lesson's
        fit are not): the law, a subject no story covers, the subjects and the concepts."""
        normalizer = self.normalizer
        q.law = normalizer.asks_law(question)
        # stopwords count: "boleh" (may I) weighs nothing but asks for permission
        folded = normalizer.tokens(question, q.lang)
        q.outside = normalizer.outside_subject(folded, question) is not None
        lawful = normalizer.without_law_units(question)  # "tim legal" asks nothing of the law
        law_words = normalizer.tokens(lawful, q.lang) if lawful != question else folded
        q.legal = normalizer.legal_subject([*law_words, *normalizer.split(lawful)], lawful)
        q.subjects = normalizer.subjects_of(folded, question)
        q.concepts = self.situations.message(folded)
        # Someone the stories serve may be named by a concept's phrase or title ("kepala
        # dinas", "the director"), not only by a word of `customers`.
        q.customer = q.customer or not q.concepts.isdisjoint(self.situations.table.served)


def informal_roots(surface: str) -> list[str]:
    """Formal readings of an informal Indonesian verb form (see `LexicalScoring._restored`)."""
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


def _value_at(reach: tuple[np.ndarray, np.ndarray] | None, story_index: int) -> float:
    """A question word's value in one story (0 where it is not found there)."""
    if reach is None:
        return 0.0
    stories, values = reach
    hit = (stories == story_index).nonzero()[0]
    return float(values[hit[0]]) if len(hit) else 0.0


def _best_per_story(
    stories: list[np.ndarray], values: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """A misspelt word's stories, each once, with the best of its matches' values there
    (similarity times pull), in the order the matches first reach them.

    `stories` and `values`: per match, the stories it is found in and its value in each.
    """
    import numpy as np

    unique, first, inverse = np.unique(
        np.concatenate(stories), return_index=True, return_inverse=True
    )
    best = np.zeros(len(unique))
    np.maximum.at(best, inverse, np.concatenate(values))
    in_order = np.argsort(first)
    return unique[in_order], best[in_order]
