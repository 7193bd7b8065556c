"""The knowledge base at scale: libyaml, lazy line maps, and the caches under the data dir.

A cached base and index must answer exactly as a fresh build, never be served for other
content, and never stop the bot when damaged.
"""

from __future__ import annotations

import copy
import os
import sqlite3
import time
from array import array
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from kbfixture import APOLOGY, SEEDS, THREAT, write_kb

import bot.content.knowledge as knowledge
import bot.content.yamlsafe as yamlsafe
from bot.chat.services import build_core
from bot.content.knowledge import CACHE_DIR, load_knowledge
from bot.content.model import KnowledgeError, Story
from bot.content.parsecache import RECENT_SECONDS
from bot.engine import index_build
from bot.engine.index_patch import state_bytes, state_of
from bot.engine.matcher import Matcher
from bot.settings import Settings
from bot.storage.cache import FILE as CACHE_FILE
from bot.storage.cache import LARGE_SUFFIX, Cache

QUESTIONS = [
    "klien ngancem putus kerjasama kalau saya gak dateng besok",
    "customer marah, pesanannya telat, gimana minta maafnya",
    "angry customer threatens to leave, but we were late because the supplier failed",
    "what is the weather in Jakarta today",
]


@pytest.fixture(autouse=True)
def _forget_the_last_base() -> None:
    """Each test starts as a fresh process would: nothing remembered in memory."""
    knowledge._LAST_KB.clear()


def settings_for(tmp_path: Path) -> Settings:
    return Settings(responses_dir=write_kb(tmp_path), seeds_dir=SEEDS, data_dir=tmp_path / "data")


def answers(matcher: Matcher) -> list[object]:
    return [
        [(m.story.id, m.score, m.lesson) for m in matcher.rank(q, limit=5)]
        + [repr(e) for _, e in matcher.evidence(q)]
        for q in QUESTIONS
    ]


def no_build(*_: object) -> None:
    raise AssertionError("the index was built, not read from the cache")


def test_a_cache_hit_answers_exactly_as_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    fresh = build_core(settings)
    assert (settings.data_dir / CACHE_DIR / CACHE_FILE).is_file()
    expected = answers(fresh.matcher)

    knowledge._LAST_KB.clear()  # a new process: the base and the index come from the cache
    monkeypatch.setattr(Matcher, "_build", no_build)
    monkeypatch.setattr(knowledge, "load_story", no_build)
    monkeypatch.setattr(knowledge, "load_ui", no_build)
    cached = build_core(settings)
    monkeypatch.undo()  # each story's small lesson index is built on first use, not cached
    assert answers(cached.matcher) == expected
    assert cached.kb == fresh.kb
    assert answers(Matcher(fresh.kb)) == expected  # and both equal a build without a cache


def test_a_changed_story_invalidates_both_caches(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    question = "vendor kami bangkrut dan gudangnya kebanjiran"
    before = build_core(settings).matcher.ask(question)
    assert not before.matches

    changed = copy.deepcopy(THREAT)
    changed["triggers"]["id"].append("vendor kami bangkrut dan gudangnya kebanjiran")
    write_kb(tmp_path, [changed, APOLOGY])
    knowledge._LAST_KB.clear()
    after = build_core(settings)
    assert "vendor kami bangkrut dan gudangnya kebanjiran" in after.kb.stories[0].triggers["id"]
    assert after.matcher.ask(question).best is not None
    assert answers(after.matcher) == answers(Matcher(after.kb))


def test_a_corrupt_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    expected = answers(build_core(settings).matcher)
    path = settings.data_dir / CACHE_DIR / CACHE_FILE
    whole = path.read_bytes()
    for garbage in (b"not a database at all", whole[: len(whole) // 2], b""):
        for side in path.parent.glob(CACHE_FILE + "-*"):
            side.unlink()
        path.write_bytes(garbage)
        knowledge._LAST_KB.clear()
        assert answers(build_core(settings).matcher) == expected


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"[1, 2",
        b'{"words": 3}',
        b"\x80\x05K\x01.",
        b"\xff\xff\xff\x7f{}",
        b"\x02\x00\x00\x00{}",
    ],
)
def test_damaged_entries_are_ignored_and_rebuilt(tmp_path: Path, value: bytes) -> None:
    """Every entry overwritten with something else: each is read as a miss, never trusted."""
    settings = settings_for(tmp_path)
    expected = answers(build_core(settings).matcher)
    path = settings.data_dir / CACHE_DIR / CACHE_FILE
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET value = ?", (value,))
    db.close()
    large = list(path.parent.glob("*" + LARGE_SUFFIX))  # whole indexes, and their patch state
    assert large
    for entry in large:
        entry.write_bytes(value)
    knowledge._LAST_KB.clear()
    assert answers(build_core(settings).matcher) == expected
    knowledge._LAST_KB.clear()
    assert answers(build_core(settings).matcher) == expected  # and written again, whole


def test_an_index_pointing_outside_itself_is_not_used(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    expected = answers(build_core(settings).matcher)
    (index,) = (settings.data_dir / CACHE_DIR).glob("index-*" + LARGE_SUFFIX)
    value = index.read_bytes()
    # the last number is a phrasing id: make it point far outside the index
    index.write_bytes(value[:-4] + b"\xff\xff\xff\x7f")
    knowledge._LAST_KB.clear()
    assert answers(build_core(settings).matcher) == expected


def test_editing_one_story_analyses_that_story_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    build_core(settings)
    changed = copy.deepcopy(THREAT)
    changed["triggers"]["id"].append("vendor kami bangkrut dan gudangnya kebanjiran")
    write_kb(tmp_path, [changed, APOLOGY])
    analysed: list[str] = []
    parsed: list[str] = []
    real_analyse, real_parse = Matcher._analyse, knowledge.load_story

    def analyse(self: Matcher, story: Story) -> object:
        analysed.append(story.id)
        return real_analyse(self, story)

    def parse(path: Path, *args: object) -> Story:
        parsed.append(path.name)
        return real_parse(path, *args)

    monkeypatch.setattr(Matcher, "_analyse", analyse)
    monkeypatch.setattr(knowledge, "load_story", parse)
    knowledge._LAST_KB.clear()
    core = build_core(settings)
    assert analysed == [THREAT["id"]]
    assert len(parsed) == 1
    assert core.matcher.ask("vendor kami bangkrut dan gudangnya kebanjiran").best is not None
    monkeypatch.undo()
    assert answers(core.matcher) == answers(Matcher(core.kb))


def test_two_bases_on_one_data_directory_keep_their_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    other = replace(settings, responses_dir=write_kb(tmp_path / "other", [APOLOGY]))
    expected = [answers(build_core(s).matcher) for s in (settings, other)]
    for turn in range(2):
        for n, each in enumerate((settings, other)):
            knowledge._LAST_KB.clear()
            monkeypatch.setattr(Matcher, "_build", no_build)
            monkeypatch.setattr(knowledge, "load_story", no_build)
            core = build_core(each)
            monkeypatch.undo()  # each story's small lesson index is built on first use
            assert answers(core.matcher) == expected[n], turn


def test_no_module_of_the_bot_uses_pickle() -> None:
    """A pickle runs code when read: nothing the bot reads may be one."""
    bot_dir = Path(knowledge.__file__).parent
    users = [p.name for p in bot_dir.rglob("*.py") if "pickle" in p.read_text(encoding="utf-8")]
    assert users == []


def test_a_cache_for_other_content_is_never_served(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    build_core(settings)
    other = tmp_path / "other"
    other_settings = replace(
        settings, responses_dir=write_kb(other, [APOLOGY]), data_dir=settings.data_dir
    )
    knowledge._LAST_KB.clear()
    core = build_core(other_settings)
    assert [a.id for a in core.kb.stories] == ["maaf-coklat"]
    assert answers(core.matcher) == answers(Matcher(core.kb))


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    settings = replace(settings_for(tmp_path), data_dir=blocker / "data")
    core = build_core(settings)
    assert core.matcher.ask(QUESTIONS[0]).best is not None


def test_an_index_built_in_memory_is_cached_by_its_content(tmp_path: Path) -> None:
    kb = load_knowledge(write_kb(tmp_path), SEEDS)
    changed = replace(
        kb,
        stories=(
            replace(kb.stories[0], triggers={"id": ("gudang kebanjiran",), "en": ("flood",)}),
            kb.stories[1],
        ),
    )
    cache = tmp_path / "cache"
    first = answers(Matcher(changed, cache_dir=cache))
    assert first == answers(Matcher(changed))
    assert answers(Matcher(kb, cache_dir=cache)) == answers(Matcher(kb))  # not the other's


def test_errors_name_file_and_line_after_a_cached_load(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    build_core(settings)
    path = next((settings.responses_dir / "anecdotes").glob("000-*.yaml"))
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title:\n  id:", "title:\n  xx:"), encoding="utf-8")
    with pytest.raises(KnowledgeError) as raised:
        build_core(settings)
    line = text.splitlines().index("title:") + 1
    assert f"{path}:{line}: title: missing the 'id' language" in raised.value.problems


def test_a_missing_seed_file_is_reported_even_from_the_cache(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for story in (THREAT, APOLOGY):
        (seeds / story["seed"]).write_text("post\n", encoding="utf-8")
    settings = replace(settings_for(tmp_path), seeds_dir=seeds)
    build_core(settings)
    (seeds / THREAT["seed"]).unlink()
    with pytest.raises(KnowledgeError) as raised:
        build_core(settings)  # remembered in memory
    assert f"seed file '{THREAT['seed']}' does not exist" in "\n".join(raised.value.problems)
    knowledge._LAST_KB.clear()
    with pytest.raises(KnowledgeError):
        build_core(settings)  # from the disk cache


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "pure"])
def test_both_loaders_refuse_aliases_and_depth_alike(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yamlsafe, "_FAST", fast and yaml.__with_libyaml__)
    with pytest.raises(yaml.YAMLError) as alias:
        yamlsafe.parse("a: &a [x]\nb: [*a]\n")
    assert "aliases (*name) are not allowed" in str(alias.value) and "line 2" in str(alias.value)
    for deep in ("[" * 21 + "]" * 21, "[" * 5000 + "]" * 5000, "- " * 30 + "x"):
        with pytest.raises(yaml.YAMLError) as nested:
            yamlsafe.parse(deep)
        assert "nested more than 20 levels deep" in str(nested.value)
    ok = "[" * 19 + "x" + "]" * 19  # a node at depth 20 is allowed by either loader
    assert yamlsafe.parse(ok) is not None
    assert yamlsafe.parse("a: {b: [1, 'two', null]}\n") == {"a": {"b": [1, "two", None]}}


def test_the_line_map_is_built_only_for_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = yamlsafe.line_map
    monkeypatch.setattr(yamlsafe, "line_map", lambda text: calls.append(1) or real(text))
    load_knowledge(write_kb(tmp_path), SEEDS)
    assert calls == []


def test_quiz_items_come_back_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real stories' quiz lists (issue 19) survive the JSON cache unchanged."""
    project = Path(__file__).resolve().parent.parent
    cache_dir = tmp_path / "cache"
    fresh = load_knowledge(project / "responses", SEEDS, cache_dir)
    assert sum(len(a.quiz) for a in fresh.stories) >= 20
    knowledge._LAST_KB.clear()
    monkeypatch.setattr(knowledge, "load_story", no_build)
    cached = load_knowledge(project / "responses", SEEDS, cache_dir)
    assert [a.quiz for a in cached.stories] == [a.quiz for a in fresh.stories]


@pytest.mark.parametrize("value", [b"", b"\x02\x00\x00\x00{}", b"\xff" * 64])
def test_a_damaged_patch_state_is_not_used_after_an_edit(tmp_path: Path, value: bytes) -> None:
    """What patching the previous index needs, damaged: the start after an edit assembles
    the index instead, and answers as a fresh build."""
    settings = settings_for(tmp_path)
    build_core(settings)
    (state,) = (settings.data_dir / CACHE_DIR).glob("patch-*" + LARGE_SUFFIX)
    state.write_bytes(value)
    changed = copy.deepcopy(THREAT)
    changed["triggers"]["id"].append("vendor kami bangkrut dan gudangnya kebanjiran")
    write_kb(tmp_path, [changed, APOLOGY])
    knowledge._LAST_KB.clear()
    after = build_core(settings)
    assert after.matcher.ask("vendor kami bangkrut dan gudangnya kebanjiran").best is not None
    assert answers(after.matcher) == answers(Matcher(after.kb))


def test_two_bases_on_one_data_directory_each_patch_their_own_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start after editing one base patches that base's last index, although another base
    was started from the same data directory in between."""
    settings = settings_for(tmp_path)
    other = replace(settings, responses_dir=write_kb(tmp_path / "other", [APOLOGY, THREAT]))
    build_core(settings)
    build_core(other)
    patches: list[int] = []
    real_patch = index_build.patch

    def counted(*args: object, **kwargs: object) -> object:
        patches.append(1)
        return real_patch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index_build, "patch", counted)
    changed = copy.deepcopy(THREAT)
    changed["triggers"]["id"].append("vendor kami bangkrut dan gudangnya kebanjiran")
    write_kb(tmp_path, [changed, APOLOGY])
    knowledge._LAST_KB.clear()
    after = build_core(settings)
    assert patches == [1]
    assert after.matcher.ask("vendor kami bangkrut dan gudangnya kebanjiran").best is not None
    assert answers(after.matcher) == answers(Matcher(after.kb))


def test_a_planted_patch_state_with_impossible_counts_is_not_used(tmp_path: Path) -> None:
    """A well-formed patch state whose numbers cannot come from a build (negative counts)
    is refused like a damaged one: the start after an edit answers as a fresh build."""
    settings = settings_for(tmp_path)
    core = build_core(settings)
    cache = settings.data_dir / CACHE_DIR
    (state_file,) = cache.glob("patch-*" + LARGE_SUFFIX)
    state = state_of(state_file.read_bytes(), core.matcher._index)
    assert state is not None
    state.counts = array("d", [-1.0] * len(state.counts))
    state_file.write_bytes(state_bytes(state))
    changed = copy.deepcopy(THREAT)
    changed["triggers"]["id"].append("vendor kami bangkrut dan gudangnya kebanjiran")
    write_kb(tmp_path, [changed, APOLOGY])
    knowledge._LAST_KB.clear()
    after = build_core(settings)
    assert after.matcher.ask("vendor kami bangkrut dan gudangnya kebanjiran").best is not None
    assert answers(after.matcher) == answers(Matcher(after.kb))


def test_entries_unused_for_a_month_are_dropped_and_used_ones_kept(tmp_path: Path) -> None:
    """The cache stays bounded: what no start has read for a month goes at the next write,
    while an entry read now and then (marked at most once a day) stays."""
    now = [1_000_000_000.0]
    day = 24 * 3600
    cache = Cache(tmp_path, clock=lambda: now[0])
    cache.put_many({"read": b"1", "forgotten": b"2"})
    now[0] += 20 * day
    cache.put_many({"new": b"3"}, touch=["read"])
    now[0] += 20 * day  # "forgotten" unused for 40 days, "read" for 20
    cache.put_many({"newer": b"4"})
    assert cache.get_many(["read", "forgotten", "new", "newer"]) == {
        "read": b"1",
        "new": b"3",
        "newer": b"4",
    }
    cache.close()


def test_a_cache_file_of_the_older_layout_starts_empty_and_works(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB, used INTEGER)")
        db.execute("INSERT INTO entries VALUES ('old', x'01', 1)")
    db.close()
    cache = Cache(tmp_path)
    assert cache.get("old") is None
    cache.put_many({"new": b"2"})
    assert cache.get("new") == b"2"
    cache.close()
    assert Cache(tmp_path).get("new") == b"2"  # the upgraded file is kept as it is


@pytest.mark.slow  # waits for the files to settle, as a base edited minutes ago has
def test_a_story_rewritten_in_place_with_its_time_set_back_is_read_again(tmp_path: Path) -> None:
    """A file unchanged since the last start is not read again (its size, times and inode
    say so); one rewritten in place, same size, its modification time set back (`cp -p`,
    `rsync -t`), has a new change time, and is read again."""
    settings = settings_for(tmp_path)
    cache_dir = settings.data_dir / CACHE_DIR
    time.sleep(RECENT_SECONDS + 0.5)  # older than a clock tick: the load records them
    first = load_knowledge(settings.responses_dir, SEEDS, cache_dir)
    story = next(s for s in first.stories if "lupa pesanan pelanggan" in s.triggers["id"])
    before = story.source.stat()
    text = story.source.read_text(encoding="utf-8")
    story.source.write_text(text.replace("lupa pesanan pelanggan", "lupa kiriman pelanggan"))
    os.utime(story.source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert story.source.stat().st_size == before.st_size
    assert story.source.stat().st_mtime_ns == before.st_mtime_ns

    knowledge._LAST_KB.clear()  # a new process
    again = load_knowledge(settings.responses_dir, SEEDS, cache_dir)
    edited = next(s for s in again.stories if s.id == story.id)
    assert "lupa kiriman pelanggan" in edited.triggers["id"]
    assert "lupa pesanan pelanggan" not in edited.triggers["id"]
    knowledge._LAST_KB.clear()
    assert load_knowledge(settings.responses_dir, SEEDS, cache_dir) == again  # from its records
