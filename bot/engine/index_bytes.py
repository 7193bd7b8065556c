"""The index and each story's analysis as bytes for the cache, and back.

A data format (JSON and packed arrays), never pickle: a cache file is read as data, and
anything damaged or inconsistent reads as None (rebuilt), never as a wrong index.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from itertools import accumulate, chain

from bot.content.model import LANGUAGES
from bot.engine.index import Index, Postings, StoryTerms, length_buckets
from bot.storage.cache import dumps, loads, pack, unpack


def _str_list(value: object) -> list[str]:
    if not isinstance(value, list) or not _all_str(value):
        raise ValueError("not a list of words")
    return value


def _as_is(value: list[str]) -> list[str]:
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


def story_terms_bytes(terms: StoryTerms) -> bytes:
    """A story's analysis as data, in three parts: the words the assembly reads (JSON), its
    written words (JSON, apart: only a patch state's tables read them, so a first start's
    assembly leaves them undecoded, see `story_written_of`), its numbers (packed arrays).
    The layout is this module's: its code is in the builder's digest, so a cache of another
    layout has other keys and is never read as this one."""
    meta = dumps({"terms": terms.terms, "texts": terms.texts, "situations": terms.situations})
    written = dumps({"surface": terms.surface, "written": terms.written})
    numbers = pack(
        terms.counts, array("d", [terms.size]), *_flat(terms.phrases), *_flat(terms.lessons)
    )
    sizes = [len(meta).to_bytes(4, "little"), len(written).to_bytes(4, "little")]
    return b"".join([sizes[0], meta, sizes[1], written, numbers])


def _parts(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """The three parts `story_terms_bytes` joined: words, written words, numbers."""
    size = int.from_bytes(raw[:4], "little")
    at = 4 + size
    written_size = int.from_bytes(raw[at : at + 4], "little")
    return raw[4:at], raw[at + 4 : at + 4 + written_size], raw[at + 4 + written_size :]


def story_terms_of(raw: bytes | None, checked: bool = True) -> StoryTerms | None:
    """The analysis `story_terms_bytes` wrote, or None for anything else (absent, damaged,
    or positions outside the story's terms). `checked=False`: bytes this process's own
    forked workers just wrote, read without the checks (a third of reading them) and without
    their written words (`surface` and `written` left empty): the assembly does not read
    them, only the patch state's tables do, in another process (`story_written_of`)."""
    if raw is None:
        return None
    words = _str_list if checked else _as_is
    try:
        meta_raw, written_raw, numbers = _parts(raw)
        meta = loads(meta_raw)
        counts, story_size, phrase_ends, phrase_ids, lesson_ends, lesson_ids = unpack(numbers)
        surface, written = _written(written_raw) if checked else ({}, {})
        terms = StoryTerms(
            terms=words(meta["terms"]),
            counts=counts,
            size=story_size[0],
            phrases=_split(phrase_ends, phrase_ids),
            texts=words(meta["texts"]),
            lessons=_split(lesson_ends, lesson_ids),
            surface=surface,
            written={lang: words(written[lang]) for lang in LANGUAGES} if checked else {},
            situations=[words(situation) for situation in meta["situations"]],
        )
        consistent = not checked or (
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


def story_written_of(raw: bytes) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A story's written forms and written words per language (`StoryTerms.surface` and
    `.written`) from the bytes `story_terms_bytes` wrote: those a `checked=False` read left
    out. Unchecked: only for bytes this process's own workers wrote."""
    return _written(_parts(raw)[1])


def _written(part: bytes) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The written-words part of an analysis's bytes, decoded."""
    found = loads(part)
    return found["surface"], found["written"]


def _ascending(ends: array, total: int) -> bool:
    """`ends` are the ends of consecutive parts of `total` values (see `_flat`)."""
    return (
        list(ends) == sorted(ends)
        and (ends[-1] if ends else 0) == total
        and (not ends or ends[0] >= 0)
    )


def index_bytes(index: Index) -> bytes:
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


def index_of(raw: bytes | None, stories: int) -> Index | None:
    """The index `index_bytes` wrote, for a base of `stories` stories; None for anything
    else (absent, damaged, or numbers that point outside the index)."""
    if raw is None:
        return None
    try:
        size = int.from_bytes(raw[:4], "little")
        meta = loads(raw[4 : 4 + size])
        post_offsets, post_stories, pulls, weight, phrase_story, phrase_weight, offsets, flat = (
            unpack(raw[4 + size :])
        )
        index = Index(
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
    index.postings = Postings.of_arrays(post_offsets, post_stories, pulls)
    index.weight = weight.tolist()
    index.phrase_story, index.phrase_weight = phrase_story, phrase_weight
    index.term_phrases = [flat[offsets[t] : offsets[t + 1]] for t in range(terms)]
    index.term_ids = {word: tid for tid, word in enumerate(index.vocab)}
    index.by_length = length_buckets(index.vocab)
    index.surface_by_length = length_buckets(index.surface)
    return index


LARGE_ARRAY = 100_000  # values checked by numpy beyond this (a large base's millions of pairs)


def _within(values: Iterable[int], size: int) -> bool:
    """Every value is a valid position in a sequence of `size` items. A large base's arrays
    are checked by numpy: Python's min and max over its millions of pairs took a third of
    reading the index; a small base's start does not import numpy for it."""
    values = list(values) if not isinstance(values, array) else values
    if isinstance(values, array) and len(values) > LARGE_ARRAY and values.typecode in "iq":
        import numpy as np

        found = np.frombuffer(values, dtype=np.int32 if values.typecode == "i" else np.int64)
        return int(found.min()) >= 0 and int(found.max()) < size
    return not values or (min(values) >= 0 and max(values) < size)
