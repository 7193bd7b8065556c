"""Building the index: each story analysed on its own (cached per story), then assembled.

A part of `Matcher` (a mixin over its attributes), kept apart because building the index
(stemming every story's texts, weighing words against each other) is a job of its own, run
once at start-up, while the rest of the matcher answers questions.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from array import array
from collections.abc import Sequence
from functools import partial
from itertools import accumulate, chain, filterfalse, repeat
from pathlib import Path
from typing import TYPE_CHECKING

from bot.content.model import LANGUAGES, Story
from bot.engine.concepts import ConceptTable
from bot.engine.index import (
    Index,
    Postings,
    StoryTerms,
    length_buckets,
    matched_fields,
    story_texts,
)
from bot.engine.index_bytes import (
    index_bytes,
    index_of,
    story_terms_bytes,
    story_terms_of,
    story_written_of,
)
from bot.engine.index_patch import (
    MAX_CHANGED_SHARE,
    PatchState,
    StoryWritten,
    one_language,
    patch,
    state_bytes,
    state_of,
    typo_forms,
    with_written,
    written_bytes,
)
from bot.engine.normalize import Normalizer
from bot.engine.params import ScoringParams
from bot.forked import MIN_ITEMS, forked_result, map_forked, start_forked
from bot.storage.cache import Cache

if TYPE_CHECKING:
    import numpy as np

# Whole indexes kept in the cache (bot/storage/cache.py), most recently used first: a few
# bases (a test base beside the real one) start fast each; every story's analysis is kept
# separately.
INDEX_ENTRIES = 3
log = logging.getLogger(__name__)
WRITTEN_CACHE = 200_000  # remembered readings of the stories' written words (bounded)


class IndexBuilding:
    """Builds `Matcher`'s index from its stories, through the cache when there is one."""

    params: ScoringParams
    normalizer: Normalizer
    concept_table: ConceptTable
    _built_by: bytes
    _written_forms: dict[str, dict[str, tuple[str | None, str | None]]]  # per language
    _concepts_key: str
    _index_cache_key: str  # the whole index's key in the cache (Matcher._index_key)
    _story_files: dict[Path, bytes] | None  # each story file's digest (knowledge.story_digests)

    def _story_key(self, story: Story) -> str:
        """A story's analysis depends on the builder and its texts; for a base loaded from
        files, on the builder and its file's bytes (`_story_files`): known already, where
        hashing the texts of thousands of stories took a start a fraction of a second."""
        h = hashlib.blake2b(self._built_by, digest_size=20)
        file = self._story_files.get(story.source) if self._story_files else None
        if file is not None:
            h.update(b"file\0" + file)
        else:
            h.update(story_texts(story))
        return "story:" + h.hexdigest()

    def _build(self, stories: Sequence[Story], cache: Cache | None = None) -> Index:
        """The index of `stories`: each story's words from the cache or analysed afresh
        (the slow part: stemming), then weighed against each other (this depends on all).
        With a cache: the previous index of this base patched where only a few stories
        changed (bot/engine/index_patch.py), and the result kept for the next start."""
        if cache is None:
            return self._assemble(stories, [self._analyse(a) for a in stories])[0]
        keys = [self._story_key(story) for story in stories]
        latest = self._latest_key(stories)
        patched = self._patched(stories, keys, cache, latest)
        if patched is not None:
            return patched
        found = cache.get_many(keys)
        cached = [story_terms_of(found.get(key)) for key in keys]
        missing = [n for n, terms in enumerate(cached) if terms is None]
        fresh = map_forked(
            lambda n: story_terms_bytes(self._analyse(stories[missing[n]])), len(missing)
        )
        analyses: list[StoryTerms] = []
        # per story: a worker's bytes where its written words were left in them, else None
        undecoded: list[bytes | None] = []
        new: dict[str, bytes] = {}
        results = iter(fresh or ())
        for story, key, terms in zip(stories, keys, cached, strict=True):
            raw = None
            if terms is None:
                if fresh is None:
                    terms = self._analyse(story)
                    new[key] = story_terms_bytes(terms)
                else:  # analysed by a worker: its bytes are what the cache keeps
                    raw = new[key] = next(results)
                    terms = story_terms_of(raw, checked=False)
                    assert terms is not None
            analyses.append(terms)
            undecoded.append(raw)
        del cached
        touch = [key for key in keys if key in found]
        del found  # the cached analyses' bytes (hundreds of MB at thousands of stories)
        # The new analyses are written by another process while this one assembles: tens to
        # hundreds of megabytes that would otherwise wait for the assembly, or it for them.
        if len(new) >= MIN_ITEMS:
            written = start_forked(lambda: Cache(cache.path.parent).put_many(new, touch=touch))
        else:  # a few: forking costs more than it saves
            cache.put_many(new, touch=touch)
            written = _nothing
        index, state = self._assemble(stories, analyses, keys, undecoded)
        del analyses, undecoded
        written()  # before anything else is written: one writer at a time
        new.clear()
        cache.put_many({latest: self._index_cache_key.encode()})
        self._keep(cache, index, state)
        return index

    def _latest_key(self, stories: Sequence[Story]) -> str:
        """The cache entry naming the index last built for this base (where its stories are
        kept; its word table's path and bytes are in the builder's digest) with this concept
        table: what a start after an edit patches. One per base, so bases sharing a data
        directory keep theirs."""
        h = hashlib.blake2b(self._built_by, digest_size=20)
        h.update(self._concepts_key.encode())
        if stories:
            h.update(str(stories[0].source.parent).encode("utf-8", "surrogatepass"))
        return "latest:" + h.hexdigest()

    def _keep(self, cache: Cache, index: Index, state: PatchState) -> None:
        """Keep the index and what patching it needs, and only the last few of each. Their
        bytes are made here and written by a thread (writing a file releases the
        interpreter) while this process goes on: the next start needs them, this one does
        not. `wait_for_writes` waits for it, as does the process's exit."""
        key = self._index_cache_key
        files = {"index:" + key: index_bytes(index), "patch:" + key: state_bytes(state)}

        def write() -> None:
            cache.put_large(files)
            cache.keep_latest_large("index", INDEX_ENTRIES)
            cache.keep_latest_large("patch", INDEX_ENTRIES)

        writer = threading.Thread(target=write, name="index-writer")
        writer.start()
        _WRITERS.append(writer)

    def _patched(
        self, stories: Sequence[Story], keys: list[str], cache: Cache, latest: str
    ) -> Index | None:
        """The previous index of this base with the stories that changed since analysed
        anew, or None when there is none to patch or too much changed."""
        previous_key = cache.get(latest)
        if previous_key is None:
            return None
        previous = previous_key.decode("ascii", "replace")
        old = index_of(cache.get_large("index:" + previous), len(stories))
        state = state_of(cache.get_large("patch:" + previous), old) if old else None
        if old is None or state is None or len(state.keys) != len(keys):
            return None
        changed = [n for n, key in enumerate(keys) if key != state.keys[n]]
        if not changed or len(changed) > max(1, MAX_CHANGED_SHARE * len(keys)):
            return None
        cached = cache.get_many([keys[n] for n in changed])
        analyses: dict[int, StoryTerms] = {}
        new: dict[str, bytes] = {}
        for n in changed:
            terms = story_terms_of(cached.get(keys[n]))
            if terms is None:
                terms = self._analyse(stories[n])
                new[keys[n]] = story_terms_bytes(terms)
            analyses[n] = terms
        concepts = self.concept_table.concepts
        try:
            index, state = patch(
                old,
                state,
                keys,
                analyses,
                self.params,
                lambda a: [sorted(concepts(words)) for words in a.situations],
                self._table_surface,
            )
        except (ArithmeticError, IndexError, KeyError, TypeError, ValueError) as exc:
            # numbers that passed the checks but make no sense (a planted file): assemble
            log.info("cannot patch the cached index (%s: %s)", type(exc).__name__, exc)
            return None
        new[latest] = self._index_cache_key.encode()
        cache.put_many(new)
        self._keep(cache, index, state)
        return index

    def _analyse(self, story: Story) -> StoryTerms:
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
        stopwords = normalizer.table.stopwords.__contains__
        raws: list[str] = []  # the written words of the texts read so far in `lang`
        raws_lang = ""
        for kind, number, lang, text in matched_fields(story):
            raw = normalizer.split(text)
            if lang != raws_lang:  # each written word read once per language of the story
                self._read_written(raws, raws_lang, surface, written)
                raws, raws_lang = [], lang
            raws += raw
            # its content words: canonical, stopwords out, each once (C loops: see `_content`)
            words = list(dict.fromkeys(filterfalse(stopwords, normalizer.tokens_of(raw, lang))))
            weight = p.field_weight(kind)
            size += weight
            ids = [positions.setdefault(word, len(positions)) for word in words]
            if len(positions) > len(counts):
                counts.extend([0.0] * (len(positions) - len(counts)))  # new terms
            for at in ids:
                counts[at] += weight
            if kind == "lesson":
                while len(lessons) <= number:
                    lessons.append(set())
                lessons[number].update(ids)
            elif kind in ("title", "trigger", "tag") and ids:
                phrases.append(array("i", ids))
                texts.append(" ".join(sorted(words)))
        self._read_written(raws, raws_lang, surface, written)
        situations = [
            normalizer.tokens(situation.id, "id") + normalizer.tokens(situation.en, "en")
            for situation in story.situations
        ]
        return StoryTerms(
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

    def _read_written(
        self,
        raws: list[str],
        lang: str,
        surface: dict[str, str],
        written: dict[str, dict[str, None]],
    ) -> None:
        """Note `raws` (written words of one language, first written first) in `surface`
        (the first form of each word wins) and `written`: a word's form and spelling depend
        on it and the language only, so each distinct word is read once."""
        distinct = list(dict.fromkeys(raws))
        found = list(map(self._written_forms.setdefault(lang, {}).get, distinct))
        if None in found:  # words no story wrote before
            found = [
                self._written_form(raw, lang) if pair is None else pair
                for raw, pair in zip(distinct, found, strict=True)
            ]
        if not found:
            return
        forms, words = zip(*found, strict=True)
        surface |= {
            raw: form
            for raw, form in zip(distinct, forms, strict=True)
            if form is not None and raw not in surface
        }
        written[lang] |= dict.fromkeys(word for word in words if word is not None)

    def _written_form(self, raw: str, lang: str) -> tuple[str | None, str | None]:
        """A written word's canonical form (words of 4+ letters: for typos) and its collapsed
        spelling (alphabetic, 4+ letters: for telling languages apart), None where not kept.
        Remembered: thousands of stories write the same few thousand words."""
        known = self._written_forms.setdefault(lang, {})
        found = known.get(raw)
        if found is None:
            forms = self.normalizer.canonical_word(raw, lang) if len(raw) >= 4 else ()
            word = self.normalizer.collapse(raw)
            found = (
                forms[0] if forms else None,
                word if len(word) >= 4 and word.isalpha() else None,
            )
            if len(known) < WRITTEN_CACHE:
                known[raw] = found
        return found

    def _assemble(
        self,
        stories: Sequence[Story],
        analyses: Sequence[StoryTerms],
        keys: Sequence[str] = (),
        undecoded: Sequence[bytes | None] = (),
    ) -> tuple[Index, PatchState]:
        """The index of the stories' analyses: the part that depends on every story (term
        ids, weights, postings). Only sums and lookups over what `_analyse` found: no text is
        read again. With it, what patching this index needs (`keys`: the stories' cache
        keys; `undecoded`: per story, where its analysis was read without its written words,
        the bytes they are in, else None)."""
        import numpy as np  # here only: a start with a full cache does not need it

        # What patching needs of the stories' written words is worked out meanwhile by a
        # forked process where there are many: the assembly does not need it, nor, on a
        # first start, the words themselves (the forked process decodes them).
        written = partial(_written_state, analyses, undecoded)
        if len(analyses) >= MIN_ITEMS:
            written = forked_result(written)
        p = self.params
        index = Index()
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
        story_rows, counts, tids_sorted = owner[order], counts[order], tids[order]
        firsts = story_start[:-1].astype(np.int32)[owner]  # each pair's story's first pair
        pair_positions = array(
            "i", (np.arange(len(tids), dtype=np.int32) - firsts)[order].tobytes()
        )
        del firsts, order
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
        room = [min(p.topical_count, p.topical_share * a.size) for a in analyses]
        if len(counts):
            ratios = counts / np.maximum.reduceat(counts, starts)[tids_sorted]
            distinct, back = np.unique(ratios, return_inverse=True)
            powers = [ratio**p.assoc_power for ratio in distinct.tolist()]
            pulls = np.array(powers, dtype=np.float64)[back]
            shares = np.maximum.reduceat(counts / np.array(room)[story_rows], starts).tolist()
            del ratios, distinct, back, tids_sorted
        pair_counts = array("d", counts.tobytes())  # kept for a patch (bot/engine/index_patch.py)
        del counts
        pull_list, ends = pulls.tolist(), offsets.tolist()
        for tid, share in enumerate(shares):
            total = sum(pull_list[ends[tid] : ends[tid + 1]])
            index.weight.append(math.log((n + 1) / total) * min(1.0, share) ** 0.5)
        index.unknown_weight = math.log((n + 1) / p.unknown_df)
        index.postings = Postings.of_arrays(
            array("q", offsets.tobytes()),
            array("i", story_rows.astype(np.int32).tobytes()),
            array("d", pulls.tobytes()),
        )
        del pull_list, pulls, story_rows  # the big temporaries go before the next ones come

        # Phrasings (titles, triggers, tags), story by story: their weight is the sum of
        # their terms' weights (exact, so it does not depend on the order of the ids: a patch
        # that renumbers terms need not sum again); each term lists the phrasings that use
        # it, ascending. Their words in text order are kept for a patch.
        phrases = [p for a in analyses for p in a.phrases]
        counts_of = [len(a.phrases) for a in analyses]
        phrase_story = np.repeat(np.arange(len(analyses), dtype=np.int32), counts_of)
        sizes = np.fromiter(map(len, phrases), dtype=np.int64, count=len(phrases))
        at = np.frombuffer(b"".join(p.tobytes() for p in phrases), dtype=np.int32)
        words = tids[story_start[:-1][np.repeat(phrase_story, sizes)] + at]
        del phrases, at
        phrase_words = array("i", words.astype(np.int32).tobytes())
        phrase_word_ends = array("q", np.cumsum(sizes).tobytes())
        # each phrasing's distinct terms, ascending: (phrasing, term) pairs sorted, once each
        terms_n = max(len(index.vocab), 1)
        pairs = np.sort(np.repeat(np.arange(len(sizes), dtype=np.int64), sizes) * terms_n + words)
        if len(pairs):  # sorted, then each once (numpy's `unique` takes seconds on these)
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        del words
        phrase_of, phrase_terms = pairs // terms_n, pairs % terms_n
        del pairs
        bounds = np.searchsorted(phrase_of, np.arange(len(sizes) + 1)).tolist()
        weights = np.array(index.weight)[phrase_terms].tolist()
        index.phrase_weight = array(
            "d", map(math.fsum, map(weights.__getitem__, map(slice, bounds[:-1], bounds[1:])))
        )
        del weights
        index.phrase_story = array("i", phrase_story.tobytes())
        index.phrase_text = [text for a in analyses for text in a.texts]
        ends_of = list(accumulate(counts_of, initial=0))
        index.story_phrases = list(zip(ends_of[:-1], ends_of[1:], strict=True))
        all_ids, story_bounds = tids.tolist(), story_start.tolist()
        for a_idx, analysis in enumerate(analyses):
            ids = all_ids[story_bounds[a_idx] : story_bounds[a_idx + 1]]
            index.lesson_terms.append(
                [set(map(ids.__getitem__, lesson)) for lesson in analysis.lessons]
            )
        del all_ids, tids, owner
        order, offsets = _grouped(phrase_terms, len(index.vocab))
        del phrase_terms
        flat = array("i", phrase_of[order].astype(np.int32).tobytes())
        del phrase_of, order
        ends = offsets.tolist()
        index.term_phrases = [flat[ends[t] : ends[t + 1]] for t in range(len(index.vocab))]
        del flat

        concepts = self.concept_table.concepts
        index.situation_concepts = [
            [sorted(concepts(words)) for words in analysis.situations] for analysis in analyses
        ]
        state = with_written(
            written(),
            list(keys),
            room,
            pair_counts,
            pair_positions,
            phrase_words,
            phrase_word_ends,
        )
        # Written forms for typo lookup: the first story's reading of a word wins, then the
        # table's slang and concepts ("kustomer", "komplen": typos of these too). Read, as
        # the words of one language only, from the state's numbered written words.
        surface_words = typo_forms(state)
        self._table_surface(surface_words, term_ids)
        for raw, word in surface_words.items():
            if word in term_ids:
                index.surface.setdefault(raw, term_ids[word])
        index.by_length = length_buckets(index.vocab)
        index.surface_by_length = length_buckets(index.surface)
        index.language_only = one_language(state)
        return index, state

    def _table_surface(self, surface_words: dict[str, str], term_ids: dict[str, int]) -> None:
        """Add the table's slang and concepts ("kustomer", "komplen") to the written forms
        for typo lookup, where their form is a term and they are not written in a story."""
        normalizer = self.normalizer
        table = normalizer.table
        for raw in [*table.concepts, *table.slang]:
            forms = normalizer.canonical_word(raw, "id") if len(raw) >= 4 else ()
            if forms and forms[0] in term_ids and raw not in surface_words:
                surface_words[raw] = forms[0]


_WRITERS: list[threading.Thread] = []  # threads writing whole indexes (`_keep`)


def wait_for_writes() -> None:
    """Wait for the indexes this process is writing: before it reads the cache again, or
    forks (which waits for no other thread to run)."""
    while _WRITERS:
        _WRITERS.pop().join()


def _written_state(analyses: Sequence[StoryTerms], undecoded: Sequence[bytes | None]) -> bytes:
    """`written_bytes` of the analyses' written words, those read without them (`undecoded`:
    their bytes, see `IndexBuilding._assemble`) decoded here."""
    stories: list[StoryWritten] = [
        (a.surface, a.written) if raw is None else story_written_of(raw)
        for a, raw in zip(analyses, chain(undecoded, repeat(None)), strict=False)
    ]
    return written_bytes(stories)


def _nothing() -> None:
    """Nothing to wait for."""


def _content(normalizer: Normalizer, text: str, lang: str) -> list[str]:
    """Canonical content words of a text, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in normalizer.tokens(text, lang):
        if not normalizer.is_stopword(word):
            seen.setdefault(word, None)
    return list(seen)


def _grouped(keys: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of `keys` (ints from 0 to groups - 1) grouped by key, each group in its
    original order, and where each group starts (one more entry: the end)."""
    import numpy as np

    order = np.argsort(keys, kind="stable")
    offsets = np.zeros(groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=groups), out=offsets[1:])
    return order, offsets
