"""The matcher's tuning constants, in one typed object with the calibrated defaults.

Kept apart from the matcher so an experiment (`bot eval`, `bot calibrate`) can read and vary
them without the index and scoring code, and so the index, the scoring and the facade all read
the same object.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoringParams:
    """Every tuning constant of the matcher, in one typed object.

    Why one object: the constants interact (the threshold is read against the calibration, the
    dampings against the threshold), so an experiment varies one with `dataclasses.replace`
    and measures the whole with `bot.tools.evaluation.evaluate(Matcher(kb, params=...), items)`,
    instead of editing module constants. The defaults are the calibrated ones.
    """

    # The confidence is a calibrated probability (bot/engine/confidence.py) in percent. At or above
    # the threshold the story is told; from `maybe_threshold` it is only offered ("maybe this
    # story fits"); below, the honest "no story". Chosen with `python -m bot eval`'s trade-off
    # table, with a margin; the rule and its history are in docs/matching.md.
    threshold: int = 40
    maybe_threshold: int = 30
    no_work_margin: int = 15  # extra confidence a message naming nothing of work needs
    # A message that says nearly what one of a story's own phrasings says (its lexical score at
    # least this, ahead of every other story) is as sure as that score: an author wrote the
    # phrasing, and the inputs learned from labelled messages (concepts, scope and story words)
    # must not overrule it. Changes nothing on the labelled sets (docs/matching.md).
    author_phrasing: float = 0.8
    # How much lessons and the story vouch for a word belonging to the story (titles, triggers
    # and tags: 1). Lessons are general advice shared across stories, so they count less.
    lesson_field_weight: float = 0.6
    story_field_weight: float = 0.6
    coverage_weight: float = 0.55  # lexical score = coverage and phrasing, blended
    phrasing_weight: float = 0.45
    string_share: float = 0.25  # share of the phrasing score taken from token_sort_ratio
    recall_beta2: float = 4.0  # F-beta, beta=2: covering the question beats the trigger's
    evidence_mass: float = 2.5  # matched word weight needed for full confidence
    evidence_power: float = 0.5  # how steeply thin evidence lowers the confidence
    assoc_power: float = 0.5  # how fast a word's pull on a story fades with its frequency
    topical_share: float = 0.08  # share of a story's fields a word must be in to be topical
    topical_count: float = 8.0  # ...or this many occurrences (more triggers must not dilute)
    common_weight: float = 0.5  # an everyday word no story uses ("worth", "biasanya")
    common_known_cap: float = 1.0  # ceiling on an everyday word's weight where a story uses it
    unknown_df: float = 0.5  # a word no story uses weighs like one found in half a story
    # ...unless, in an Indonesian message, it is no Indonesian word either (not in the
    # dictionary): a name, a place, a brand, an English word. That is the situation's setting
    # ("Pak Hartono", "Purwokerto", "owner"), not its subject, and weighs this much of it.
    foreign_unknown_factor: float = 0.5
    question_prior: float = 0.5  # unexplained weight added to every question (smoothing)
    single_word_min: float = 1.7  # one matched word stands alone only if this specific...
    single_word_factor: float = 0.7  # ...else the lexical score is damped ("help", "sales")
    # A question naming nothing of the working world (`work` in normalize.yaml) is damped:
    # "hotel murah di yogya" shares a phrase with a story but not its situation.
    no_work_factor: float = 0.8
    string_checks: int = 3  # best phrasings per story refined with token_sort_ratio
    candidates: int = 12  # stories (by coverage) whose phrasings are scored in detail
    # A question this close (weighted F1 of words, bot/engine/taught.py) to a phrasing a team lead
    # taught gets that story with the F1 as its confidence, if higher than its own. High: two
    # rare words shared with a taught situation ("ikan koi") are not the same question.
    taught_min: float = 0.75

    def field_weight(self, kind: str) -> float:
        if kind == "lesson":
            return self.lesson_field_weight
        if kind == "story":
            return self.story_field_weight
        return 1.0


DEFAULT_PARAMS = ScoringParams()
DEFAULT_THRESHOLD = DEFAULT_PARAMS.threshold
