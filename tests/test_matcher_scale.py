"""The matcher's shortcuts for large bases change nothing: lazy postings, clause scoring.

(Checked on the three evaluation files at 5 and 5,000 stories when they were introduced:
`rank` and `evidence` identical; these tests keep the invariants they rely on.)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kbfixture import PROJECT, SEEDS

from bot.content.knowledge import load_knowledge
from bot.engine.confidence import parts
from bot.engine.index import Postings
from bot.engine.index_bytes import index_bytes
from bot.engine.matcher import Matcher
from bot.storage.cache import Cache

LONG = (
    "Pak, customer kami marah besar karena pesanannya telat tiga hari, padahal kami sudah "
    "kirim email permintaan maaf. Sekarang dia ngancem putus kerjasama kalau saya gak dateng "
    "besok ke kantornya, tapi saya lagi sibuk ngurus proyek lain, gimana ya?"
)


def real_matcher() -> Matcher:
    return Matcher(load_knowledge(PROJECT / "responses", SEEDS))


def test_postings_read_lazily_equal_the_built_dicts_in_order() -> None:
    built = [{3: 0.5, 1: 1.0, 7: 0.25}, {}, {0: 1.0}]
    postings = Postings(built)
    again = Postings.of_arrays(*postings.arrays())  # as read back from the cache
    for lazy in (postings, again):
        assert len(lazy) == 3
        for term, expected in enumerate(built):
            assert list(lazy[term].items()) == list(expected.items())
            assert lazy[term] is lazy[term]  # made once


def test_a_clause_scored_only_for_some_stories_scores_those_the_same() -> None:
    matcher = real_matcher()
    whole, _ = matcher._lexical(LONG)
    wanted = {s.story for s in whole[:2]}
    assert len(parts(LONG)) > 1
    for clause in parts(LONG):
        full, _ = matcher._lexical(clause)
        some, _ = matcher._lexical(clause, wanted)
        assert some == [s for s in full if s.story in wanted]


def test_a_cached_index_equals_a_built_one(tmp_path: Path) -> None:
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    built = Matcher(kb, cache_dir=tmp_path)
    cached = Matcher(kb, cache_dir=tmp_path)
    for name in ("vocab", "weight", "phrase_text", "story_phrases", "lesson_terms", "surface"):
        assert getattr(cached._index, name) == getattr(built._index, name), name
    for term in range(len(built._index.vocab)):
        assert cached._index.postings[term] == built._index.postings[term]
    assert cached.normalizer.table == built.normalizer.table
    assert [cached.explain(LONG), cached.rank(LONG)] == [built.explain(LONG), built.rank(LONG)]


def test_an_index_assembled_from_cached_story_analyses_equals_a_built_one(
    tmp_path: Path,
) -> None:
    """What a start after editing one story does: every other story's analysis comes from
    the cache and only the assembly runs; the index must be the very one a fresh build makes
    (same term order, weights to the last bit, postings in the same order)."""
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    Matcher(kb, cache_dir=tmp_path)  # caches each story's analysis and the whole index
    cache = Cache(tmp_path)
    cache.keep_latest("index:", 0)  # as if a story had changed: no whole index to read
    cache.close()
    assembled = Matcher(kb, cache_dir=tmp_path)
    built = Matcher(kb)
    assert index_bytes(assembled._index) == index_bytes(built._index)
    assert assembled._index.by_length == built._index.by_length
    assert assembled._index.surface_by_length == built._index.surface_by_length
    assert [assembled.explain(LONG), assembled.rank(LONG)] == [
        built.explain(LONG),
        built.rank(LONG),
    ]


def test_an_empty_base_builds_an_empty_index() -> None:
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    matcher = Matcher(replace(kb, anecdotes=()))
    assert matcher.rank("customer marah karena pesanan telat") == []


def test_stories_that_fit_equally_keep_the_order_they_are_written_in() -> None:
    """More equally fitting stories than are scored in detail: the first written are the
    candidates, in their order (the coverage sums are numpy's; ties must not follow a sort's
    whims), so the same question always gets the same stories."""
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    story = kb.anecdotes[0]
    copies = tuple(replace(story, id=f"copy-{n}") for n in range(15))
    matcher = Matcher(replace(kb, anecdotes=copies))
    question = story.triggers["id"][0]
    ranked = matcher.rank(question, limit=15)
    assert [m.anecdote.id for m in ranked] == [
        f"copy-{n}" for n in range(matcher.params.candidates)
    ]
    assert len({m.score for m in ranked}) == 1
