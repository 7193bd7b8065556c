"""Fitting the order of a story's lessons (`python -m bot calibrate --lessons FILE...`).

Kept apart from `evaluation` (which scores story choice) because it is a job of its own: read
each lesson-labelled question's lesson features, fit the weights, and say how they do on the
questions they were not fitted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.content.model import KnowledgeBase, Story
from bot.engine.lesson_weights import LessonWeights, fit_weights
from bot.engine.lesson_words import LabelledMessage, LessonWords, fit_lesson_words
from bot.engine.matcher import FIT_ONLY, Matcher
from bot.tools.calibration import fold_groups
from bot.tools.evaluation import EvalItem


@dataclass(frozen=True)
class LessonCase:
    """A lesson-labelled question told its right story: each of that story's lessons'
    features (`lesson_weights.FEATURES`), in the authors' order, and the lessons the
    labeller picked."""

    features: tuple[tuple[float, ...], ...]
    right: tuple[int, ...]

    def first_right(self, weights: LessonWeights) -> bool:
        """Whether the lesson these weights show first is one the labeller picked."""
        return weights.order(self.features)[0] in self.right


def _told_right(matcher: Matcher, items: Iterable[EvalItem]) -> Iterator[tuple[EvalItem, Story]]:
    """The questions the lesson order is judged on, as `eval` judges it: lesson-labelled
    and told their right story (the lessons belong to the story told), with that story."""
    for item in items:
        if not item.lessons:
            continue
        best = matcher.ask(item.question).best
        if best is not None and best.story.seed_prefix in item.expect:
            yield item, best.story


def lesson_cases(matcher: Matcher, items: Iterable[EvalItem]) -> list[LessonCase]:
    """Each question the lesson order is judged on, with its lessons' features."""
    return [
        LessonCase(matcher.lesson_features(story, item.question), item.lessons)
        for item, story in _told_right(matcher, items)
    ]


def cross_fitted_cases(
    kb: KnowledgeBase, groups: Sequence[Sequence[EvalItem]], cache_dir: Path | None = None
) -> tuple[list[LessonCase], list[LabelledMessage]]:
    """The cases the lesson weights are fitted on, and the labelled messages the lesson words
    (bot/engine/lesson_words.py) are fitted on, from labelled questions given as groups (one
    per file). Each group's cases read their `words` from the lesson words fitted on the
    other groups, as the scope words are read in `calibration.calibrate`: read by words fitted
    on the very messages, they would look certain (one group: `fold_groups`)."""
    groups = fold_groups(groups)
    # The features do not depend on the weights: read them with the fit alone, so a stale or
    # broken weights file never stops its own replacement.
    reader = Matcher(kb, cache_dir=cache_dir, lesson_weights=FIT_ONLY, lesson_words=LessonWords())
    labelled = [_labelled(reader, group) for group in groups]
    cases: list[LessonCase] = []
    for n, group in enumerate(groups):
        others = [m for k, found in enumerate(labelled) if k != n for m in found]
        matcher = Matcher(
            kb,
            cache_dir=cache_dir,
            lesson_weights=FIT_ONLY,
            lesson_words=fit_lesson_words(others),
        )
        cases.extend(lesson_cases(matcher, group))
    return cases, [m for found in labelled for m in found]


def _labelled(matcher: Matcher, items: Iterable[EvalItem]) -> list[LabelledMessage]:
    """The same questions as the lesson words learn them: the story, its number of lessons,
    the message's content words and the lessons picked."""
    return [
        LabelledMessage(
            story.id,
            len(story.lessons),
            frozenset(matcher.content_words(item.question)),
            item.lessons,
        )
        for item, story in _told_right(matcher, items)
    ]


def fit_lessons(cases: Iterable[LessonCase]) -> LessonWeights:
    """The lesson weights fitted on every lesson of each case (right: the labeller picked
    it); a story with one lesson has nothing to order and teaches nothing."""
    return fit_weights(
        [
            (features, number in case.right)
            for case in cases
            if len(case.features) > 1
            for number, features in enumerate(case.features)
        ]
    )


@dataclass(frozen=True)
class LessonFold:
    """One part of the lesson cross-validation: its cases, and how many show a right
    lesson first with the fit alone and with the weights fitted on the other parts."""

    n: int
    fit_alone: int
    fitted: int


def cross_validate_lessons(cases: Sequence[LessonCase], folds: int) -> list[LessonFold]:
    """Each `folds`-th part of the cases (every `folds`-th case) scored with the weights
    fitted on the others: what the weights would do on questions they were not fitted on."""
    result = []
    for fold in range(folds):
        train = [case for i, case in enumerate(cases) if i % folds != fold]
        test = [case for i, case in enumerate(cases) if i % folds == fold]
        weights = fit_lessons(train)
        result.append(
            LessonFold(
                len(test),
                sum(case.first_right(FIT_ONLY) for case in test),
                sum(case.first_right(weights) for case in test),
            )
        )
    return result
