"""Patching the previous index when a few stories changed, instead of assembling it anew.

Assembling the index reads every story's cached analysis and weighs every word against every
story; after editing one story among thousands that is seconds of work whose result is almost
all the same. What one story changes is bounded: its own postings, phrasings, lessons and
situations, the pulls and weights of the words it uses (and only those words: the number of
stories does not change), the weights of the phrasings that use those words, and the
first-seen orders (term ids, written forms, one-language words). `PatchState` keeps, beside
the index, what recomputing those needs (each pair's count and position, each phrasing's
words, each story's written forms and words as numbers), so a patch touches the changed
stories' words and a few vectorised passes, and its result is the very index a fresh build
gives (bit for bit: tests/test_matcher_scale.py).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate, chain
from typing import TYPE_CHECKING

from bot.content.model import LANGUAGES
from bot.engine.index import Index, Postings, StoryTerms, length_buckets
from bot.engine.params import ScoringParams
from bot.storage.cache import dumps, loads, pack, unpack

if TYPE_CHECKING:
    import numpy as np

# A patch is for an edit or a few: beyond this share of the stories, assembling is as quick.
MAX_CHANGED_SHARE = 0.05
# A story's written forms and written words per language (`StoryTerms.surface`, `.written`).
StoryWritten = tuple[dict[str, str], dict[str, list[str]]]


@dataclass
class PatchState:
    """What patching an index needs besides the index itself, as flat number arrays over
    tables of words (kept in the cache beside the index it belongs to)."""

    keys: list[str]  # each story's cache key (its texts and the builder): which changed
    room: array  # "d", per story: the count at which a word fills a fair share of it
    counts: array  # "d", parallel to the postings: the word's field-weighted count there
    positions: array  # "i", parallel to the postings: the word's position among the story's
    phrase_words: array  # "i", each phrasing's term ids in text order, one after the other
    phrase_word_ends: array  # "q", where each phrasing's words end
    raws: list[str]  # written words (for typos), a table that only grows
    forms: list[str]  # their canonical forms, likewise
    surface_raw: array  # "i", story by story: its written words' ids in first-seen order
    surface_form: array  # "i", parallel: each one's form's id as that story reads it
    surface_ends: array  # "q", per story
    words: list[str]  # written words (for languages), a table that only grows
    written: array  # "i", story by story, Indonesian then English: word id * 2 + language
    written_ends: array  # "q", per story


def state_bytes(state: PatchState) -> bytes:
    meta = dumps(
        {"keys": state.keys, "raws": state.raws, "forms": state.forms, "words": state.words}
    )
    numbers = pack(
        state.room,
        state.counts,
        state.positions,
        state.phrase_words,
        state.phrase_word_ends,
        state.surface_raw,
        state.surface_form,
        state.surface_ends,
        state.written,
        state.written_ends,
    )
    return len(meta).to_bytes(4, "little") + meta + numbers


def _decoded(raw: bytes) -> PatchState:
    """The state `state_bytes` wrote, unchecked; ValueError (or another) for anything else."""
    size = int.from_bytes(raw[:4], "little")
    meta = loads(raw[4 : 4 + size])
    return PatchState(
        keys=_strs(meta["keys"]),
        raws=_strs(meta["raws"]),
        forms=_strs(meta["forms"]),
        words=_strs(meta["words"]),
        **dict(
            zip(
                (
                    "room",
                    "counts",
                    "positions",
                    "phrase_words",
                    "phrase_word_ends",
                    "surface_raw",
                    "surface_form",
                    "surface_ends",
                    "written",
                    "written_ends",
                ),
                unpack(raw[4 + size :]),
                strict=True,
            )
        ),
    )


def state_of(raw: bytes | None, index: Index) -> PatchState | None:
    """The state `state_bytes` wrote for `index`; None for anything else or inconsistent."""
    if raw is None:
        return None
    try:
        state = _decoded(raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    import numpy as np

    stories, phrases = len(index.story_phrases), len(index.phrase_text)
    pairs = len(index.postings.arrays()[1])
    word_ends = np.frombuffer(state.phrase_word_ends, dtype=np.int64)
    consistent = (
        len(state.keys) == len(state.room) == stories
        and len(state.counts) == len(state.positions) == pairs
        and len(word_ends) == phrases
        and bool(np.all(np.diff(word_ends, prepend=0) > 0))  # every phrasing has words
        and (not phrases or word_ends[-1] == len(state.phrase_words))
        and len(state.surface_ends) == len(state.written_ends) == stories
        and _ends(state.surface_ends, len(state.surface_raw))
        and _ends(state.written_ends, len(state.written))
        and len(state.surface_form) == len(state.surface_raw)
        and _within(state.phrase_words, len(index.vocab))
        and _within(state.surface_raw, len(state.raws))
        and _within(state.surface_form, len(state.forms))
        and _within(state.written, len(state.words) * len(LANGUAGES))
        and _within(state.positions, 1 << 31)
        and _counts(state.counts)
        and _counts(state.room)
    )
    return state if consistent else None


def _counts(values: array) -> bool:
    """Finite and not negative, as counts of a story's fields are."""
    import numpy as np

    found = np.frombuffer(values, dtype=np.float64)
    return bool(np.all(np.isfinite(found)) and np.all(found >= 0))


def _strs(value: object) -> list[str]:
    if not isinstance(value, list) or not set(map(type, value)) <= {str}:
        raise ValueError("not a list of words")
    return value


def _ends(ends: array, total: int) -> bool:
    """`ends` are where consecutive parts of `total` values end."""
    import numpy as np

    at = np.frombuffer(ends, dtype=np.int64)
    return (not len(at) and total == 0) or (
        bool(at[-1] == total) and bool(np.all(np.diff(at, prepend=0) >= 0))
    )


def _within(values: array, size: int) -> bool:
    """Every value is a valid position in a sequence of `size` items."""
    import numpy as np

    at = np.frombuffer(values, dtype=np.int32)
    return not len(at) or (int(at.min()) >= 0 and int(at.max()) < size)


class _Table:
    """A growing table of words and their ids."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.ids = {word: n for n, word in enumerate(words)}

    def id(self, word: str) -> int:
        found = self.ids.get(word)
        if found is None:
            found = self.ids[word] = len(self.words)
            self.words.append(word)
        return found


def written_bytes(stories: Sequence[StoryWritten]) -> bytes:
    """The part of a new state that only the stories' written words make (their forms and
    words as numbers over tables of words), as `state_bytes` writes it: a second or two at
    thousands of stories, so a forked process works it out while the index is assembled."""
    empty = array("d"), array("d"), array("i"), array("i"), array("q")
    return state_bytes(new_state([], *empty, stories))


def with_written(
    written: bytes,
    keys: list[str],
    room: Sequence[float],
    counts: array,
    positions: array,
    phrase_words: array,
    phrase_word_ends: array,
) -> PatchState:
    """The state of an index just assembled: `written` (from `written_bytes`) and the other
    parts, which come from the assembly."""
    return replace(
        _decoded(written),
        keys=keys,
        room=array("d", room),
        counts=counts,
        positions=positions,
        phrase_words=phrase_words,
        phrase_word_ends=phrase_word_ends,
    )


def new_state(
    keys: list[str],
    room: Sequence[float],
    counts: array,
    positions: array,
    phrase_words: array,
    phrase_word_ends: array,
    stories: Sequence[StoryWritten],
) -> PatchState:
    """The state of an index just assembled from analyses whose written forms and words are
    `stories` (the other parts come from the assembly, which has them at hand). Millions of
    written words: looked up in C loops."""
    import numpy as np

    def table(words: Iterable[str]) -> dict[str, int]:
        ids = dict.fromkeys(words, 0)
        for n, word in enumerate(ids):
            ids[word] = n
        return ids

    def written() -> Iterator[str]:
        return chain.from_iterable(words[lang] for _, words in stories for lang in LANGUAGES)

    surfaces = [surface for surface, _ in stories]
    surface_forms = [surface.values() for surface in surfaces]
    raw_ids = table(chain.from_iterable(surfaces))
    form_ids = table(chain.from_iterable(surface_forms))
    word_ids = table(written())
    sizes = [len(words[lang]) for _, words in stories for lang in LANGUAGES]
    numbered = np.frombuffer(array("i", map(word_ids.__getitem__, written())), dtype=np.int32)
    langs = np.tile(np.arange(len(LANGUAGES), dtype=np.int32), len(stories))
    numbered = numbered * len(LANGUAGES) + np.repeat(langs, sizes)
    return PatchState(
        keys=keys,
        room=array("d", room),
        counts=counts,
        positions=positions,
        phrase_words=phrase_words,
        phrase_word_ends=phrase_word_ends,
        raws=list(raw_ids),
        forms=list(form_ids),
        surface_raw=array("i", map(raw_ids.__getitem__, chain.from_iterable(surfaces))),
        surface_form=array("i", map(form_ids.__getitem__, chain.from_iterable(surface_forms))),
        surface_ends=array("q", accumulate(map(len, surfaces))),
        words=list(word_ids),
        written=array("i", numbered.astype(np.int32).tobytes()),
        written_ends=array(
            "q",
            accumulate(sum(len(words[lang]) for lang in LANGUAGES) for _, words in stories),
        ),
    )


def _add_written(
    state: PatchState, analysis: StoryTerms, raws: _Table, forms: _Table, words: _Table
) -> None:
    """Append one story's written forms and words to the state's flat arrays."""
    state.surface_raw.extend(map(raws.id, analysis.surface))
    state.surface_form.extend(map(forms.id, analysis.surface.values()))
    state.surface_ends.append(len(state.surface_raw))
    for number, lang in enumerate(LANGUAGES):
        written = analysis.written[lang]
        state.written.extend([words.id(word) * len(LANGUAGES) + number for word in written])
    state.written_ends.append(len(state.written))


def patch(
    index: Index,
    state: PatchState,
    keys: list[str],
    changed: dict[int, StoryTerms],
    params: ScoringParams,
    situations: Callable[[StoryTerms], list[list[str]]],
    surface_extra: Callable[[dict[str, str], dict[str, int]], None],
) -> tuple[Index, PatchState]:
    """`index` (and its `state`) with the stories `changed` (position -> new analysis)
    analysed anew; the result equals the index a fresh build gives. The number of stories is
    the same. `situations` reads a story's situations into concepts; `surface_extra` adds the
    word table's written forms to the typo table, as a fresh build does."""
    import numpy as np

    stories = len(index.story_phrases)
    story_list = sorted(changed)
    vocab = list(index.vocab)
    term_ids = dict(index.term_ids)

    def tid(word: str) -> int:
        found = term_ids.get(word)
        if found is None:
            found = term_ids[word] = len(vocab)
            vocab.append(word)
        return found

    local_ids = {s: [tid(word) for word in changed[s].terms] for s in story_list}

    # Postings: drop the changed stories' pairs, insert their new ones in (term, story) order.
    offsets, post_stories, pulls = (
        np.frombuffer(a, dtype=d)
        for a, d in zip(index.postings.arrays(), (np.int64, np.int32, np.float64), strict=True)
    )
    old_terms = len(offsets) - 1
    term_of = np.repeat(np.arange(old_terms, dtype=np.int64), np.diff(offsets))
    gone = np.isin(post_stories, np.array(story_list, dtype=np.int32))
    touched = set(np.unique(term_of[gone]).tolist())
    keep = ~gone
    new_term = np.array([t for s in story_list for t in local_ids[s]], dtype=np.int64)
    new_story = np.array([s for s in story_list for _ in local_ids[s]], dtype=np.int64)
    new_count = np.frombuffer(
        b"".join(changed[s].counts.tobytes() for s in story_list), dtype=np.float64
    )
    new_pos = np.concatenate(
        [np.arange(len(local_ids[s]), dtype=np.int32) for s in story_list]
        or [np.zeros(0, dtype=np.int32)]
    )
    touched.update(new_term.tolist())
    kept_key = term_of[keep] * stories + post_stories[keep]
    new_key = new_term * stories + new_story
    order = np.argsort(new_key, kind="stable")
    at = np.searchsorted(kept_key, new_key[order])
    term_of = np.insert(term_of[keep], at, new_term[order])
    post_stories = np.insert(post_stories[keep], at, new_story[order].astype(np.int32))
    pulls = np.insert(pulls[keep], at, np.zeros(len(order)))
    counts = np.insert(np.frombuffer(state.counts, dtype=np.float64)[keep], at, new_count[order])
    positions = np.insert(np.frombuffer(state.positions, dtype=np.int32)[keep], at, new_pos[order])
    terms = len(vocab)
    offsets = np.zeros(terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of, minlength=terms), out=offsets[1:])

    # Pulls and weights of the words the changed stories use or used (as `_assemble`).
    room = list(state.room)
    for s in story_list:
        room[s] = min(params.topical_count, params.topical_share * changed[s].size)
    room_array = np.array(room)
    weight = list(index.weight) + [0.0] * (terms - old_terms)
    n = max(stories, 1)
    changed_weight: set[int] = set()
    for term in touched:
        start, end = int(offsets[term]), int(offsets[term + 1])
        if start == end:
            continue  # no story uses it any more: dropped below
        seg = counts[start:end]
        ratios = seg / seg.max()
        seg_pulls = [ratio**params.assoc_power for ratio in ratios.tolist()]
        pulls[start:end] = seg_pulls
        share = float((seg / room_array[post_stories[start:end]]).max())
        value = math.log((n + 1) / sum(seg_pulls)) * min(1.0, share) ** 0.5
        if value != weight[term] or term >= old_terms:
            changed_weight.add(term)
        weight[term] = value

    # Term ids are in order of first use (story, then position in it): renumber if that moved.
    used = offsets[1:] > offsets[:-1]
    first = offsets[:-1][used]
    alive = np.flatnonzero(used)
    by_use = alive[np.lexsort((positions[first], post_stories[first]))]
    renumber = len(by_use) != terms or not np.array_equal(by_use, np.arange(terms))
    new_of_old = np.full(terms, -1, dtype=np.int64)
    if renumber:
        new_of_old[by_use] = np.arange(len(by_use))
        sizes = (offsets[1:] - offsets[:-1])[by_use]
        starts = offsets[:-1][by_use]
        gather = np.repeat(starts - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
        gather += np.arange(int(sizes.sum()))
        post_stories, pulls, counts, positions = (
            a[gather] for a in (post_stories, pulls, counts, positions)
        )
        offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        old_vocab, old_weight = vocab, weight
        vocab = [old_vocab[t] for t in by_use.tolist()]
        weight = [old_weight[t] for t in by_use.tolist()]
        term_ids = {word: n for n, word in enumerate(vocab)}
        local_ids = {s: [int(new_of_old[t]) for t in ids] for s, ids in local_ids.items()}
    result = Index(vocab=vocab, term_ids=term_ids, weight=weight)
    result.unknown_weight = index.unknown_weight
    result.postings = Postings.of_arrays(
        array("q", offsets.tobytes()),
        array("i", post_stories.astype(np.int32).tobytes()),
        array("d", pulls.tobytes()),
    )

    # Phrasings: the changed stories' replaced, the others' weights redone where a word's
    # weight changed (an exact sum, whatever order the ids now have).
    word_ends = [0, *state.phrase_word_ends]
    old_words = np.frombuffer(state.phrase_words, dtype=np.int32)
    if changed_weight and len(old_words):  # ids before any renumbering, as changed_weight's
        hit = np.isin(old_words, np.array(sorted(changed_weight), dtype=np.int32))
        stale = np.logical_or.reduceat(hit, np.array(word_ends[:-1], dtype=np.int64))
    else:
        stale = np.zeros(len(index.phrase_text), dtype=bool)
    if renumber:
        old_words = new_of_old[old_words].astype(np.int32)
    old_word_array = array("i", old_words.tobytes()) if renumber else state.phrase_words
    phrase_words, phrase_word_ends = array("i"), array("q")
    phrase_story, phrase_weight = array("i"), array("d")
    phrase_text: list[str] = []
    story_phrases: list[tuple[int, int]] = []
    lesson_terms: list[list[set[int]]] = []
    situation_concepts: list[list[list[str]]] = []
    shift_of = np.zeros(stories, dtype=np.int64)  # how far a kept story's phrasings moved
    kept = np.zeros(stories, dtype=bool)
    renamed = new_of_old.tolist() if renumber else []
    word_bounds = np.frombuffer(state.phrase_word_ends, dtype=np.int64)
    previous = 0
    for s in [*story_list, stories]:
        if previous < s:  # the unchanged stories from `previous` up to `s`, copied as a block
            first_p, last_p = index.story_phrases[previous][0], index.story_phrases[s - 1][1]
            moved = len(phrase_text) - first_p
            shift_of[previous:s], kept[previous:s] = moved, True
            phrase_text.extend(index.phrase_text[first_p:last_p])
            phrase_story.extend(index.phrase_story[first_p:last_p])
            phrase_weight.extend(index.phrase_weight[first_p:last_p])
            w_from, w_to = word_ends[first_p], word_ends[last_p]
            shift = len(phrase_words) - w_from
            phrase_words.extend(old_word_array[w_from:w_to])
            phrase_word_ends.frombytes((word_bounds[first_p:last_p] + shift).tobytes())
            story_phrases.extend((a + moved, b + moved) for a, b in index.story_phrases[previous:s])
            lessons = index.lesson_terms[previous:s]
            if renumber:
                lessons = [
                    [set(map(renamed.__getitem__, ls)) for ls in lesson] for lesson in lessons
                ]
            lesson_terms.extend(lessons)
            situation_concepts.extend(index.situation_concepts[previous:s])
        if s == stories:
            break
        start = len(phrase_text)
        analysis, ids = changed[s], local_ids[s]
        for positions_of, text in zip(analysis.phrases, analysis.texts, strict=True):
            words_of = [ids[p] for p in positions_of]
            phrase_words.extend(words_of)
            phrase_word_ends.append(len(phrase_words))
            phrase_story.append(s)
            phrase_weight.append(math.fsum(map(weight.__getitem__, set(words_of))))
            phrase_text.append(text)
        lesson_terms.append([set(map(ids.__getitem__, ls)) for ls in analysis.lessons])
        situation_concepts.append(situations(analysis))
        story_phrases.append((start, len(phrase_text)))
        previous = s + 1
    if stale.any():
        # the stale phrasings of unchanged stories, where they are now, and their words
        old_story = np.frombuffer(index.phrase_story, dtype=np.int32)
        redo = np.flatnonzero(stale & kept[old_story])
        bounds = np.frombuffer(state.phrase_word_ends, dtype=np.int64)
        starts = np.concatenate(([0], bounds[:-1]))[redo].tolist()
        ends = bounds[redo].tolist()
        targets = (redo + shift_of[old_story[redo]]).tolist()
        words_list = old_words.tolist()
        get = weight.__getitem__
        for target, start, end in zip(targets, starts, ends, strict=True):
            phrase_weight[target] = math.fsum(map(get, set(words_list[start:end])))
    result.phrase_story, result.phrase_weight = phrase_story, phrase_weight
    result.phrase_text, result.story_phrases = phrase_text, story_phrases
    result.lesson_terms, result.situation_concepts = lesson_terms, situation_concepts
    result.term_phrases = _term_phrases(phrase_words, phrase_word_ends, len(vocab))

    # Written forms and one-language words: first seen first, over the spliced stories.
    raws, forms, words = (
        _Table(list(state.raws)),
        _Table(list(state.forms)),
        _Table(list(state.words)),
    )
    new_state_ = PatchState(
        keys=keys,
        room=array("d", room),
        counts=array("d", counts.tobytes()),
        positions=array("i", positions.astype(np.int32).tobytes()),
        phrase_words=phrase_words,
        phrase_word_ends=phrase_word_ends,
        raws=raws.words,
        forms=forms.words,
        surface_raw=array("i"),
        surface_form=array("i"),
        surface_ends=array("q"),
        words=words.words,
        written=array("i"),
        written_ends=array("q"),
    )
    _splice_written(state, new_state_, changed, raws, forms, words)
    surface_words = typo_forms(new_state_)
    surface_extra(surface_words, term_ids)
    for raw, word in surface_words.items():
        if word in term_ids:
            result.surface.setdefault(raw, term_ids[word])
    result.language_only = one_language(new_state_)
    result.by_length = length_buckets(vocab)
    result.surface_by_length = length_buckets(result.surface)
    return result, new_state_


def _term_phrases(words: array, ends: array, terms: int) -> list[array]:
    """Each term's phrasings, ascending (as `_assemble` groups them)."""
    import numpy as np

    phrases = len(ends)
    sizes = np.diff(np.frombuffer(ends, dtype=np.int64), prepend=0)
    phrase_of = np.repeat(np.arange(phrases, dtype=np.int64), sizes)
    pairs = np.sort(np.frombuffer(words, dtype=np.int32).astype(np.int64) * phrases + phrase_of)
    if len(pairs):  # a word written twice in one phrasing lists the phrasing once
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    flat = array("i", (pairs % max(phrases, 1)).astype(np.int32).tobytes())
    bounds = np.zeros(terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs // max(phrases, 1), minlength=terms), out=bounds[1:])
    at = bounds.tolist()
    return [flat[at[t] : at[t + 1]] for t in range(terms)]


def _splice_written(
    old: PatchState,
    new: PatchState,
    changed: dict[int, StoryTerms],
    raws: _Table,
    forms: _Table,
    words: _Table,
) -> None:
    """The new state's written forms and words: the old stories' arrays, the changed
    stories' own in their place."""
    surface_ends, written_ends = [0, *old.surface_ends], [0, *old.written_ends]
    previous = 0
    for s in [*sorted(changed), len(old.keys)]:
        # the unchanged stories from `previous` up to `s`, copied whole
        a, b = surface_ends[previous], surface_ends[s]
        shift = len(new.surface_raw) - a
        new.surface_raw.extend(old.surface_raw[a:b])
        new.surface_form.extend(old.surface_form[a:b])
        new.surface_ends.extend(end + shift for end in old.surface_ends[previous:s])
        a, b = written_ends[previous], written_ends[s]
        shift = len(new.written) - a
        new.written.extend(old.written[a:b])
        new.written_ends.extend(end + shift for end in old.written_ends[previous:s])
        if s < len(old.keys):
            _add_written(new, changed[s], raws, forms, words)
        previous = s + 1


def typo_forms(state: PatchState) -> dict[str, str]:
    """The stories' written words (for typos) in order of first use, each with its form
    where first written: the index's typo table before the word table's own words."""
    import numpy as np

    flat = np.frombuffer(state.surface_raw, dtype=np.int32)
    if not len(flat):
        return {}
    first = _first_uses(flat, len(state.raws))
    picked = flat[first].tolist()
    their = np.frombuffer(state.surface_form, dtype=np.int32)[first].tolist()
    raws, forms = state.raws, state.forms
    return {raws[r]: forms[f] for r, f in zip(picked, their, strict=True)}


def one_language(state: PatchState) -> dict[str, str]:
    """Written words found in one language's texts only, in order of first use."""
    import numpy as np

    words = state.words
    both = np.frombuffer(state.written, dtype=np.int32)
    if not len(both):
        return {}
    flat = both // len(LANGUAGES)
    seen = np.zeros(len(words) * len(LANGUAGES), dtype=bool)
    seen[both] = True  # (word, language) pairs used
    count = seen.reshape(len(words), len(LANGUAGES)).sum(axis=1)
    which = seen.reshape(len(words), len(LANGUAGES)).argmax(axis=1)
    first = _first_uses(flat, len(words))
    result: dict[str, str] = {}
    for word in flat[first].tolist():
        if count[word] == 1:
            result[words[word]] = LANGUAGES[int(which[word])]
    return result


def _first_uses(flat: np.ndarray, size: int) -> np.ndarray:
    """Where each value (0 to size - 1) of `flat` first occurs, in order of occurrence."""
    import numpy as np

    first = np.full(size, len(flat), dtype=np.int64)
    np.minimum.at(first, flat, np.arange(len(flat), dtype=np.int64))
    return np.sort(first[first < len(flat)])
