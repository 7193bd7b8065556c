"""The knowledge-base validator: a broken file is reported with its file, field and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kbfixture import APOLOGY, PROJECT, SEEDS, THREAT, write_kb

from bot.content.knowledge import load_knowledge
from bot.content.model import KnowledgeError

GOOD = """\
id: good-one
seed: 000_14f30f37fa898fbe.txt
title:
  id: "Judul"
  en: "Title"
story:
  id: "Cerita."
  en: "Story."
lessons:
  - id: "Pelajaran."
    en: "Lesson."
triggers:
  id: ["pemicu satu", "pemicu dua"]
  en: ["trigger one", "trigger two"]
tags:
  id: ["tag"]
  en: ["tag"]
tips:
  - {id: "Tip 1.", en: "Tip 1."}
  - {id: "Tip 2.", en: "Tip 2."}
  - {id: "Tip 3.", en: "Tip 3."}
"""


def problems_for(tmp_path: Path, text: str, name: str = "010-broken.yaml") -> list[str]:
    responses = write_kb(tmp_path)
    (responses / "anecdotes" / name).write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(responses, SEEDS)
    return raised.value.problems


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


def test_the_good_file_loads(tmp_path: Path) -> None:
    responses = write_kb(tmp_path)
    (responses / "anecdotes" / "010-good.yaml").write_text(GOOD, encoding="utf-8")
    kb = load_knowledge(responses, SEEDS)
    assert [a.id for a in kb.stories] == ["ancaman-klien", "maaf-coklat", "good-one"]
    assert kb.by_id("good-one") is not None
    assert len(list(kb.tips())) == 9
    assert kb.text("out_of_scope", "en", question="x").startswith("🤔 Sorry")


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    broken = GOOD.replace('  en: "Story."', '  en: "Story.\n  oops: [')
    message = only(problems_for(tmp_path, broken))
    assert re.search(r"010-broken\.yaml:\d+: invalid YAML", message), message


def test_a_tab_in_the_indentation_is_named(tmp_path: Path) -> None:
    """The Tab key in an editor makes YAML fail with words an author cannot act on."""
    broken = GOOD.replace('story:\n  id: "Cerita."', 'story:\n\tid: "Cerita."')
    message = only(problems_for(tmp_path, broken))
    assert re.search(r"010-broken\.yaml:\d+: invalid YAML: .*\(a tab: YAML indents", message)
    other = only(problems_for(tmp_path, GOOD.replace('  en: "Story."', '  en: "Story.\n  x: [')))
    assert "a tab" not in other


def test_a_misspelt_field_is_named_not_dropped(tmp_path: Path) -> None:
    """'cauton:' would otherwise be ignored, and the story told without its caution."""
    broken = GOOD.replace("title:", 'cauton:\n  id: "Hati-hati."\n  en: "Careful."\ntitle:', 1)
    message = only(problems_for(tmp_path, broken))
    assert re.search(
        r"010-broken\.yaml:\d+: cauton: unknown field; did you mean 'caution'", message
    )


def test_missing_field(tmp_path: Path) -> None:
    broken = GOOD.replace('story:\n  id: "Cerita."\n  en: "Story."\n', "")
    message = only(problems_for(tmp_path, broken))
    assert "010-broken.yaml:1: (file): missing required field 'story'" in message


def test_missing_language_points_at_the_field_line(tmp_path: Path) -> None:
    broken = GOOD.replace('  en: "Title"\n', "")
    message = only(problems_for(tmp_path, broken))
    assert "010-broken.yaml:3: title: missing the 'en' language" in message


def test_empty_trigger_list(tmp_path: Path) -> None:
    broken = GOOD.replace('  en: ["trigger one", "trigger two"]', "  en: []")
    message = only(problems_for(tmp_path, broken))
    assert "010-broken.yaml:14: triggers.en: must be a non-empty list of texts" in message


def test_non_text_trigger_names_its_index_and_line(tmp_path: Path) -> None:
    broken = GOOD.replace('  id: ["pemicu satu", "pemicu dua"]', '  id:\n    - "a"\n    - 42')
    message = only(problems_for(tmp_path, broken))
    assert "010-broken.yaml:15: triggers.id.1: must be a non-empty text" in message


def test_too_few_tips(tmp_path: Path) -> None:
    broken = GOOD.replace('  - {id: "Tip 3.", en: "Tip 3."}\n', "")
    message = only(problems_for(tmp_path, broken))
    assert "010-broken.yaml:18: tips: needs at least 3 items, has 2" in message


def test_lesson_that_is_not_bilingual(tmp_path: Path) -> None:
    broken = GOOD.replace('  - id: "Pelajaran."\n    en: "Lesson."', '  - "Just one language"')
    message = only(problems_for(tmp_path, broken))
    assert "010-broken.yaml:10: lessons.0: must have both 'id'" in message


def test_unknown_seed(tmp_path: Path) -> None:
    broken = GOOD.replace("000_14f30f37fa898fbe.txt", "999_missing.txt")
    message = only(problems_for(tmp_path, broken))
    assert "010-broken.yaml:2: seed: seed file '999_missing.txt' does not exist" in message


@pytest.mark.parametrize("seed", ["../.env", "/etc/passwd", "sub/../000_14f30f37fa898fbe.txt"])
def test_a_seed_outside_the_seeds_directory_is_refused(tmp_path: Path, seed: str) -> None:
    """The "full story" button sends the seed file to users: '../.env' would leak the token."""
    broken = GOOD.replace("000_14f30f37fa898fbe.txt", f"'{seed}'")
    message = only(problems_for(tmp_path, broken))
    assert (
        "010-broken.yaml:2: seed: must be a plain file name inside the seeds directory" in message
    )


@pytest.mark.parametrize("bad_id", ["Bad id!", "x" * 25])
def test_bad_ids(tmp_path: Path, bad_id: str) -> None:
    message = only(problems_for(tmp_path, GOOD.replace("id: good-one", f"id: '{bad_id}'")))
    assert "010-broken.yaml:1: id: " in message


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    message = only(problems_for(tmp_path, GOOD.replace("good-one", "maaf-coklat")))
    assert "010-broken.yaml:1: id: " in message and "001-maaf-coklat.yaml" in message
    assert "id: 'maaf-coklat' is already used" in message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    broken = GOOD.replace('  en: "Title"\n', "").replace("  en: []", "")
    broken = broken.replace("000_14f30f37fa898fbe.txt", "nope.txt").replace("tags:", "tagz:")
    problems = problems_for(tmp_path, broken)
    assert len(problems) == 4  # the misspelt tags are both unknown and missing
    assert all(p.startswith(str(tmp_path)) and "010-broken.yaml:" in p for p in problems)
    assert any("tagz: unknown field; did you mean 'tags'" in p for p in problems)


def test_not_a_mapping_and_empty_file(tmp_path: Path) -> None:
    assert "must be a mapping" in only(problems_for(tmp_path, "- just\n- a list\n"))
    assert "must be a mapping" in only(problems_for(tmp_path / "b", ""))


def test_not_utf8(tmp_path: Path) -> None:
    responses = write_kb(tmp_path)
    (responses / "anecdotes" / "010-latin1.yaml").write_bytes("id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(responses, SEEDS)
    assert "010-latin1.yaml: not UTF-8 text" in only(raised.value.problems)


def test_ui_text_missing_a_language_and_duplicate_keys(tmp_path: Path) -> None:
    responses = write_kb(tmp_path)
    (responses / "ui" / "extra.yaml").write_text(
        'greeting_extra:\n  id: "Halo"\nhelp:\n  id: "a"\n  en: "b"\n', encoding="utf-8"
    )
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(responses, SEEDS)
    problems = raised.value.problems
    assert any("extra.yaml:1: greeting_extra: missing the 'en' language" in p for p in problems)
    # Reported only once the file itself is valid: fix it and the duplicate shows.
    (responses / "ui" / "extra.yaml").write_text('help:\n  id: "a"\n  en: "b"\n', encoding="utf-8")
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(responses, SEEDS)
    assert "extra.yaml:1: help: already defined in" in only(raised.value.problems)


def test_empty_directories(tmp_path: Path) -> None:
    (tmp_path / "responses" / "anecdotes").mkdir(parents=True)
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(tmp_path / "responses", SEEDS)
    problems = "\n".join(raised.value.problems)
    assert "no story files" in problems and "no UI text files" in problems


def test_the_fixture_and_the_real_base_load() -> None:
    for fixture in (THREAT, APOLOGY):
        assert fixture["seed"] in {p.name for p in SEEDS.iterdir()}
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    assert len(kb.stories) >= 5
    assert {a.seed_prefix for a in kb.stories} >= {"000", "001", "002", "003", "004"}
    for story in kb.stories:
        for lang in ("id", "en"):
            assert len(story.triggers[lang]) >= 10, (story.id, lang)


def test_an_alias_bomb_is_refused_at_once_naming_the_line(tmp_path: Path) -> None:
    """Nine levels of nine aliases expand to 387 million strings: refused at the first alias."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        name, previous = chr(97 + level), chr(96 + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    message = only(problems_for(tmp_path, "\n".join(lines) + "\n"))
    assert "010-broken.yaml:2: invalid YAML: aliases (*name) are not allowed" in message


def test_yaml_nested_a_thousand_deep_is_one_clear_problem(tmp_path: Path) -> None:
    message = only(problems_for(tmp_path, "id: " + "[" * 1000 + "]" * 1000 + "\n"))
    assert "010-broken.yaml:1: invalid YAML: nested more than" in message


# -- quiz items (issue 19) ----------------------------------------------------------------------


def _quiz_item(**overrides: object) -> dict[str, object]:
    item: dict[str, object] = {
        "lesson": 1,
        "question": {"id": "Apa yang kamu lakukan?", "en": "What do you do?"},
        "options": {"id": ["Satu", "Dua", "Tiga"], "en": ["One", "Two", "Three"]},
        "answer": 2,
        "explanation": {"id": "Pelajaran 1.", "en": "Lesson 1."},
    }
    item.update(overrides)
    return item


def _with_quiz(items: list[dict[str, object]]) -> str:
    import yaml as _yaml

    return GOOD + _yaml.safe_dump({"quiz": items}, allow_unicode=True)


def test_a_valid_quiz_loads_with_zero_based_indexes(tmp_path: Path) -> None:
    responses = write_kb(tmp_path)
    (responses / "anecdotes" / "010-good.yaml").write_text(
        _with_quiz([_quiz_item() for _ in range(4)]), encoding="utf-8"
    )
    kb = load_knowledge(responses, SEEDS)
    keys = [key for key, _a, _q in kb.quizzes()]
    assert keys == [f"good-one:q{i}" for i in range(4)]
    found = kb.quiz_item("good-one:q3")
    assert found is not None and found[1].correct == 1 and found[1].lesson == 0
    assert found[1].options_in("en") == ("One", "Two", "Three")
    assert kb.quiz_item("good-one:q4") is None and kb.quiz_item("nope:q0") is None


def test_quiz_limits_are_telegrams_and_name_file_and_line(tmp_path: Path) -> None:
    items = [
        _quiz_item(question={"id": "x" * 301, "en": "ok?"}),
        _quiz_item(options={"id": ["Satu"], "en": ["One"]}),
        _quiz_item(options={"id": ["a" * 101, "b", "c"], "en": ["a", "b", "c"]}),
        _quiz_item(answer=4),
        _quiz_item(explanation={"id": "y" * 201, "en": "ok"}),
        _quiz_item(lesson=2),
        _quiz_item(options={"id": ["a", "b", "c"], "en": ["a", "b"]}),
    ]
    found = problems_for(tmp_path, _with_quiz(items))
    text = "\n".join(found)
    assert re.search(r"010-broken\.yaml:\d+: quiz\.0\.question\.id: is 301 characters", text)
    assert re.search(r"quiz\.1\.options\.id: has 1 options; Telegram allows 2-10", text)
    assert re.search(r"quiz\.2\.options\.id\.0: is 101 characters; Telegram allows at most", text)
    assert re.search(r"quiz\.3\.answer: must be the number of the right option, from 1 to 3", text)
    assert re.search(r"quiz\.4\.explanation\.id: is 201 characters", text)
    assert re.search(r"quiz\.5\.lesson: must be the number of the lesson tested, from 1 to 1", text)
    assert "quiz.6.options: needs the same number of options in both languages" in text
    assert all(re.match(r".*010-broken\.yaml:\d+: ", p) for p in found), found


def test_a_story_with_a_quiz_needs_four_items(tmp_path: Path) -> None:
    problem = only(problems_for(tmp_path, _with_quiz([_quiz_item() for _ in range(3)])))
    assert "quiz: needs at least 4 items, has 3" in problem


def test_the_real_stories_each_have_four_fair_quiz_items() -> None:
    """Five stories, at least four questions each, every lesson tested, and the right option
    is never the longest (a giveaway) in either language."""
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    assert len(kb.stories) >= 5
    for story in kb.stories:
        assert len(story.quiz) >= 4, story.id
        assert {q.lesson for q in story.quiz} == set(range(len(story.lessons)))
        for item in story.quiz:
            for lang in ("id", "en"):
                options = item.options_in(lang)
                right = len(options[item.correct])
                assert right < max(len(o) for o in options), (story.id, item.question.en)
    places = {q.correct for a in kb.stories for q in a.quiz}
    assert len(places) >= 3  # the right answer is not always in the same place
