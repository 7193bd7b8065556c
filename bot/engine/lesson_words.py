"""Which words of a message point to which of a story's lessons, learned from labelled messages.

Why beside the lessons' own `when:` items: a salesperson states the dilemma in words of the
situation ("she was polite but cold", "he still wants to work with us?") that no `when:` item
foresees, while the backstory of a long message shares words with another lesson's
situation. Messages a trainer labelled with the lesson that answers them say which words go
with which lesson. Per story and lesson, each word weighs the log-odds that a message about
the story using it is labelled with that lesson rather than another of the story's (naive
Bayes over word presence, as the scope words: bot/engine/scope.py), and the lesson model
(bot/engine/lesson_weights.py) reads the message's sum as its `words` input.

Content (`responses/lesson_words.yaml`, by story id and lesson number), fitted with the lesson
weights by `python -m bot calibrate --lessons FILE...`; without the file every lesson scores 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.engine.scope import log_odds, mean_weight, read_weights, read_yaml

FILE = "lesson_words.yaml"  # beside lesson_weights.yaml


class LessonWordsError(ValueError):
    """The lesson words file is malformed; each line of the message names file:line."""


@dataclass(frozen=True)
class LabelledMessage:
    """A labelled message about a story: its folded content words, and the lessons (by
    number, of `lessons`) the labeller picked."""

    story_id: str
    lessons: int
    words: frozenset[str]
    right: tuple[int, ...]


@dataclass(frozen=True)
class LessonWords:
    """Per story id, per lesson number, the words' log-odds for that lesson."""

    weights: Mapping[str, Mapping[int, Mapping[str, float]]] = field(default_factory=dict)

    def scores(self, story_id: str, lessons: int, words: Iterable[str]) -> tuple[float, ...]:
        """Each of the story's `lessons` lessons' score for the message's words."""
        known = self.weights.get(story_id, {})
        distinct = set(words)
        return tuple(mean_weight(known.get(n, {}), distinct) for n in range(lessons))

    def to_yaml(self) -> str:
        data = {
            story: {n: {w: round(v, 3) for w, v in words.items()} for n, words in by.items()}
            for story, by in self.weights.items()
        }
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=True, width=100)

    @classmethod
    def load(cls, path: Path, lessons: Mapping[str, int] | None = None) -> LessonWords:
        """The weights in `path` (story id -> lesson number -> word -> number); none if the
        file is absent. `lessons`: each story's number of lessons; a story the base lacks, or
        a lesson past a story's last, is left out (a base given with `--responses` and no
        tables of its own reads the project's files, whose stories are not its own)."""
        text, data = read_yaml(path, LessonWordsError)
        if data is None:
            return cls()
        problems: list[str] = []
        weights: dict[str, dict[int, dict[str, float]]] = {}
        if not isinstance(data, dict):
            raise LessonWordsError(f"{path}:1: must map story ids to lessons to words to numbers")
        for story, by_lesson in data.items():
            where = Where(path, text, story)
            if not isinstance(by_lesson, dict):
                problems.append(f"{where}: must map lesson numbers to words")
                continue
            weights[str(story)] = {}
            for number, words in by_lesson.items():
                if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                    problems.append(f"{where}: {number}: not a lesson number")
                    continue
                if not isinstance(words, dict):
                    problems.append(f"{where}: {number}: must map words to numbers")
                    continue
                # `where` finds its line only when a problem is written
                found, bad = read_weights(
                    words, lambda word, at=where, n=number: f"{at}: {n}: {word}"
                )
                problems += bad
                weights[str(story)][number] = found
        if problems:
            raise LessonWordsError("\n".join(problems[:10]))
        if lessons is not None:
            weights = {
                story: {n: w for n, w in by.items() if n < lessons[story]}
                for story, by in weights.items()
                if story in lessons
            }
        return cls(weights)


@dataclass(frozen=True)
class Where:
    """ "file:line: story" of a problem, the line found only when a problem is reported: the
    file is parsed again for its lines, which takes far longer than reading it."""

    path: Path
    text: str
    story: object

    def __str__(self) -> str:
        line = 1
        for key_node, _ in getattr(yaml.compose(self.text), "value", ()):
            if getattr(key_node, "value", None) == str(self.story):
                line = int(key_node.start_mark.line) + 1
                break
        return f"{self.path}:{line}: {self.story}"


def fit_lesson_words(cases: Sequence[LabelledMessage]) -> LessonWords:
    """Per story and lesson, the words' log-odds of a message about the story labelled with
    that lesson against one labelled with another of its lessons."""
    weights: dict[str, dict[int, dict[str, float]]] = {}
    for story in sorted({case.story_id for case in cases}):
        about = [case for case in cases if case.story_id == story]
        lessons = max(case.lessons for case in about)
        weights[story] = {
            n: log_odds((case.words, n in case.right) for case in about) for n in range(lessons)
        }
    return LessonWords(weights)
