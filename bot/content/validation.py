"""Checking content files: every field of a story or UI-text file, each problem with its
file:line, all of a file's problems at once.

Validation happens once, at load, so a broken file is reported to its author instead of
surfacing later as a traceback in front of a user.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.content import yamlsafe
from bot.content.model import LANGUAGES, KnowledgeBase, KnowledgeError, QuizItem, Story, Text
from bot.content.yamlsafe import field_line, read_yaml

MIN_TIPS = 3
# Telegram's quiz polls (sendPoll): a question of 1-300 characters, 2-10 options of 1-100,
# an explanation of at most 200 characters with at most two line feeds. A story with a quiz
# has at least MIN_QUIZ items, so a team does not see the same few questions every week.
QUIZ_QUESTION_MAX = 300
QUIZ_OPTION_MAX = 100
QUIZ_OPTIONS = (2, 10)
QUIZ_EXPLANATION_MAX = 200
QUIZ_EXPLANATION_LINE_FEEDS = 2
MIN_QUIZ = 4
# What `python -m bot new-story` writes where the author has yet to; refused by the validator.
TODO = "TODO"
# The end of the problem reported for each field a draft still leaves TODO: a file with one is
# a draft, which the serving commands skip (bot/content/knowledge.py) and `check` refuses.
DRAFT_PROBLEM = f"still {TODO} (a draft from new-story)"
# A story id travels in button data; letters outside ASCII change form on the way back.
# A story file's fields (docs/authoring.md); anything else is reported as a typo.
REQUIRED_FIELDS = ("id", "seed", "title", "story", "lessons", "triggers", "tags", "tips")
OPTIONAL_FIELDS = (
    "caution",
    "caution_short",
    "applies_to",
    "summary",
    "when",
    "quiz",
    "situations",
)
# Lower case: /story reads the id a user types in any case as lower case.
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units): an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


class _Checker:
    """Collects problems for one file so the author sees all of them at once."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.source_text = text
        self._lines: dict[tuple[Any, ...], int] | None = None
        self.problems: list[str] = []

    @property
    def lines(self) -> dict[tuple[Any, ...], int]:
        """Each field's line, mapped from the file's text at the first problem reported."""
        if self._lines is None:
            try:
                self._lines = yamlsafe.line_map(self.source_text)
            except yaml.YAMLError:  # parsed once already; cannot fail, but never hide a problem
                self._lines = {}
        return self._lines

    def fail(self, path: tuple[Any, ...], message: str) -> None:
        field_name = ".".join(str(p) for p in path) or "(file)"
        line = None
        for depth in range(len(path), -1, -1):
            line = self.lines.get(path[:depth])
            if line is not None:
                break
        where = f"{self.path}:{line}" if line else str(self.path)
        self.problems.append(f"{where}: {field_name}: {message}")

    def string(self, value: Any, path: tuple[Any, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty text")
            return ""
        return value.strip()

    def text(self, data: Mapping[str, Any], path: tuple[Any, ...]) -> Text:
        if not isinstance(data, Mapping):
            self.fail(path, "must have both 'id' (Indonesian) and 'en' (English) texts")
            return Text("", "")
        for lang in LANGUAGES:
            if lang not in data:
                self.fail(path, f"missing the '{lang}' language")
        return Text(
            id=self.string(data.get("id"), (*path, "id")) if "id" in data else "",
            en=self.string(data.get("en"), (*path, "en")) if "en" in data else "",
        )

    def text_list(self, value: Any, path: tuple[Any, ...], minimum: int = 1) -> tuple[Text, ...]:
        if not isinstance(value, list) or not value:
            self.fail(path, "must be a non-empty list of {id: ..., en: ...} items")
            return ()
        if len(value) < minimum:
            self.fail(path, f"needs at least {minimum} items, has {len(value)}")
        return tuple(self.text(item, (*path, i)) for i, item in enumerate(value))

    def per_language(self, value: Any, path: tuple[Any, ...]) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, Mapping):
            self.fail(path, "must map 'id' and 'en' to non-empty lists of texts")
            return {lang: () for lang in LANGUAGES}
        result: dict[str, tuple[str, ...]] = {}
        for lang in LANGUAGES:
            items = value.get(lang)
            if not isinstance(items, list) or not items:
                self.fail((*path, lang), "must be a non-empty list of texts")
                result[lang] = ()
                continue
            result[lang] = tuple(
                self.string(item, (*path, lang, i)) for i, item in enumerate(items)
            )
        return result


def seed_problem(seed: str, seeds_dir: Path) -> str | None:
    """Why `seed` cannot be a story's seed file, or None.

    The "full story" button sends this file to any user: it must be a seed in seeds/, never
    a path that climbs out of it ("../.env" would send the bot token).
    """
    if Path(seed).name != seed or seed.startswith("."):
        return "must be a plain file name inside the seeds directory"
    if not (seeds_dir / seed).resolve().is_relative_to(seeds_dir.resolve()):
        return "must be a file inside the seeds directory, not a link out of it"
    if not (seeds_dir / seed).is_file():
        return f"seed file '{seed}' does not exist in {seeds_dir}"
    return None


def load_story(
    path: Path,
    seeds_dir: Path,
    raw: bytes | None = None,
    seed_problems: dict[str, str | None] | None = None,
) -> Story:
    """One story file, validated; `raw` is its content when already read. `seed_problems`:
    the seeds already checked while loading a base (thousands of stories share a few seeds,
    and each check resolves paths on disk)."""
    data, text = read_yaml(path, raw)
    check = _Checker(path, text)
    if not isinstance(data, Mapping):
        check.fail((), "must be a mapping with id, seed, title, story, lessons, triggers, ...")
        raise KnowledgeError(check.problems)
    for key in REQUIRED_FIELDS:
        if key not in data:
            check.fail((), f"missing required field '{key}'")
    _unknown_fields(check, data, (), REQUIRED_FIELDS + OPTIONAL_FIELDS)
    story_id = check.string(data.get("id"), ("id",)) if "id" in data else ""
    if story_id and not (story_id.isascii() and _ID_CHARS.issuperset(story_id)):
        check.fail(
            ("id",),
            "use only lower-case ASCII letters, digits, '-' and '_' (a-z, 0-9: it goes into "
            "buttons and /story)",
        )
    if len(story_id.encode()) > 24:
        check.fail(("id",), "must be at most 24 characters (it goes into button data)")
    seed = check.string(data.get("seed"), ("seed",)) if "seed" in data else ""
    if not seed:
        problem = None
    elif seed_problems is None:
        problem = seed_problem(seed, seeds_dir)
    elif seed in seed_problems:
        problem = seed_problems[seed]
    else:
        problem = seed_problems[seed] = seed_problem(seed, seeds_dir)
    if problem:
        check.fail(("seed",), problem)
    story = Story(
        id=story_id,
        seed=seed,
        title=check.text(data.get("title"), ("title",)) if "title" in data else Text("", ""),
        story=check.text(data.get("story"), ("story",)) if "story" in data else Text("", ""),
        lessons=check.text_list(data.get("lessons"), ("lessons",)) if "lessons" in data else (),
        triggers=check.per_language(data.get("triggers"), ("triggers",))
        if "triggers" in data
        else {},
        tags=check.per_language(data.get("tags"), ("tags",)) if "tags" in data else {},
        tips=check.text_list(data.get("tips"), ("tips",), MIN_TIPS) if "tips" in data else (),
        source=path,
        caution=check.text(data["caution"], ("caution",)) if "caution" in data else None,
        summary=check.text(data["summary"], ("summary",)) if "summary" in data else None,
        when=_when(check, data.get("when"), _count(data.get("lessons"))) if "when" in data else (),
        applies_to=_applies_to(check, data.get("applies_to")) if "applies_to" in data else (),
        caution_short=check.text(data["caution_short"], ("caution_short",))
        if "caution_short" in data
        else None,
        quiz=_quiz(check, data.get("quiz"), _count(data.get("lessons"))) if "quiz" in data else (),
        situations=check.text_list(data.get("situations"), ("situations",))
        if "situations" in data
        else (),
    )
    if (story.applies_to or story.caution_short) and story.caution is None:
        field_name = "applies_to" if story.applies_to else "caution_short"
        check.fail((field_name,), "belongs to a caution: add 'caution' or remove this field")
    if TODO in text:  # a draft: only then walk the document
        for field_path in _todo_fields(data):
            check.fail(field_path, DRAFT_PROBLEM)
    if check.problems:
        raise KnowledgeError(check.problems)
    return story


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _when(check: _Checker, value: Any, lessons: int) -> tuple[dict[str, tuple[str, ...]], ...]:
    """`when`: one item per lesson, in the lessons' order, each {id: [...], en: [...]}."""
    if not isinstance(value, list) or not value:
        check.fail(("when",), "must be a list with one {id: [...], en: [...]} item per lesson")
        return ()
    if len(value) != lessons:
        check.fail(("when",), f"needs one item per lesson ({lessons}), has {len(value)}")
    return tuple(check.per_language(item, ("when", i)) for i, item in enumerate(value))


def _quiz(check: _Checker, value: Any, lessons: int) -> tuple[QuizItem, ...]:
    """`quiz`: at least MIN_QUIZ items, each within Telegram's quiz-poll limits, so a poll is
    never refused in front of a team (the limits are checked here, not at sending time)."""
    if not isinstance(value, list) or not value:
        check.fail(("quiz",), "must be a list of {question, options, answer, explanation, lesson}")
        return ()
    if len(value) < MIN_QUIZ:
        check.fail(("quiz",), f"needs at least {MIN_QUIZ} items, has {len(value)}")
    items = []
    for i, raw in enumerate(value):
        item = _quiz_item(check, raw, ("quiz", i), lessons)
        if item is not None:
            items.append(item)
    return tuple(items)


def _limit(check: _Checker, text: str, path: tuple[Any, ...], maximum: int) -> None:
    length = telegram_length(text)
    if length > maximum:
        check.fail(path, f"is {length} characters; Telegram allows at most {maximum}")


def _number(check: _Checker, value: Any, path: tuple[Any, ...], high: int, what: str) -> int:
    """A 1-based number in 1..high, returned 0-based (-1 when invalid, reported)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        check.fail(path, f"must be the number of {what}, from 1 to {high}")
        return -1
    return value - 1


def _unknown_fields(
    check: _Checker, data: Mapping[Any, Any], path: tuple[Any, ...], known: tuple[str, ...]
) -> None:
    """A field no reader knows is a typo that would be dropped without a word ("cauton": a
    story told without its caution), so it is a problem, with the nearest known name."""
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        check.fail((*path, key), f"unknown field; {hint}known: {', '.join(known)}")


def _quiz_item(check: _Checker, raw: Any, path: tuple[Any, ...], lessons: int) -> QuizItem | None:
    if not isinstance(raw, Mapping):
        check.fail(path, "must be a mapping with question, options, answer, explanation, lesson")
        return None
    fields = ("question", "options", "answer", "explanation", "lesson")
    _unknown_fields(check, raw, path, fields)
    missing = [key for key in fields if key not in raw]
    for key in missing:
        check.fail(path, f"missing required field '{key}'")
    if missing:
        return None
    question = check.text(raw["question"], (*path, "question"))
    explanation = check.text(raw["explanation"], (*path, "explanation"))
    for lang in LANGUAGES:
        _limit(check, question.get(lang), (*path, "question", lang), QUIZ_QUESTION_MAX)
        text = explanation.get(lang)
        _limit(check, text, (*path, "explanation", lang), QUIZ_EXPLANATION_MAX)
        if text.count("\n") > QUIZ_EXPLANATION_LINE_FEEDS:
            check.fail(
                (*path, "explanation", lang),
                f"has more than {QUIZ_EXPLANATION_LINE_FEEDS} line breaks (Telegram's limit)",
            )
    options = check.per_language(raw["options"], (*path, "options"))
    low, high = QUIZ_OPTIONS
    counts = {len(options[lang]) for lang in LANGUAGES}
    for lang in LANGUAGES:
        count = len(options[lang])
        if options[lang] and not low <= count <= high:
            check.fail(
                (*path, "options", lang), f"has {count} options; Telegram allows {low}-{high}"
            )
        for j, option in enumerate(options[lang]):
            _limit(check, option, (*path, "options", lang, j), QUIZ_OPTION_MAX)
        if len(set(options[lang])) != count:
            check.fail((*path, "options", lang), "has the same option twice")
    if len(counts) > 1:
        check.fail((*path, "options"), "needs the same number of options in both languages")
    correct = _number(check, raw["answer"], (*path, "answer"), min(counts) or 1, "the right option")
    lesson = _number(check, raw["lesson"], (*path, "lesson"), max(lessons, 1), "the lesson tested")
    if correct < 0 or lesson < 0:
        return None
    return QuizItem(question, options, correct, explanation, lesson)


def _applies_to(check: _Checker, value: Any) -> tuple[str, ...]:
    """`applies_to`: subject names; that they exist is checked against the normalisation
    table by the matcher (`check_subjects`), which is where subjects are defined."""
    if not isinstance(value, list) or not value:
        check.fail(("applies_to",), "must be a non-empty list of subjects (see normalize.yaml)")
        return ()
    return tuple(check.string(item, ("applies_to", i)) for i, item in enumerate(value))


def subject_problems(kb: KnowledgeBase, known: Iterable[str]) -> list[str]:
    """Every `applies_to` subject not defined in the normalisation table, with file:line."""
    names = set(known)
    problems = []
    for story in kb.stories:
        for i, subject in enumerate(story.applies_to):
            if subject not in names:
                where = f"{story.source}{field_line(story.source, ('applies_to', i))}"
                problems.append(
                    f"{where}: applies_to.{i}: unknown subject '{subject}' "
                    f"(known: {', '.join(sorted(names)) or 'none'})"
                )
    return problems


def _todo_fields(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field of a document whose text is still the draft's TODO, in file order."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _todo_fields(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _todo_fields(item, (*path, index))
    elif isinstance(value, str) and value.strip() == TODO:
        yield path


def load_ui(path: Path, raw: bytes | None = None) -> dict[str, Text]:
    """Load one UI texts file: a mapping of text keys to {id: ..., en: ...}."""
    data, text = read_yaml(path, raw)
    check = _Checker(path, text)
    if not isinstance(data, Mapping) or not data:
        check.fail((), "must map text keys to {id: ..., en: ...}")
        raise KnowledgeError(check.problems)
    ui = {str(key): check.text(value, (key,)) for key, value in data.items()}
    if check.problems:
        raise KnowledgeError(check.problems)
    return ui
