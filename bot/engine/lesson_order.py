"""The order a story's lessons are shown in for a question: the one that answers it first.

Why apart from the matcher: choosing the story and choosing its lesson are two decisions with
two models. Each lesson is read as a small story of its own: its `when` list (the dilemmas it
helps with) and its practice questions (`quiz`: a situation told at length, in which this
lesson is the right move) as phrasings and its text as the title, scored by a matcher over the
story's lessons only (`lessons_as_stories`), with the story matcher's own lexical machinery
(normalisation, typos, word weights, coverage and phrasing), so a word all its lessons share
weighs little. The whole message is scored, not its best clause: adding half the best
clause's fit (the way a long message's story is judged) chose worse on the development lesson
set (0.90 against 0.93, docs/matching.md). The fit, the root-sum-square of the phrasings' fits
and the lesson words' score (the words labelled messages used about each lesson:
bot/engine/lesson_words.py) are weighed by the lesson weights (bot/engine/lesson_weights.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.content.model import LANGUAGES, KnowledgeBase, Story, Text

if TYPE_CHECKING:
    from bot.engine.lesson_weights import LessonWeights
    from bot.engine.lesson_words import LessonWords
    from bot.engine.scoring import LexicalScoring, Question

Features = tuple[tuple[float, float, float], ...]  # (fit, phrase_rss, words) per lesson


def lessons_as_stories(story: Story, seeds_dir: Path) -> KnowledgeBase:
    """A knowledge base whose "stories" are this story's lessons, in the authors' order."""
    pseudo = []
    for number, lesson in enumerate(story.lessons):
        when = story.when[number] if number < len(story.when) else {}
        pseudo.append(
            replace(
                story,
                id=f"{story.id}.{number}",
                title=lesson,
                story=Text("", ""),
                lessons=(),
                triggers={
                    lang: tuple(when.get(lang, ()))
                    + tuple(q.question.get(lang) for q in story.quiz if q.lesson == number)
                    for lang in LANGUAGES
                },
                tags={lang: () for lang in LANGUAGES},
                tips=(),
                when=(),
                situations=(),
            )
        )
    return KnowledgeBase(stories=tuple(pseudo), ui={}, seeds_dir=seeds_dir)


class LessonOrder:
    """Orders each story's lessons for a question; a story's lesson matcher is built by
    `build` the first time one of its answers is ordered, then kept."""

    def __init__(
        self,
        weights: LessonWeights,
        words: LessonWords,
        build: Callable[[KnowledgeBase], LexicalScoring],
        seeds_dir: Path,
    ) -> None:
        self.weights = weights
        self.words = words
        self._build = build
        self._seeds_dir = seeds_dir
        self._matchers: dict[str, LexicalScoring] = {}  # story id -> its lessons' matcher

    def order(self, story: Story, question: str, read: Question | None) -> tuple[int, ...]:
        """The story's lessons, best fit for the question first; a tie keeps the authors'
        order (the first lesson is the story's main one). `read`: the question as the story
        matcher read it (its words are not read again for each story)."""
        total = len(story.lessons)
        if total < 2:
            return tuple(range(total))
        rss = self.weights.phrase_rss != 0.0  # weighed 0: not computed
        return self.weights.order(self.features(story, question, read, rss=rss))

    def features(
        self, story: Story, question: str, read: Question | None, *, rss: bool = True
    ) -> Features:
        """(fit, phrase_rss, words) per lesson, in the authors' order: what the weights read.
        A lesson none of whose phrasings' words the message uses has fit and phrase_rss 0, and
        phrase_rss is 0 unless `rss`. `words`: the lesson words' score of `read`'s words."""
        lessons = self._matchers.get(story.id)
        if lessons is None:
            lessons = self._build(lessons_as_stories(story, self._seeds_dir))
            self._matchers[story.id] = lessons
        found = lessons.fits(question, read, phrase_rss=rss)
        total = len(story.lessons)
        words = self.words.scores(story.id, total, read.words if read else ())
        return tuple((*found.get(n, (0.0, 0.0)), words[n]) for n in range(total))
