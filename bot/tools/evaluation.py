"""Evaluation of the matcher on a labelled question file (`python -m bot eval FILE`).

The file is a YAML list of `{q: question, expect: ['000'] or [], lang: id, kind: long}`; a label
is the story's seed prefix and `[]` means "no story fits: the bot must refuse". `lang` is
optional and may be any value (a mixed text is scored for language only when it says id or en);
`kind` is optional and groups the report's per-kind table (long situations, keywords, ...).
`lesson` is optional: the lesson index (0-based, as `ask --json` reports it) or indices that
answer the asker's dilemma; the report then gives the share of right stories whose lesson
shown first is one of them. With `Replies`, the report also measures the first message's
length in words, as a user reads it.
Scores are taken from what a user would see (`Matcher.ask`, threshold applied), so a right
story below the threshold counts as a miss, and a refusal of an out-of-scope question counts
as a success.

To recalibrate the threshold after the stories change: the report's trade-off table
(`threshold_sweep`) shows what other thresholds would have given, and `trigger_holdout`
asks every trigger with its own story indexed without it, hundreds of unseen phrasings that
no evaluation file has to contain (only in-scope: pair it with out-of-scope questions);
`combined` pools several evaluations so the sweep reads all the evidence at once.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.chat.markup import html_to_text
from bot.chat.replies import Replies
from bot.content.model import LANGUAGES, KnowledgeBase, KnowledgeError
from bot.content.yamlsafe import read_yaml
from bot.engine.matcher import Matcher

# An item's language: one Kisah answers in, or "mixed" (a label, not scored as either).
ITEM_LANGUAGES = (*LANGUAGES, "mixed")

NONE = "none"


class EvalFileError(ValueError):
    """The labelled file is malformed; the message names the item."""


@dataclass(frozen=True)
class EvalItem:
    question: str
    expect: tuple[str, ...]  # seed prefixes; () = out of scope
    lang: str | None
    kind: str | None = None
    lessons: tuple[int, ...] = ()  # lesson indices that answer the dilemma; () = unlabelled


@dataclass(frozen=True)
class ItemResult:
    item: EvalItem
    predicted: tuple[tuple[str, int], ...]  # (seed prefix, score) shown to the user, best first
    ranked: tuple[tuple[str, int], ...]  # the top 3 without the threshold, for calibration
    lang: str
    margin: int | None = 0  # over the threshold this question needs to be told (None: never)
    lesson: int | None = None  # the lesson shown first with the best story told
    words: int | None = None  # words in the answer's first message, when a story is told

    @property
    def lesson_right(self) -> bool | None:
        """None unless the item is lesson-labelled and told its right story."""
        if not self.item.lessons or not self.top1 or self.lesson is None:
            return None
        return self.lesson in self.item.lessons

    @property
    def best_unthresholded(self) -> tuple[str, int] | None:
        return self.ranked[0] if self.ranked else None

    @property
    def in_scope(self) -> bool:
        return bool(self.item.expect)

    @property
    def top1(self) -> bool:
        return bool(self.predicted) and self.predicted[0][0] in self.item.expect

    @property
    def top3(self) -> bool:
        return any(label in self.item.expect for label, _ in self.predicted[:3])

    @property
    def rejected(self) -> bool:
        return not self.predicted

    @property
    def correct(self) -> bool:
        return self.top1 if self.in_scope else self.rejected

    @property
    def lang_ok(self) -> bool | None:
        """None when the label names no language we answer in (unlabelled, or "mixed")."""
        if self.item.lang not in LANGUAGES:
            return None
        return self.lang == self.item.lang


def share_of(values: Sequence[bool]) -> float | None:
    """The share of true values; None when there are none to judge (no such items)."""
    return sum(values) / len(values) if values else None


def rate(value: float | None, digits: int = 2) -> str:
    """A rate as printed: "n/a" when no item could be judged, never a misleading 0.00."""
    return "n/a" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class EvalResult:
    items: tuple[ItemResult, ...]
    threshold: int

    def _share(self, values: Sequence[bool]) -> float | None:
        return share_of(values)

    @property
    def in_scope(self) -> list[ItemResult]:
        return [r for r in self.items if r.in_scope]

    @property
    def out_of_scope(self) -> list[ItemResult]:
        return [r for r in self.items if not r.in_scope]

    @property
    def top1(self) -> float | None:
        return self._share([r.top1 for r in self.in_scope])

    @property
    def top3(self) -> float | None:
        return self._share([r.top3 for r in self.in_scope])

    @property
    def oos_reject(self) -> float | None:
        return self._share([r.rejected for r in self.out_of_scope])

    @property
    def lang(self) -> float | None:
        return self._share([bool(r.lang_ok) for r in self.items if r.lang_ok is not None])

    @property
    def misses(self) -> list[ItemResult]:
        return [r for r in self.items if not r.correct]

    @property
    def lesson_first(self) -> float | None:
        """Share of lesson-labelled items told the right story whose first lesson fits."""
        return self._share([bool(r.lesson_right) for r in self.lesson_judged])

    @property
    def lesson_judged(self) -> list[ItemResult]:
        return [r for r in self.items if r.lesson_right is not None]

    def summary(self) -> str:
        return (
            f"top1={rate(self.top1)} top3={rate(self.top3)} oos_reject={rate(self.oos_reject)} "
            f"lang={rate(self.lang)} n={len(self.items)}"
        )


def parse_items(data: Any, source: str = "items") -> list[EvalItem]:
    """Check and convert the raw YAML list; a malformed item names its index."""
    if not isinstance(data, list):
        raise EvalFileError(f"{source}: must be a list of {{q, expect, lang}} items")
    items = []
    for i, raw in enumerate(data):
        where = source if source.startswith("item ") else f"{source}: item {i}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("q"), str):
            raise EvalFileError(f"{where}: needs a text 'q'")
        expect = raw.get("expect", [])
        if not isinstance(expect, list):
            raise EvalFileError(f"{where}: 'expect' must be a list ([] = no story)")
        lang = raw.get("lang")
        if lang is not None and lang not in ITEM_LANGUAGES:
            # Any other code would be scored as a wrong language on every item, silently.
            raise EvalFileError(
                f"{where}: 'lang' must be one of {', '.join(ITEM_LANGUAGES)} (not {lang!r})"
            )
        kind = raw.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise EvalFileError(f"{where}: 'kind' must be a text (long, keyword, ...)")
        lessons = raw.get("lesson", [])
        lessons = [lessons] if isinstance(lessons, int) else lessons
        if not isinstance(lessons, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lessons
        ):
            raise EvalFileError(f"{where}: 'lesson' must be a lesson index (0, 1, ...) or a list")
        items.append(EvalItem(raw["q"], tuple(str(e) for e in expect), lang, kind, tuple(lessons)))
    return items


def check_labels(items: Sequence[EvalItem], kb: KnowledgeBase, source: str) -> None:
    """Every label names a story of `kb` by its seed prefix, and every lesson index one of
    that story's lessons: a mistyped label ("999", a story's id) would only score 0.00."""
    lessons = {story.seed_prefix: len(story.lessons) for story in kb.stories}
    known = ", ".join(sorted(lessons))
    for i, item in enumerate(items):
        for label in item.expect:
            if label not in lessons:
                raise EvalFileError(
                    f"{source}: item {i}: expect {label!r} is no story's seed prefix "
                    f"(known: {known})"
                )
        for lesson in item.lessons:
            if item.expect and all(lesson >= lessons[label] for label in item.expect):
                raise EvalFileError(
                    f"{source}: item {i}: lesson {lesson} is beyond story "
                    f"{item.expect[0]}'s {lessons[item.expect[0]]} lessons (counted from 0)"
                )


def load_items(path: Path) -> list[EvalItem]:
    """Read a labelled question file (format of the shared dev-questions.yaml); a YAML
    mistake is reported as the story files' are, in one line with its line number."""
    try:
        data, _text = read_yaml(path)
    except OSError as exc:
        raise EvalFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except KnowledgeError as exc:
        raise EvalFileError("; ".join(exc.problems)) from exc
    return parse_items(data, str(path))


def word_count(text: str) -> int:
    """Words a reader reads in a reply (Telegram HTML): emoji and bullets are not words."""
    return sum(1 for word in html_to_text(text).split() if any(c.isalnum() for c in word))


def evaluate(
    matcher: Matcher,
    items: Iterable[EvalItem | Mapping[str, Any]],
    replies: Replies | None = None,
) -> EvalResult:
    """Ask every question as a user would and record what the user would have seen; with
    `replies` (built on the same matcher), the first message's length too."""
    raw = list(items)
    if not all(isinstance(item, EvalItem) for item in raw):
        # raw YAML mappings (the CLI passes the file's list): check them all at once, so an
        # error names the item's position in the file
        raw = [
            item if isinstance(item, EvalItem) else parse_items([item], f"item {i}")[0]
            for i, item in enumerate(raw)
        ]
    results = []
    for item in raw:
        answer = matcher.ask(item.question)
        ranked, margin = matcher.judge(item.question, limit=3)
        words = None
        if replies is not None and answer.best is not None:
            words = word_count(replies.answer(item.question)[1].text)
        results.append(
            ItemResult(
                item=item,
                predicted=tuple((m.story.seed_prefix, m.score) for m in answer.matches),
                ranked=tuple((m.story.seed_prefix, m.score) for m in ranked),
                lang=answer.lang,
                margin=margin,
                lesson=answer.best.lesson if answer.best is not None else None,
                words=words,
            )
        )
    return EvalResult(items=tuple(results), threshold=matcher.threshold)


def threshold_sweep(
    result: EvalResult, thresholds: Iterable[int] | None = None
) -> list[tuple[int, float | None, float | None, float | None]]:
    """(threshold, top1, top3, oos_reject) had the matcher used another threshold: the
    trade-off to look at when recalibrating after the content changes (None: no such items)."""
    if thresholds is None:
        thresholds = range(max(0, result.threshold - 12), result.threshold + 13, 3)
    in_scope, out_of_scope = result.in_scope, result.out_of_scope
    rows = []
    for threshold in thresholds:
        shown = [shown_at(r, threshold) for r in in_scope]
        top1 = [bool(s) and s[0][0] in r.item.expect for s, r in zip(shown, in_scope, strict=True)]
        top3 = [
            any(lbl in r.item.expect for lbl, _ in s) for s, r in zip(shown, in_scope, strict=True)
        ]
        rejected = [not shown_at(r, threshold) for r in out_of_scope]
        rows.append(
            (
                threshold,
                share_of(top1),
                share_of(top3),
                share_of(rejected),
            )
        )
    return rows


def shown_at(result: ItemResult, threshold: int) -> list[tuple[str, int]]:
    """What the user would have been told at `threshold` (the question's margin included)."""
    if result.margin is None:
        return []
    return [(lbl, sc) for lbl, sc in result.ranked if sc >= threshold + result.margin]


def combined(results: Iterable[EvalResult]) -> EvalResult:
    """Several evaluations as one, to choose the threshold on all the evidence at once.

    A threshold tuned on one file fits that file's quirks; pooling the dev set, an
    independently written held-out set and `trigger_holdout` (which has no out-of-scope
    questions, so pair it with a file that has) shows the trade-off a new question meets.
    Each set counts by its number of questions.
    """
    pooled = list(results)
    thresholds = {r.threshold for r in pooled}
    if len(thresholds) > 1:
        raise ValueError(f"evaluations at different thresholds: {sorted(thresholds)}")
    return EvalResult(
        items=tuple(item for r in pooled for item in r.items),
        threshold=thresholds.pop() if thresholds else 0,
    )


def trigger_holdout(kb: KnowledgeBase, folds: int = 5) -> EvalResult:
    """Ask each story's own triggers, each with the story indexed without it.

    Every trigger is a phrasing a salesperson could type; leaving it out of the index and
    asking it measures how the matcher copes with phrasings it has never seen, on hundreds
    of labelled questions, without touching any evaluation file. (Out-of-scope questions
    are not part of it: combine with a labelled file for the threshold.)
    """
    results: list[ItemResult] = []
    threshold = None
    for fold in range(folds):
        kept = []
        held: list[EvalItem] = []
        for story in kb.stories:
            triggers = {}
            for lang in LANGUAGES:
                all_triggers = story.triggers.get(lang, ())
                triggers[lang] = tuple(t for i, t in enumerate(all_triggers) if i % folds != fold)
                held.extend(
                    EvalItem(t, (story.seed_prefix,), lang)
                    for i, t in enumerate(all_triggers)
                    if i % folds == fold
                )
            kept.append(replace(story, triggers=triggers))
        matcher = Matcher(replace(kb, stories=tuple(kept)))
        threshold = matcher.threshold
        results.extend(evaluate(matcher, held).items)
    return EvalResult(items=tuple(results), threshold=threshold or 0)


def _confusion(result: EvalResult) -> list[str]:
    """Rows: expected story (or none); columns: the answer's best story (or none)."""
    pairs: Counter[tuple[str, str]] = Counter()
    labels: set[str] = set()
    for r in result.items:
        expected = r.item.expect[0] if r.item.expect else NONE
        got = r.predicted[0][0] if r.predicted else NONE
        if got in r.item.expect:
            expected = got  # any accepted label counts as the diagonal
        pairs[(expected, got)] += 1
        labels.update((expected, got))
    order = sorted(labels - {NONE}) + [NONE]
    width = max(len(label) for label in order) + 2
    lines = ["expected \\ answered".ljust(20) + "".join(lbl.rjust(width) for lbl in order)]
    for row in order:
        counts = [pairs.get((row, col), 0) for col in order]
        if sum(counts):
            lines.append(row.ljust(20) + "".join(str(c).rjust(width) for c in counts))
    return lines


def kind_table(result: EvalResult) -> list[str]:
    """One line per `kind`: how many, and the share a user would have seen right (the right
    story for in-scope items, a refusal for out-of-scope ones). Empty if no item has a kind."""
    kinds: dict[str, list[ItemResult]] = {}
    for r in result.items:
        if r.item.kind:
            kinds.setdefault(r.item.kind, []).append(r)
    if not kinds:
        return []
    width = max(len(kind) for kind in kinds) + 2
    lines = ["by kind (right = right story, or refused when out of scope):"]
    for kind, results in sorted(kinds.items()):
        right = sum(r.correct for r in results)
        refused = sum(r.rejected for r in results if r.in_scope)
        wrong = len(results) - right - refused
        lines.append(
            f"  {kind.ljust(width)} n={len(results):3d}  right={right / len(results):.2f}"
            f"  refused={refused:3d}  wrong={wrong:3d}"
        )
    return lines


def lesson_table(result: EvalResult) -> list[str]:
    """Lesson shown first, on lesson-labelled items told their right story: overall and
    per kind. Empty when no item is lesson-labelled."""
    judged = result.lesson_judged
    if not judged:
        return []
    lines = [
        f"lesson shown first fits (right story, lesson-labelled): {rate(result.lesson_first)}"
        f" n={len(judged)}"
    ]
    kinds = sorted({r.item.kind for r in judged if r.item.kind})
    width = max((len(kind) for kind in kinds), default=0) + 2
    for kind in kinds:
        of_kind = [r for r in judged if r.item.kind == kind]
        right = sum(bool(r.lesson_right) for r in of_kind) / len(of_kind)
        lines.append(f"  {kind.ljust(width)} n={len(of_kind):3d}  lesson-first={right:.2f}")
    return lines


def _percentile(values: Sequence[int], share: float) -> int:
    """The nearest-rank percentile (the value at or below which `share` of them lie)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def words_table(result: EvalResult) -> list[str]:
    """The first message's length in words per language, on in-scope questions told a
    story. Empty when it was not measured (no `Replies`)."""
    lines = []
    for lang in LANGUAGES:
        counts = [r.words for r in result.in_scope if r.words is not None and r.lang == lang]
        if counts:
            lines.append(
                f"  {lang}: n={len(counts):3d}  median={statistics.median(counts):.0f}"
                f"  p90={_percentile(counts, 0.9)}  max={max(counts)}"
            )
    return ["first message words (in scope, story told):", *lines] if lines else []


def format_report(result: EvalResult) -> str:
    """A readable report; the last line is the one-line summary other tools grep for."""
    n_in, n_out = len(result.in_scope), len(result.out_of_scope)
    lines = [
        f"questions: {len(result.items)} ({n_in} in scope, {n_out} out of scope), "
        f"threshold {result.threshold}",
        f"top-1 (best answer right):       {rate(result.top1)}",
        f"top-3 (right story among three): {rate(result.top3)}",
        f"out-of-scope rejected:           {rate(result.oos_reject)}",
        f"language detected:               {rate(result.lang)}",
        "",
        *kind_table(result),
        *([""] if result.items and any(r.item.kind for r in result.items) else []),
        *lesson_table(result),
        *words_table(result),
        *([""] if lesson_table(result) or words_table(result) else []),
        "confusion (rows: expected story, columns: best answer):",
        *_confusion(result),
        "",
    ]
    misses = result.misses
    lines.append(f"misses ({len(misses)}):")
    for r in misses:
        expected = ",".join(r.item.expect) or NONE
        got = ", ".join(f"{label}:{score}" for label, score in r.predicted) or NONE
        best = r.best_unthresholded
        below = f" (best below threshold: {best[0]}:{best[1]})" if best and not r.predicted else ""
        lines.append(f"  [{expected} -> {got}]{below} {r.item.question}")
    lesson_misses = [r for r in result.lesson_judged if not r.lesson_right]
    if lesson_misses:
        # What an author reads to see which lesson a dilemma wanted: indices as in the file.
        lines.append(f"lesson misses ({len(lesson_misses)}, lesson indices as in the file):")
        for r in lesson_misses:
            wanted = ",".join(map(str, r.item.lessons))
            lines.append(
                f"  [{r.item.expect[0]}: shown {r.lesson}, labelled {wanted}] {r.item.question}"
            )
    lang_misses = [r for r in result.items if r.lang_ok is False]
    if lang_misses:
        lines.append(f"language misses ({len(lang_misses)}):")
        for r in lang_misses:
            lines.append(f"  [{r.item.lang} -> {r.lang}] {r.item.question}")
    lines.append("threshold trade-off (threshold: top1 top3 oos_reject):")
    for threshold, top1, top3, reject in threshold_sweep(result):
        mark = "  <- current" if threshold == result.threshold else ""
        lines.append(f"  {threshold:3d}: {rate(top1)} {rate(top3)} {rate(reject)}{mark}")
    lines.append("")
    lines.append(result.summary())
    return "\n".join(lines)
