"""Fitting the order of a story's lessons (`python -m bot calibrate --lessons FILE...`).

Kept apart from `evaluation` (which scores story choice) because it is a job of its own: read
each lesson-labelled question's lesson features, fit the weights, and say how they do on the
questions they were not fitted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.engine.lesson_weights import LessonWeights, fit_weights
from bot.engine.matcher import FIT_ONLY, Matcher
from bot.tools.evaluation import EvalItem


@dataclass(frozen=True)
class LessonCase:
    """A lesson-labelled question told its right story: each of that story's lessons'
    (fit, phrase_rss), in the authors' order, and the lessons the labeller picked."""

    features: tuple[tuple[float, float], ...]
    right: tuple[int, ...]

    def first_right(self, weights: LessonWeights) -> bool:
        """Whether the lesson these weights show first is one the labeller picked."""
        return weights.order(self.features)[0] in self.right


def lesson_cases(matcher: Matcher, items: Iterable[EvalItem]) -> list[LessonCase]:
    """The questions the lesson order is judged on, as `eval` judges it: lesson-labelled
    and told their right story (the lessons belong to the story told)."""
    cases = []
    for item in items:
        if not item.lessons:
            continue
        best = matcher.ask(item.question).best
        if best is None or best.story.seed_prefix not in item.expect:
            continue
        cases.append(LessonCase(matcher.lesson_features(best.story, item.question), item.lessons))
    return cases


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
