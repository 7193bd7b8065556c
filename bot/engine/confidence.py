"""From the matcher's evidence to a confidence that means the same at 5 words and at 80.

The lexical scorer (bot/engine/scoring.py) measures how much of a question a story explains. That
share falls as a message grows: a salesperson's five-sentence situation carries names, places
and feelings no story mentions, so a right story explains 25% of it where it explains 70% of a
one-line question, and a single threshold on that share either refuses long messages or
accepts off-topic short ones. Instead of a threshold per length, the evidence is turned into a
probability that the story is the right one, by a logistic model over a few named features
fitted on labelled questions (`python -m bot calibrate FILE...`). A calibrated 0.6 is "right
six times in ten" whatever the length, so one threshold serves every kind of message.

The model is deliberately small (a dozen weights): it learns how to read the evidence, not the
answers to particular sentences, and it is checked on a set it was never fitted on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from bot.engine.logistic import fit_logistic, sigmoid

# Where a message breaks into parts: sentence ends, line breaks, commas, and the connectives
# that join a situation's clauses ("..., padahal saya lagi sibuk", "... but he refused").
_SENTENCES = re.compile(r"(?<=[.?!;:])\s+|\n+")
_CLAUSES = re.compile(
    r",\s*|\s+(?:tapi|tp|tpi|padahal|pdhl|namun|sedangkan|sementara|karena|krn|soalnya"
    r"|but|although|though|while|whereas|because|since)\s+",
    re.IGNORECASE,
)
# A message typed by voice has no punctuation: its sentences are joined by the words people
# say between them ("jadi gini", "terus", "nah", "and then"). A long unpunctuated stretch is
# split there too, so it is judged by its parts as a punctuated message is. Only long
# stretches: in a short clause "terus" means "keeps on" ("maksa terus").
_SPOKEN = re.compile(
    r"\s+(?:jadi\s+gini|jadi\s+begini|gini\s+loh|terus|trus|trs|nah|eh|abis\s+itu|habis\s+itu"
    r"|setelah\s+itu|kemudian|makanya|and\s+then|so\s+now|so\s+then|anyway)\s+",
    re.IGNORECASE,
)
SPOKEN_MIN_WORDS = 12  # words a stretch needs before its spoken joints split it
# A message of a few keywords ("utusan khusus", "client ultimatum") tells little situation to
# read concepts from: the model is fitted on longer messages, and a brief one gets the better
# of the words alone (`WORDS_ONLY`) and the model (bot/engine/scoring.py `_score`).
BRIEF_WORDS = 3
CHUNK_MAX_WORDS = 16  # longer than a punctuated message's clauses: median 7 words, 90% <= 13
CHUNK_WORDS = 10
MAX_PARTS = 12  # a pasted essay: judge its first dozen parts, bound the work per message


def parts(text: str) -> list[str]:
    """The clauses of a message, in order; one part for a one-clause question."""
    found: list[str] = []
    for sentence in _SENTENCES.split(text):
        for clause in _CLAUSES.split(sentence):
            if not clause or not clause.strip():
                continue
            if len(clause.split()) >= SPOKEN_MIN_WORDS:
                for piece in _SPOKEN.split(clause):
                    if piece and piece.strip():
                        found.extend(_chunks(piece.split()))
            else:
                found.append(clause.strip())
    return found[:MAX_PARTS]


def _chunks(words: list[str]) -> list[str]:
    """A stretch longer than any clause a punctuated message has, cut into near-equal runs
    of about a clause's length: run-on text with no joint to split at is still read part
    by part."""
    if len(words) <= CHUNK_MAX_WORDS:
        return [" ".join(words)]
    count = math.ceil(len(words) / CHUNK_WORDS)
    size = math.ceil(len(words) / count)
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


class CalibrationError(ValueError):
    """The calibration file is malformed; the message names the file."""


@dataclass(frozen=True)
class Evidence:
    """What the lexical scorer found for one story, the model's input."""

    lexical: float  # the scorer's own 0-1 blend of coverage and phrasing, with its dampings
    coverage: float  # share of the question's weight the story's vocabulary explains
    phrasing: float  # how well its best single phrasing says what the question says
    evidence: float  # matched word weight (absolute: long messages bring more of it)
    words: int  # content words in the question (the length the shares are diluted by)
    best_part: float  # the best clause's lexical score (a long message judged by its parts)
    parts_agree: float  # noisy-OR of the clauses' scores: several clauses pointing one way
    customer: bool = True  # names someone the stories serve (a customer, an official)
    # Concept-level evidence (bot/engine/situations.py): the story's best-fitting situation,
    # the share of the message's concepts its situations name, and the share no story names.
    situation: float = 0.0
    concept_share: float = 0.0
    uncovered: float = 0.0
    named: bool = False  # the message names any concept at all (else the three above say nothing)
    concept_coverage: float = 0.0  # coverage, a word the story lacks counted by its concepts
    # How much the message's words sound like a question Kisah is asked (bot/engine/scope.py),
    # and how far this story's lexical score leads the best other candidate's (negative when
    # it trails): the evidence of one story read against the message and against its rivals.
    scope: float = 0.0
    lead: float = 0.0
    # How far the words labelled messages used about this story (bot/engine/story_words.py)
    # point to it over the best other candidate (negative when it trails).
    words_lead: float = 0.0
    # The largest share of one of the story's situations the message tells: a message naming
    # only its roles ("a customer wants a meeting tomorrow") tells little of any, one telling
    # its events too (refused, threatened, angry) most of one.
    situation_told: float = 0.0

    def features(self) -> tuple[float, ...]:
        return (
            self.lexical,
            self.coverage,
            self.phrasing,
            math.log1p(self.evidence),
            math.log1p(self.words),
            self.best_part,
            self.parts_agree,
            1.0 if self.customer else 0.0,
            self.situation,
            self.concept_share,
            self.uncovered,
            1.0 if self.named else 0.0,
            self.concept_coverage,
            self.scope,
            self.lead,
            # A lead means more in a message that sounds like a question Kisah is asked: read
            # together, not each alone (a linear model adds). A story that trails is pushed
            # down by an in-scope sound, never lifted by an out-of-scope one.
            self.scope * self.lead if self.lead >= 0 else max(self.scope, 0.0) * self.lead,
            # The story words were fitted on in-scope messages only: they say which story a
            # message is about if it is about one, not whether it is, so their lead counts as
            # far as the message sounds like a question Kisah is asked.
            self.words_lead * max(self.scope, 0.0),
            self.situation_told,
        )


FEATURES = (
    "lexical",
    "coverage",
    "phrasing",
    "log_evidence",
    "log_words",
    "best_part",
    "parts_agree",
    "customer",
    "situation",
    "concept_share",
    "uncovered",
    "named",
    "concept_coverage",
    "scope",
    "lead",
    "scope_lead",
    "scope_words_lead",
    "situation_told",
)


@dataclass(frozen=True)
class Calibration:
    """Weights of the logistic model, one per feature, plus the bias.

    Defaults are the fit on `eval/dev-questions.yaml` + `eval/dev-questions-2.yaml` with the
    current stories; a knowledge base may carry its own `calibration.yaml` (see `load`).
    """

    lexical: float = 1.33
    coverage: float = 1.69
    phrasing: float = 1.99
    log_evidence: float = 3.95
    log_words: float = -1.77
    best_part: float = 2.67
    parts_agree: float = 2.54
    customer: float = 0.24
    situation: float = 0.0
    concept_share: float = 0.0
    uncovered: float = 0.0
    named: float = 0.0
    concept_coverage: float = 0.0
    scope: float = 0.0
    lead: float = 0.0
    scope_lead: float = 0.0
    scope_words_lead: float = 0.0
    situation_told: float = 0.0
    bias: float = -7.27

    def probability(self, evidence: Evidence) -> float:
        weights = (getattr(self, name) for name in FEATURES)
        z = self.bias + sum(w * x for w, x in zip(weights, evidence.features(), strict=True))
        return sigmoid(z)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """The weights in `path` (a YAML mapping of feature names), defaults if absent."""
        if not path.is_file():
            return cls()
        known = {f.name for f in fields(cls)}
        problem = (
            f"{path}: must map {', '.join(sorted(known))} to numbers (python -m bot calibrate)"
        )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise CalibrationError(f"{path}: cannot read: {exc}") from exc
        if not isinstance(data, dict) or not set(data) <= known:
            raise CalibrationError(problem)
        try:
            weights = {k: float(v) for k, v in data.items()}
        except (TypeError, ValueError) as exc:
            raise CalibrationError(problem) from exc
        for name, value in weights.items():
            if not math.isfinite(value):  # .nan or .inf: every score becomes nonsense
                line = _line_of(path, name)
                raise CalibrationError(
                    f"{path}{line}: {name}: must be a finite number, not {data[name]}"
                )
        return cls(**weights)

    def to_yaml(self) -> str:
        return "".join(f"{f.name}: {getattr(self, f.name):.4f}\n" for f in fields(self))


# The model of the words alone (the defaults: fitted on the first two development sets before
# stories stated situations). A story without `situations` (a base written before them, a new
# story not yet given any) is judged by it: the concept inputs of the base's own model would
# read its missing situations as a poor fit and refuse what its words answer.
WORDS_ONLY = Calibration()


def _line_of(path: Path, key: str) -> str:
    """ ":<line>" of a top-level key in a YAML file already parsed, for a problem report."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ""
    for key_node, _ in getattr(node, "value", ()):
        if getattr(key_node, "value", None) == key:
            return f":{key_node.start_mark.line + 1}"
    return ""


def noisy_or(scores: Iterable[float]) -> float:
    """Chance that at least one clause is right, were each right with its own score."""
    miss = 1.0
    for score in scores:
        miss *= 1.0 - max(0.0, min(1.0, score))
    return 1.0 - miss


def fit(samples: Sequence[tuple[Evidence, bool]], l2: float = 1.0) -> Calibration:
    """The confidence model fitted on (question, candidate story) pairs, True when that story
    is a right answer (bot/engine/logistic.py: the fitting the lesson weights share)."""
    w = fit_logistic(
        [ev.features() for ev, _ in samples],
        [ok for _, ok in samples],
        l2,
        no_positive="no candidate story is right for any question",
        no_negative="no candidate story is wrong for any question",
    )
    values: dict[str, Any] = dict(zip(FEATURES, w[:-1], strict=True))
    return Calibration(**values, bias=w[-1])
