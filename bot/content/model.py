"""The knowledge base's types: stories, their texts and quizzes, and the base that holds them.

Plain immutable data, apart from how it is read and checked, so that everything downstream
(matcher, replies, team-lead features) depends on the shape of the content and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

LANGUAGES: tuple[str, ...] = ("id", "en")


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


@dataclass(frozen=True)
class Story:
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
    # language: what the lesson shown first is chosen by (bot/engine/matcher.py `lesson_order`).
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
        return seed_number(self.seed)


@dataclass(frozen=True)
class KnowledgeBase:
    stories: tuple[Story, ...]
    ui: Mapping[str, Text]
    seeds_dir: Path

    def by_id(self, story_id: str) -> Story | None:
        for story in self.stories:
            if story.id == story_id:
                return story
        return None

    def text(self, key: str, lang: str, **values: object) -> str:
        """A UI text in `lang`, with `{placeholders}` filled in."""
        template = self.ui[key].get(lang)
        return template.format(**values) if values else template

    def quizzes(self) -> Iterator[tuple[str, Story, QuizItem]]:
        """Every quiz item with a stable key "<story id>:q<index>", the unit of practice."""
        for story in self.stories:
            for index, item in enumerate(story.quiz):
                yield f"{story.id}:q{index}", story, item

    def quiz_item(self, key: str) -> tuple[Story, QuizItem] | None:
        """The story and item behind a quiz key; None when the item is gone (edited away)."""
        story_id, _, index = key.rpartition(":q")
        story = self.by_id(story_id)
        if story is None or not index.isdigit() or int(index) >= len(story.quiz):
            return None
        return story, story.quiz[int(index)]

    def tips(self) -> Iterator[tuple[str, Text]]:
        """Every tip with a stable key "<story id>:<index>", the unit of the tip deck."""
        for story in self.stories:
            for index, tip in enumerate(story.tips):
                yield f"{story.id}:{index}", tip


def seed_number(seed_name: str) -> str:
    """A seed file's number ("000" of "000_14f30f37fa898fbe.txt"): the label the evaluation
    files name its story by."""
    return seed_name.split("_", 1)[0]
