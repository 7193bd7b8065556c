"""Which of a story's lessons is shown first: a small logistic model over two readings of
how well a lesson fits the message.

Why a model rather than the lexical fit alone: the fit (`Scored.lexical` of the lesson read as a
small story) rests on the lesson's single best phrasing; a lesson several of whose `when:`
items and practice questions each say part of the message is a better fit than one whose one
phrasing happens to share a word. `phrase_rss`, the root-sum-square of the phrasings' fits,
reads that. `words`, the lesson words' score of the message (bot/engine/lesson_words.py),
reads what labelled messages say about the dilemma in words no phrasing foresees. The weights
are content (`responses/lesson_weights.yaml`), fitted on lesson-labelled
questions by `python -m bot calibrate --lessons FILE...`; without the file the fit alone orders
the lessons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from bot.engine.logistic import fit_logistic

FILE = "lesson_weights.yaml"  # beside calibration.yaml
FEATURES = ("fit", "phrase_rss", "words")
OPTIONAL = ("words",)  # a file fitted before the lesson words were read


class LessonWeightsError(ValueError):
    """The lesson weights file is malformed; each line of the message names file:line."""


@dataclass(frozen=True)
class LessonWeights:
    """One weight per feature, plus the bias (which orders nothing: it is the fit's own)."""

    fit: float
    phrase_rss: float
    words: float = 0.0
    bias: float = 0.0

    def score(self, features: Sequence[float]) -> float:
        """The model's log-odds that the lesson answers the message (higher: shown first),
        from its features in `FEATURES` order."""
        fit, phrase_rss, words = features
        return self.bias + self.fit * fit + self.phrase_rss * phrase_rss + self.words * words

    def order(self, features: Sequence[Sequence[float]]) -> tuple[int, ...]:
        """Lesson indices, best first, from each lesson's features in the authors' order; a
        tie (to six places, as the fit was compared before) keeps that order, the first
        lesson being the story's main one."""
        scores = [round(self.score(f), 6) for f in features]
        return tuple(sorted(range(len(scores)), key=lambda n: (-scores[n], n)))

    @classmethod
    def load(cls, path: Path) -> LessonWeights | None:
        """The weights in `path` (a YAML mapping of the feature names and `bias` to numbers);
        None when there is no such file."""
        if not path.is_file():
            return None
        try:
            text = path.read_text(encoding="utf-8")
            node = yaml.compose(text)
            data = yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise LessonWeightsError(f"{path}: cannot read: {exc}") from exc
        lines = {
            str(getattr(key, "value", "")): key.start_mark.line + 1
            for key, _ in (node.value if isinstance(node, yaml.MappingNode) else ())
        }
        if not isinstance(data, dict):
            raise LessonWeightsError(
                f"{path}:1: must map {', '.join(_names())} to numbers "
                "(python -m bot calibrate --lessons)"
            )
        problems = []
        for key, value in data.items():
            where = f"{path}:{lines.get(str(key), 1)}"
            if key not in _names():
                problems.append(f"{where}: {key}: unknown weight (known: {', '.join(_names())})")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{where}: {key}: must be a number, not {value!r}")
            elif not math.isfinite(value):
                problems.append(f"{where}: {key}: must be a finite number, not {value}")
        problems += [
            f"{path}:1: {name}: missing"
            for name in FEATURES
            if name not in data and name not in OPTIONAL and not problems
        ]
        if problems:
            raise LessonWeightsError("\n".join(problems))
        return cls(**{k: float(v) for k, v in data.items()})

    def to_yaml(self) -> str:
        return "".join(f"{f.name}: {getattr(self, f.name):.4f}\n" for f in fields(self))


def _names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(LessonWeights))


def fit_weights(samples: Sequence[tuple[Sequence[float], bool]]) -> LessonWeights:
    """The weights fitted on (a lesson's features for a message, in `FEATURES` order,
    whether the labeller picked that lesson) pairs."""
    w = fit_logistic(
        [features for features, _ in samples],
        [right for _, right in samples],
        no_positive="no lesson is right for any question",
        no_negative="no lesson is wrong for any question (one lesson per story?)",
    )
    return LessonWeights(**dict(zip(FEATURES, w[:-1], strict=True)), bias=w[-1])
