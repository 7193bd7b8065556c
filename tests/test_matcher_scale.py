"""The matcher's shortcuts for large bases change nothing: lazy postings, clause scoring.

(Checked on the three evaluation files at 5 and 5,000 stories when they were introduced:
`rank` and `evidence` identical; these tests keep the invariants they rely on.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from kbfixture import PROJECT, SEEDS, add_trigger

from bot.content.knowledge import load_knowledge, story_digests
from bot.engine import index_build
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
    wanted = {s.story_index for s in whole[:2]}
    assert len(parts(LONG)) > 1
    for clause in parts(LONG):
        full, _ = matcher._lexical(clause)
        some, _ = matcher._lexical(clause, wanted)
        assert some == [s for s in full if s.story_index in wanted]


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
    cache.keep_latest_large("index", 0)  # no whole index to read, none to patch
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
    matcher = Matcher(replace(kb, stories=()))
    assert matcher.rank("customer marah karena pesanan telat") == []


def test_stories_that_fit_equally_keep_the_order_they_are_written_in() -> None:
    """More equally fitting stories than are scored in detail: the first written are the
    candidates, in their order (the coverage sums are numpy's; ties must not follow a sort's
    whims), so the same question always gets the same stories."""
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    story = kb.stories[0]
    copies = tuple(replace(story, id=f"copy-{n}") for n in range(15))
    matcher = Matcher(replace(kb, stories=copies))
    question = story.triggers["id"][0]
    ranked = matcher.rank(question, limit=15)
    assert [m.story.id for m in ranked] == [f"copy-{n}" for n in range(matcher.params.candidates)]
    assert len({m.score for m in ranked}) == 1


def _ask_json(responses: Path, data: Path, questions: list[str]) -> list[dict[str, object]]:
    """`python -m bot ask --json` over `questions` (stdin), as a tool runs it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BOT_", "TELEGRAM_", "TEAM_"))
    }
    env.update(BOT_DATA_DIR=str(data), PYTHONPATH=str(PROJECT))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "--responses", str(responses)]
        + ["--seeds", str(SEEDS)],
        input="\n".join(questions) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=data.parent,
        env=env,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def _eval_questions() -> list[str]:
    questions: list[str] = []
    for name in ("dev-questions.yaml", "dev-questions-2.yaml", "regression-questions.yaml"):
        items = yaml.safe_load((PROJECT / "eval" / name).read_text(encoding="utf-8"))
        questions.extend(str(item["q"]) for item in items[::4])
    return [*questions, "gudangnya kebanjiran lagi, pelanggan marah besar", "wayang zorgblatt"]


@pytest.mark.slow  # subprocesses
@pytest.mark.parametrize(
    "trigger",
    [
        "gudangnya kebanjiran lagi dan pelanggan marah besar",  # words other stories use
        "zorgblatt quuxifier di gudang",  # a word no story used: term ids move
    ],
)
def test_a_start_after_editing_a_story_answers_as_a_fresh_build(
    tmp_path: Path, trigger: str
) -> None:
    """The index patched after one story's edit (the cache of the previous start) answers
    every question exactly as the index a fresh build makes, and the edit counts."""
    responses = tmp_path / "responses"
    shutil.copytree(PROJECT / "responses", responses)
    questions = _eval_questions()
    cached, fresh = tmp_path / "cached", tmp_path / "fresh"
    before = _ask_json(responses, cached, questions)  # fills the cache

    add_trigger(responses / "anecdotes" / "001-wayang-bima.yaml", trigger)
    patched = _ask_json(responses, cached, questions)
    assert patched == _ask_json(responses, fresh, questions)
    assert patched != before  # the edited story's new trigger is read


def test_the_index_written_meanwhile_is_there_once_waited_for(tmp_path: Path) -> None:
    """A thread writes the index and its patch state while the start goes on; once waited
    for (as the next build in this process and the exit do), both files are there."""
    Matcher(load_knowledge(PROJECT / "responses", SEEDS), cache_dir=tmp_path)
    index_build.wait_for_writes()
    assert not index_build._WRITERS
    assert sorted(path.name.split("-")[0] for path in tmp_path.glob("*.data")) == [
        "index",
        "patch",
    ]


def test_an_edit_on_disk_is_patched_by_its_files_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base loaded from files keys each story by its file's digest: editing one file
    patches the index (one story changed), and the result is a fresh build's."""
    responses = tmp_path / "responses"
    shutil.copytree(PROJECT / "responses", responses)
    cache_dir = tmp_path / "cache"
    kb = load_knowledge(responses, SEEDS)
    assert story_digests(kb) is not None and story_digests(replace(kb)) is None
    Matcher(kb, cache_dir=cache_dir)
    changed: list[int] = []
    real_patch = index_build.patch

    def counted(*args: object, **kwargs: object) -> object:
        changed.append(len(args[3]))  # type: ignore[arg-type]  # the changed stories
        return real_patch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index_build, "patch", counted)
    story = responses / "anecdotes" / "001-wayang-bima.yaml"
    text = story.read_text(encoding="utf-8")
    story.write_text(
        text.replace("triggers:\n  id:\n", 'triggers:\n  id:\n    - "gudang banjir"\n', 1),
        encoding="utf-8",
    )
    kb = load_knowledge(responses, SEEDS)
    patched = Matcher(kb, cache_dir=cache_dir)
    assert changed == [1]
    assert index_bytes(patched._index) == index_bytes(Matcher(kb)._index)


def test_a_patched_index_is_the_one_a_fresh_build_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Patching, not assembling, after an edit (known words, a new word, a trigger removed),
    and bit for bit the index of a fresh build each time. The base is edited in memory
    throughout (a copy of the loaded one), so its stories are keyed by their texts."""
    kb = replace(load_knowledge(PROJECT / "responses", SEEDS))
    Matcher(kb, cache_dir=tmp_path)
    patches: list[int] = []
    real_patch = index_build.patch

    def counted(*args: object, **kwargs: object) -> object:
        patches.append(1)
        return real_patch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index_build, "patch", counted)
    edits = [
        (1, ("gudangnya kebanjiran lagi", "pelanggan marah besar")),
        (0, ("zorgblatt quuxifier pelanggan",)),
        (3, ()),  # its triggers dropped: words may leave the vocabulary
    ]
    for number, added in edits:
        story = kb.stories[number]
        triggers = {"id": (*story.triggers["id"], *added), "en": story.triggers["en"]}
        if not added:
            triggers = {"id": story.triggers["id"][:1], "en": story.triggers["en"][:1]}
        stories = list(kb.stories)
        stories[number] = replace(story, triggers=triggers)
        kb = replace(kb, stories=tuple(stories))
        patched, built = Matcher(kb, cache_dir=tmp_path), Matcher(kb)
        assert index_bytes(patched._index) == index_bytes(built._index)
        assert patched._index.by_length == built._index.by_length
        assert patched._index.surface_by_length == built._index.surface_by_length
        assert list(patched._index.language_only) == list(built._index.language_only)
        assert [patched.explain(LONG), patched.rank(LONG)] == [
            built.explain(LONG),
            built.rank(LONG),
        ]
    assert len(patches) == len(edits)
