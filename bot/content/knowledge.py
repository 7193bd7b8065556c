"""The knowledge base: anecdotes and UI texts loaded from `responses/`, validated, immutable.

Content is data: every word a user reads comes from YAML so a team lead can fix a sentence
without touching Python. Validation happens here, once, so a broken file is reported with its
file, field and line instead of surfacing later as a traceback in front of a user.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.storage.cache import Cache, dumps, loads, paused_gc

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("id", "en")
ANECDOTES_DIR = "anecdotes"
UI_DIR = "ui"
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


class KnowledgeError(ValueError):
    """One or more problems in the knowledge base; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Text:
    """One piece of content in both languages."""

    id: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.id


@dataclass(frozen=True)
class QuizItem:
    """One practice question: a situation, its options, the right one and why.

    `correct` and `lesson` are 0-based indexes (the YAML counts from 1, as authors do);
    the options are per language, the same number in each, the right one at the same place.
    """

    question: Text
    options: Mapping[str, tuple[str, ...]]
    correct: int
    explanation: Text
    lesson: int

    def options_in(self, lang: str) -> tuple[str, ...]:
        return self.options["en" if lang == "en" else "id"]


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units): an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Anecdote:
    id: str
    seed: str
    title: Text
    story: Text
    lessons: tuple[Text, ...]
    triggers: Mapping[str, tuple[str, ...]]
    tags: Mapping[str, tuple[str, ...]]
    tips: tuple[Text, ...]
    source: Path
    # Advice with a legal or HR edge (gifts to officials, relationships at a client's site):
    # shown with the story, so a lesson is never read as permission.
    caution: Text | None = None
    # The story in two or three sentences, as what happened: the first message shows it,
    # under the lesson; `story` is the complete retelling behind the "full story" button.
    summary: Text | None = None
    # Per lesson (same order as `lessons`), the dilemmas and decisions it helps with, per
    # language: what the lesson shown first is chosen by (bot/engine/matcher.py: `lesson_order`).
    when: tuple[Mapping[str, tuple[str, ...]], ...] = ()
    # The subjects (`subjects` in normalize.yaml: officials, gifts, ...) a question must touch
    # for the caution to be shown in the first message; none: the caution is always shown.
    applies_to: tuple[str, ...] = ()
    # The caution in one short line, for the first message (the full view shows `caution`).
    caution_short: Text | None = None
    # Practice questions for /quiz and the team's quizzes (bot/leads/quiz.py).
    quiz: tuple[QuizItem, ...] = ()
    # The story's situation in roles and events (who the customer is, what went wrong or is
    # wanted, what the asker decides), read as concepts (bot/engine/situations.py), so a
    # message told in other words still finds it.
    situations: tuple[Text, ...] = ()

    @property
    def seed_prefix(self) -> str:
        """The seed's number ("000"), the label the evaluation files use."""
        return self.seed.split("_", 1)[0]


@dataclass(frozen=True)
class KnowledgeBase:
    anecdotes: tuple[Anecdote, ...]
    ui: Mapping[str, Text]
    seeds_dir: Path

    def by_id(self, anecdote_id: str) -> Anecdote | None:
        for anecdote in self.anecdotes:
            if anecdote.id == anecdote_id:
                return anecdote
        return None

    def text(self, key: str, lang: str, **values: object) -> str:
        """A UI text in `lang`, with `{placeholders}` filled in."""
        template = self.ui[key].get(lang)
        return template.format(**values) if values else template

    def quizzes(self) -> Iterator[tuple[str, Anecdote, QuizItem]]:
        """Every quiz item with a stable key "<anecdote id>:q<index>", the unit of practice."""
        for anecdote in self.anecdotes:
            for index, item in enumerate(anecdote.quiz):
                yield f"{anecdote.id}:q{index}", anecdote, item

    def quiz_item(self, key: str) -> tuple[Anecdote, QuizItem] | None:
        """The story and item behind a quiz key; None when the item is gone (edited away)."""
        anecdote_id, _, index = key.rpartition(":q")
        anecdote = self.by_id(anecdote_id)
        if anecdote is None or not index.isdigit() or int(index) >= len(anecdote.quiz):
            return None
        return anecdote, anecdote.quiz[int(index)]

    def tips(self) -> Iterator[tuple[str, Text]]:
        """Every tip with a stable key "<anecdote id>:<index>", the unit of the tip deck."""
        for anecdote in self.anecdotes:
            for index, tip in enumerate(anecdote.tips):
                yield f"{anecdote.id}:{index}", tip


# A story id travels in button data; letters outside ASCII change form on the way back.
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
MAX_DEPTH = 20  # an anecdote is four levels deep; anything far deeper is a mistake or an attack


class _ContentLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases and with bounded nesting.

    Authors never need aliases (`*name`), and nine levels of nine aliases expand to millions
    of nodes ("billion laughs"): refused at the first alias, naming its line. Nesting a
    thousand levels deep would overflow Python's stack: refused past MAX_DEPTH.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed here", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)  # type: ignore[arg-type]
        finally:
            self._depth -= 1


# libyaml (bundled in PyYAML's wheels) parses several times faster than the pure-Python
# loader, which matters at thousands of anecdote files. Its composer is C, so the alias and
# depth rules of _ContentLoader are enforced by a scan of the parser's events first.
_FAST = bool(getattr(yaml, "__with_libyaml__", False))


def _refuse_aliases_and_depth(text: str) -> None:
    """_ContentLoader's rules on the C parser's events, stopping at the first offence.

    Events stream (the document is not built), so an alias bomb is refused at its first
    alias and a thousand-deep nesting at level MAX_DEPTH + 1, naming the line either way.
    A node at depth d starts while d - 1 collections are open, as in compose_node.
    """
    open_collections = 0
    starts = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed here", event.start_mark
                )
            if isinstance(event, starts):
                if open_collections + 1 > MAX_DEPTH:
                    raise _too_deep(event.start_mark)
                if not isinstance(event, yaml.ScalarEvent):
                    open_collections += 1
            elif isinstance(event, ends):
                open_collections -= 1
    except (yaml.scanner.ScannerError, yaml.parser.ParserError) as exc:
        # libyaml's own limit (1000 levels) is read ahead of the events: ours, in our words.
        if exc.problem and "maximum nesting depth" in exc.problem:
            raise _too_deep(exc.problem_mark) from None
        raise


def _too_deep(mark: yaml.Mark | None) -> yaml.YAMLError:
    return yaml.composer.ComposerError(
        None, None, f"nested more than {MAX_DEPTH} levels deep", mark
    )


def _parse(text: str) -> Any:
    """The YAML document in `text`, without aliases and nested at most MAX_DEPTH deep.

    With libyaml: an alias needs a `*`, so a text without one is loaded directly (libyaml
    itself stops at 1000 levels, and the constructor does not recurse), then its depth is
    measured on the result; the event scan, which names the offending line, runs only
    when a `*` might be an alias or the document is too deep.
    """
    if not _FAST:
        return yaml.load(text, Loader=_ContentLoader)
    if "*" in text:
        _refuse_aliases_and_depth(text)
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except (yaml.scanner.ScannerError, yaml.parser.ParserError) as exc:
        if exc.problem and "maximum nesting depth" in exc.problem:
            raise _too_deep(exc.problem_mark) from None
        raise
    if _depth(data) > MAX_DEPTH:
        _refuse_aliases_and_depth(text)  # raises, naming the line
        raise _too_deep(None)
    return data


def _depth(data: Any) -> int:
    """Nesting depth as compose_node counts it: a scalar is 1, a collection one more than
    its deepest key or item (mapping keys are scalars: a collection key is unhashable)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((key, depth + 1) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((item, depth + 1) for item in value)
    return deepest


def _compose(text: str) -> yaml.Node | None:
    """The node tree of a document already accepted by `_parse` (for line numbers)."""
    if _FAST:
        return yaml.compose(text, Loader=yaml.CSafeLoader)
    return yaml.compose(text, Loader=_ContentLoader)


def _line_map(text: str) -> dict[tuple[Any, ...], int]:
    """Map each YAML path (keys and list indexes) to its 1-based line, for error messages.

    Built only when a problem is reported (see _Checker): a valid file is parsed once."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        # setdefault: a field's line is where its key is written, not where its value starts.
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[(*path, key.value)] = key.start_mark.line + 1
                walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    root = _compose(text)
    if root is not None:
        walk(root, ())
    return lines


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
                self._lines = _line_map(self.source_text)
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


def _decode(raw: bytes) -> str:
    """UTF-8 text with universal newlines, as `Path.read_text` reads it."""
    text = raw.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _read_yaml(path: Path, raw: bytes | None = None) -> tuple[Any, str]:
    """The parsed document and its text (kept to map lines if a problem is reported)."""
    try:
        text = path.read_text(encoding="utf-8") if raw is None else _decode(raw)
        return _parse(text), text
    except UnicodeDecodeError as exc:
        raise KnowledgeError([f"{path}: not UTF-8 text ({exc.reason})"]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        raise KnowledgeError([f"{path}{line}: invalid YAML: {exc.problem}"]) from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError([f"{path}: invalid YAML: {exc}"]) from exc


def _field_line(path: Path, field_path: tuple[Any, ...]) -> str:
    """The ":<line>" suffix of a field in a file already read, for cross-file problems."""
    try:
        line = _line_map(path.read_text(encoding="utf-8")).get(field_path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ""
    return f":{line}" if line else ""


def _seed_problem(seed: str, seeds_dir: Path) -> str | None:
    """Why `seed` cannot be an anecdote's seed file, or None.

    The "full story" button sends this file to any user: it must be a post in seeds/, never
    a path that climbs out of it ("../.env" would send the bot token).
    """
    if Path(seed).name != seed or seed.startswith("."):
        return "must be a plain file name inside the seeds directory"
    if not (seeds_dir / seed).resolve().is_relative_to(seeds_dir.resolve()):
        return "must be a file inside the seeds directory, not a link out of it"
    if not (seeds_dir / seed).is_file():
        return f"seed file '{seed}' does not exist in {seeds_dir}"
    return None


def load_anecdote(path: Path, seeds_dir: Path, raw: bytes | None = None) -> Anecdote:
    """One anecdote file, validated; `raw` is its content when already read."""
    data, text = _read_yaml(path, raw)
    check = _Checker(path, text)
    if not isinstance(data, Mapping):
        check.fail((), "must be a mapping with id, seed, title, story, lessons, triggers, ...")
        raise KnowledgeError(check.problems)
    for key in ("id", "seed", "title", "story", "lessons", "triggers", "tags", "tips"):
        if key not in data:
            check.fail((), f"missing required field '{key}'")
    anecdote_id = check.string(data.get("id"), ("id",)) if "id" in data else ""
    if anecdote_id and not (anecdote_id.isascii() and _ID_CHARS.issuperset(anecdote_id)):
        check.fail(
            ("id",), "use only ASCII letters, digits, '-' and '_' (a-z, 0-9: it goes into buttons)"
        )
    if len(anecdote_id.encode()) > 24:
        check.fail(("id",), "must be at most 24 characters (it goes into button data)")
    seed = check.string(data.get("seed"), ("seed",)) if "seed" in data else ""
    problem = _seed_problem(seed, seeds_dir) if seed else None
    if problem:
        check.fail(("seed",), problem)
    anecdote = Anecdote(
        id=anecdote_id,
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
    if (anecdote.applies_to or anecdote.caution_short) and anecdote.caution is None:
        field_name = "applies_to" if anecdote.applies_to else "caution_short"
        check.fail((field_name,), "belongs to a caution: add 'caution' or remove this field")
    if TODO in text:  # a draft: only then walk the document
        for field_path in _todo_fields(data):
            check.fail(field_path, f"still {TODO} (a draft from new-story)")
    if check.problems:
        raise KnowledgeError(check.problems)
    return anecdote


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


def _quiz_item(check: _Checker, raw: Any, path: tuple[Any, ...], lessons: int) -> QuizItem | None:
    if not isinstance(raw, Mapping):
        check.fail(path, "must be a mapping with question, options, answer, explanation, lesson")
        return None
    fields = ("question", "options", "answer", "explanation", "lesson")
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
    for anecdote in kb.anecdotes:
        for i, subject in enumerate(anecdote.applies_to):
            if subject not in names:
                where = f"{anecdote.source}{_field_line(anecdote.source, ('applies_to', i))}"
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
    data, text = _read_yaml(path, raw)
    check = _Checker(path, text)
    if not isinstance(data, Mapping) or not data:
        check.fail((), "must map text keys to {id: ..., en: ...}")
        raise KnowledgeError(check.problems)
    ui = {str(key): check.text(value, (key,)) for key, value in data.items()}
    if check.problems:
        raise KnowledgeError(check.problems)
    return ui


def load_ui_dir(
    ui_dir: Path, raw: Mapping[Path, bytes] | None = None, cache: _FileCache | None = None
) -> dict[str, Text]:
    """Merge every `ui/*.yaml`; each transport or feature keeps its texts in its own file."""
    problems: list[str] = []
    files = sorted(ui_dir.glob("*.yaml"))
    if not files:
        raise KnowledgeError([f"{ui_dir}: no UI text files (*.yaml) found"])
    merged: dict[str, Text] = {}
    origin: dict[str, Path] = {}
    for path in files:
        try:
            texts = cache.ui(path) if cache is not None else None
            if texts is None:
                texts = load_ui(path, (raw or {}).get(path))
                if cache is not None:
                    cache.remember(path, {key: _text_json(t) for key, t in texts.items()})
        except KnowledgeError as exc:
            problems.extend(exc.problems)
            continue
        for key, text in texts.items():
            if key in merged:
                line = _field_line(path, (key,))
                problems.append(f"{path}{line}: {key}: already defined in {origin[key]}")
                continue
            merged[key] = text
            origin[key] = path
    if problems:
        raise KnowledgeError(problems)
    return merged


def load_knowledge(
    responses_dir: Path, seeds_dir: Path, cache_dir: Path | None = None
) -> KnowledgeBase:
    """Load and validate everything; raise KnowledgeError listing every problem found.

    Parsing thousands of YAML files takes seconds even with libyaml, so a valid file is
    remembered by a hash of its bytes: in `cache_dir` when given (bot/storage/cache.py), so a start
    after editing one story parses that story only, and the whole base in this process
    (`check` loads twice). Seed files live outside the hashes, so they are checked again on
    every load.
    """
    anecdote_dir = responses_dir / ANECDOTES_DIR
    files = sorted(anecdote_dir.glob("*.yaml")) + sorted(anecdote_dir.glob("*.yml"))
    ui_files = sorted((responses_dir / UI_DIR).glob("*.yaml"))
    raw: dict[Path, bytes] = {}
    try:
        for path in (*files, *ui_files):
            with open(path, "rb") as file:
                raw[path] = file.read()
    except OSError:
        raw = {}  # read again below, where the error is reported as it always was
    digest = _kb_digest(seeds_dir, raw) if raw else None
    if digest is not None:
        kb = _remembered_kb(digest, seeds_dir)
        if kb is not None:
            return kb
    cache = _FileCache(cache_dir, raw) if cache_dir is not None and raw else None
    try:
        with paused_gc():
            kb = _load_knowledge(responses_dir, seeds_dir, files, raw, cache)
    finally:
        if cache is not None:
            cache.save()
    if digest is not None:
        _LAST_KB.clear()
        _LAST_KB[digest] = kb
    return kb


def _load_knowledge(
    responses_dir: Path,
    seeds_dir: Path,
    files: list[Path],
    raw: Mapping[Path, bytes],
    cache: _FileCache | None = None,
) -> KnowledgeBase:
    problems: list[str] = []
    anecdote_dir = responses_dir / ANECDOTES_DIR
    if not files:
        problems.append(f"{anecdote_dir}: no anecdote files (*.yaml) found")
    anecdotes: list[Anecdote] = []
    for path in files:
        try:
            found = cache.anecdote(path, seeds_dir) if cache is not None else None
            if found is None:
                found = load_anecdote(path, seeds_dir, raw.get(path))
                if cache is not None:
                    cache.remember(path, _anecdote_json(found))
            anecdotes.append(found)
        except KnowledgeError as exc:
            problems.extend(exc.problems)
    seen: dict[str, Path] = {}
    for anecdote in anecdotes:
        if anecdote.id in seen:
            problems.append(
                f"{anecdote.source}{_field_line(anecdote.source, ('id',))}: id: "
                f"'{anecdote.id}' is already used by {seen[anecdote.id]}"
            )
        seen.setdefault(anecdote.id, anecdote.source)
    ui: dict[str, Text] = {}
    try:
        ui = load_ui_dir(responses_dir / UI_DIR, raw, cache)
    except KnowledgeError as exc:
        problems.extend(exc.problems)
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(anecdotes=tuple(anecdotes), ui=ui, seeds_dir=seeds_dir)


# --- caches ----------------------------------------------------------------------------------
# A valid file is cached as JSON under a hash of this module's source and the file's bytes
# (bot/storage/cache.py): a cache entry is never read for other content or by other code,
# and anything unreadable is ignored and the file parsed again. Only valid files are cached,
# so a problem is always reported from the file itself, with its line.
CACHE_DIR = "cache"  # under the data directory
_LAST_KB: dict[str, KnowledgeBase] = {}  # the last base loaded in this process, by digest


def code_digest(*modules: str) -> bytes:
    """The source of these modules (by file path), part of a cache key: a cache built by
    other code (a new field, a changed weight) must not be read as if built by this one."""
    h = hashlib.blake2b(digest_size=20)
    for module in modules:
        h.update(Path(module).read_bytes())
    return h.digest()


def _kb_digest(seeds_dir: Path, raw: Mapping[Path, bytes]) -> str:
    h = hashlib.blake2b(digest_size=20)
    h.update(code_digest(__file__))
    h.update(f"{seeds_dir}\0{len(raw)}\0".encode())
    for path, content in raw.items():
        h.update(f"{path}\0{len(content)}\0".encode())
        h.update(content)
    return h.hexdigest()


def digest_of(kb: KnowledgeBase) -> str | None:
    """The content hash `kb` was loaded under, if it is the base this process last loaded
    from files (by identity: a base built or changed in memory has none)."""
    for digest, remembered in _LAST_KB.items():
        if remembered is kb:
            return digest
    return None


def _remembered_kb(digest: str, seeds_dir: Path) -> KnowledgeBase | None:
    """The base this process loaded from exactly these files, if its seed files are all there."""
    kb = _LAST_KB.get(digest)
    if kb is None:
        return None
    seeds = {anecdote.seed for anecdote in kb.anecdotes}
    if any(_seed_problem(seed, seeds_dir) for seed in seeds):
        return None  # loaded afresh, to report the problem with its file and line
    return kb


def _text_json(text: Text) -> list[str]:
    return [text.id, text.en]


def _anecdote_json(a: Anecdote) -> dict[str, Any]:
    return {
        "id": a.id,
        "seed": a.seed,
        "title": _text_json(a.title),
        "story": _text_json(a.story),
        "lessons": [_text_json(t) for t in a.lessons],
        "triggers": {lang: list(items) for lang, items in a.triggers.items()},
        "tags": {lang: list(items) for lang, items in a.tags.items()},
        "tips": [_text_json(t) for t in a.tips],
        "caution": None if a.caution is None else _text_json(a.caution),
        "summary": None if a.summary is None else _text_json(a.summary),
        "when": [{lang: list(items) for lang, items in w.items()} for w in a.when],
        "applies_to": list(a.applies_to),
        "caution_short": None if a.caution_short is None else _text_json(a.caution_short),
        "quiz": [
            {
                "question": _text_json(q.question),
                "options": {lang: list(items) for lang, items in q.options.items()},
                "correct": q.correct,
                "explanation": _text_json(q.explanation),
                "lesson": q.lesson,
            }
            for q in a.quiz
        ],
        "situations": [_text_json(t) for t in a.situations],
    }


def _text_of(value: Any) -> Text:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError("not a text")
    return Text(value[0], value[1])


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of texts")
    return tuple(value)


def _anecdote_of(data: Any, path: Path) -> Anecdote:
    """The anecdote `_anecdote_json` wrote; ValueError (or TypeError) for anything else."""
    if not isinstance(data, dict):
        raise ValueError("not an anecdote")
    caution = data["caution"]
    return Anecdote(
        id=str(data["id"]),
        seed=str(data["seed"]),
        title=_text_of(data["title"]),
        story=_text_of(data["story"]),
        lessons=tuple(_text_of(t) for t in data["lessons"]),
        triggers={str(lang): _strings(items) for lang, items in data["triggers"].items()},
        tags={str(lang): _strings(items) for lang, items in data["tags"].items()},
        tips=tuple(_text_of(t) for t in data["tips"]),
        source=path,
        caution=None if caution is None else _text_of(caution),
        summary=None if data["summary"] is None else _text_of(data["summary"]),
        when=tuple({str(lang): _strings(items) for lang, items in w.items()} for w in data["when"]),
        applies_to=_strings(data["applies_to"]),
        caution_short=None if data["caution_short"] is None else _text_of(data["caution_short"]),
        situations=tuple(_text_of(t) for t in data["situations"]),
        quiz=tuple(_quiz_of(q) for q in data["quiz"]),
    )


def _quiz_of(data: Any) -> QuizItem:
    if not isinstance(data, dict):
        raise ValueError("not a quiz item")
    return QuizItem(
        question=_text_of(data["question"]),
        options={str(lang): _strings(items) for lang, items in data["options"].items()},
        correct=int(data["correct"]),
        explanation=_text_of(data["explanation"]),
        lesson=int(data["lesson"]),
    )


class _FileCache:
    """The cached parse of each file of one load, read in one query, written in one."""

    def __init__(self, cache_dir: Path, raw: Mapping[Path, bytes]) -> None:
        self._store = Cache(cache_dir)
        code = code_digest(__file__)
        self._keys: dict[Path, str] = {}
        for path, content in raw.items():
            h = hashlib.blake2b(code, digest_size=20)
            h.update(content)
            self._keys[path] = "file:" + h.hexdigest()
        self._found = self._store.get_many(self._keys.values())
        self._new: dict[str, bytes] = {}
        self._seeds: dict[str, str | None] = {}

    def _value(self, path: Path) -> Any:
        key = self._keys.get(path)
        return loads(self._found.get(key)) if key is not None else None

    def anecdote(self, path: Path, seeds_dir: Path) -> Anecdote | None:
        data = self._value(path)
        if data is None:
            return None
        try:
            anecdote = _anecdote_of(data, path)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        problem = self._seeds.get(anecdote.seed, False)
        if problem is False:  # one check per seed file: thousands of stories share a few
            problem = self._seeds[anecdote.seed] = _seed_problem(anecdote.seed, seeds_dir)
        if problem:
            return None  # parsed again, to report the problem with its line
        return anecdote

    def ui(self, path: Path) -> dict[str, Text] | None:
        data = self._value(path)
        if not isinstance(data, dict):
            return None
        try:
            return {str(key): _text_of(value) for key, value in data.items()}
        except ValueError:
            return None

    def remember(self, path: Path, value: Any) -> None:
        key = self._keys.get(path)
        if key is not None:
            self._new[key] = dumps(value)

    def save(self) -> None:
        if self._new:
            touched = [key for key in self._keys.values() if key in self._found]
            self._store.put_many(self._new, touch=touched)
        self._store.close()
