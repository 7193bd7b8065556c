"""Fitting the confidence model on labelled questions, and the threshold rule read against it.

Why apart from `evaluation`: that module asks the questions and reports what a user would have
seen; this one fits what the matcher reads (`python -m bot calibrate`): the confidence model
and its word models, cross-fitted by file, the rule that says which threshold the fit allows,
and the cross-validation that reports the fit's figure on questions it was not fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.content.model import LANGUAGES, KnowledgeBase
from bot.engine.confidence import BRIEF_WORDS, Calibration, fit
from bot.engine.matcher import Matcher
from bot.engine.scope import ScopeWords, fit_scope
from bot.engine.story_words import StoryWords, fit_story_words
from bot.tools.evaluation import (
    EvalItem,
    EvalResult,
    ItemResult,
    evaluate,
    share_of,
    shown_at,
    threshold_sweep,
)

CALIBRATION_CANDIDATES = 3  # leading stories per question the confidence model learns from


def calibrate(
    kb: KnowledgeBase,
    groups: Sequence[Sequence[EvalItem]],
    leading: int = CALIBRATION_CANDIDATES,
) -> tuple[Calibration, ScopeWords, StoryWords]:
    """Fit the confidence model (bot/engine/confidence.py) and the word models it reads, the
    scope words (bot/engine/scope.py) and the story words (bot/engine/story_words.py), on
    labelled questions, given as groups (one per file).

    Each of a question's `leading` candidate stories (by lexical score) is one sample, right
    or not; out-of-scope questions teach what evidence an off-topic message can still collect.
    Only the leading ones: the confidence decides whether the best story is told, so the model
    must tell the right story from its close rivals and from off-topic evidence. The stories
    far behind are easy negatives; counted too, they outnumber the hard cases and the fit
    spends its weights on separating them.

    The word models are fitted on every group; each group's samples read them as fitted on
    the other groups (a group is a writer's set: its words are new to the models as a new
    message's are). Read by words fitted on the very messages, they would look certain and
    the model would lean on them (one group: `fold_groups`).
    """
    groups = fold_groups(groups)
    reader = Matcher(
        kb, calibration=Calibration(), scope_words=ScopeWords(), story_words=StoryWords()
    )

    def about(item: EvalItem) -> frozenset[str]:  # a label names a seed: its stories' ids
        return frozenset(story.id for story in kb.stories if story.seed_prefix in item.expect)

    read = [
        [(reader.content_words(i.question), about(i), _language(reader, i)) for i in group]
        for group in groups
    ]

    def fitted(left_out: int | None) -> tuple[ScopeWords, StoryWords]:
        kept = [one for n, group in enumerate(read) if n != left_out for one in group]
        scope = fit_scope((message, bool(stories), lang) for message, stories, lang in kept)
        pairs = [(message, stories) for message, stories, _ in kept]
        return scope, fit_story_words(pairs, (story.id for story in kb.stories))

    samples = []
    for n, group in enumerate(groups):
        scope, stories = fitted(n)
        matcher = Matcher(kb, calibration=Calibration(), scope_words=scope, story_words=stories)
        for item in group:
            found = sorted(matcher.evidence(item.question), key=lambda pair: -pair[1].lexical)
            for story, evidence in found[:leading]:
                if evidence.words <= BRIEF_WORDS:  # fitted on situations told (`_score`)
                    continue
                samples.append((evidence, story.seed_prefix in item.expect))
    return fit(samples), *fitted(None)


SCOPE_FOLDS = 5  # the parts one file of labelled questions is cut into (see `fold_groups`)


def fold_groups(groups: Sequence[Sequence[EvalItem]]) -> Sequence[Sequence[EvalItem]]:
    """The groups a word model is cross-fitted over: the files as given, or one file cut
    into `SCOPE_FOLDS` parts (every fifth question), so that no question's words are read by
    a model fitted on them."""
    if len(groups) >= 2:
        return groups
    items = [item for group in groups for item in group]
    return [items[n::SCOPE_FOLDS] for n in range(SCOPE_FOLDS)]


RULE_REJECTION = 0.98  # the threshold rule: every set refuses this share of out-of-scope...
RULE_MARGIN = 2  # ...at the best top-1 threshold, plus this margin (see README "Quality")


def rule_threshold(results: Sequence[EvalResult]) -> int:
    """The threshold the rule picks on these evaluations: the best pooled top-1 among those
    at which every set still refuses `RULE_REJECTION` of its out-of-scope questions, plus
    `RULE_MARGIN` (the sets were fitted on, so their optimum is optimistic)."""
    best: tuple[float, int] | None = None
    for threshold in range(0, 101):
        rows = [threshold_sweep(r, [threshold])[0] for r in results]
        pairs = list(zip(results, rows, strict=True))
        if any(row[3] is not None and row[3] < RULE_REJECTION for _, row in pairs):
            continue
        right = sum((row[1] or 0.0) * len(r.in_scope) for r, row in pairs)
        if best is None or right > best[0] + 1e-9:
            best = (right, threshold)
    return (best[1] if best else 100) + RULE_MARGIN


@dataclass(frozen=True)
class CrossValidation:
    """How the fitted model and the rule's threshold do on questions not fitted on."""

    top1: float | None  # None: no such items
    oos_reject: float | None
    by_kind: dict[str, float | None]  # top-1 (in scope) or rejection (out of scope) per kind
    thresholds: tuple[int, ...]  # the rule's threshold in each fold


def cross_validate(
    kb: KnowledgeBase, fixed: Sequence[EvalItem], folded: Sequence[EvalItem], folds: int = 5
) -> CrossValidation:
    """Split `folded` into `folds` parts; score each part with the model fitted on `fixed`
    and the other parts, at the threshold the rule picks on those. What `calibrate` plus the
    rule would give a new set of the same kind, which the fitted sets' own figures flatter."""
    held: list[tuple[ItemResult, int]] = []
    thresholds = []
    for fold in range(folds):
        train = [item for i, item in enumerate(folded) if i % folds != fold]
        test = [item for i, item in enumerate(folded) if i % folds == fold]
        calibration, scope, stories = calibrate(kb, [fixed, train] if fixed else [train])
        matcher = Matcher(kb, calibration=calibration, scope_words=scope, story_words=stories)
        threshold = rule_threshold([evaluate(matcher, fixed), evaluate(matcher, train)])
        thresholds.append(threshold)
        held.extend((r, threshold) for r in evaluate(matcher, test).items)

    def right(result: ItemResult, threshold: int) -> bool:
        shown = shown_at(result, threshold)
        if result.in_scope:
            return bool(shown) and shown[0][0] in result.item.expect
        return not shown

    def share(pairs: list[tuple[ItemResult, int]]) -> float | None:
        return share_of([right(r, t) for r, t in pairs])

    kinds = sorted({r.item.kind for r, _ in held if r.item.kind})
    return CrossValidation(
        top1=share([(r, t) for r, t in held if r.in_scope]),
        oos_reject=share([(r, t) for r, t in held if not r.in_scope]),
        by_kind={k: share([(r, t) for r, t in held if r.item.kind == k]) for k in kinds},
        thresholds=tuple(thresholds),
    )


def _language(reader: Matcher, item: EvalItem) -> str:
    """The item's language as labelled, or as the matcher reads it ("mixed" or no label)."""
    return item.lang if item.lang in LANGUAGES else reader.language(item.question)
