"""`python -m bot report`: what people ask Kisah, across every chat, for content authors.

The same figures as /stats (questions, share answered, top stories, 👍/👎, for 7 and 30 days)
plus the unanswered questions grouped by similarity: each group is a candidate for new
triggers on an existing story, or for a new story; and the content gaps (questions team leads
marked "no story fits" in their inbox), grouped the same way: candidates for new stories. With
BOT_LOG_QUESTIONS=false only counts are printed, never a question's text, even if older rows
still hold some.

Grouping: questions are reduced to their meaningful canonical words (the matcher's
normalisation: slang, typos and affixes folded, stopwords dropped), so "gmn cara bikin kopi?"
and "cara buat kopi" meet as "buat kopi". Two questions join when the mean of rapidfuzz's
token_set_ratio (one's words contained in the other's) and token_sort_ratio (how much the
whole wording overlaps) reaches the threshold: set-ratio alone would put "harga" with every
question mentioning a price, sort-ratio alone would split "kopi" from "kopi enak".
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from rapidfuzz import fuzz

from bot.engine.language import detect_language
from bot.engine.normalize import content_tokens, normalize
from bot.storage.inboxrecords import GAP

if TYPE_CHECKING:
    from bot.chat.services import Services
    from bot.storage.store import Stats

PERIODS = (7, 30)
DEFAULT_THRESHOLD = 75
EXAMPLES = 3


@dataclass
class QuestionGroup:
    """Unanswered questions that say roughly the same thing."""

    key: str  # the canonical words the group is compared by
    count: int = 0
    wordings: Counter[str] = field(default_factory=Counter)

    @property
    def example(self) -> str:
        return self.wordings.most_common(1)[0][0]

    def others(self, limit: int = EXAMPLES) -> list[str]:
        return [text for text, _ in self.wordings.most_common(limit + 1)[1:]]


def question_key(text: str) -> str:
    """The words a question is compared by: canonical, meaningful, order-free."""
    lang = detect_language(text)
    words = content_tokens(text, lang)
    if not words:
        words = normalize(text, lang).split() or [" ".join(text.lower().split())]
    return " ".join(sorted(set(words)))


def similarity(a: str, b: str) -> float:
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2


def group_questions(
    texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[QuestionGroup]:
    """Greedy grouping, most frequent wording first so it becomes its group's representative.

    Deterministic: ties are broken by the key's text, and each key joins the most similar
    existing group (or starts one).
    """
    by_key: dict[str, Counter[str]] = {}
    for text in texts:
        cleaned = " ".join(text.split())
        if cleaned:
            by_key.setdefault(question_key(cleaned), Counter())[cleaned] += 1
    groups: list[QuestionGroup] = []
    for key, wordings in sorted(by_key.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        best: QuestionGroup | None = None
        best_score = threshold
        for group in groups:
            score = similarity(key, group.key)
            if score >= best_score and (best is None or score > best_score):
                best, best_score = group, score
        if best is None:
            best = QuestionGroup(key)
            groups.append(best)
        best.count += sum(wordings.values())
        best.wordings.update(wordings)
    return sorted(groups, key=lambda g: (-g.count, g.key))


def _period_line(days: int, stats: Stats) -> str:
    if not stats.asked:  # "answered 0%" of nothing would read as a failing bot
        return f"Last {days:>2} days: no questions"
    return (
        f"Last {days:>2} days: questions {stats.asked}, answered {stats.answered_share:.0%}, "
        f"unanswered {stats.asked - stats.answered}, 👍 {stats.thumbs_up} / 👎 {stats.thumbs_down}"
    )


def _groups(count: int) -> str:
    return "1 group" if count == 1 else f"{count} groups"


def build_report(
    services: Services, *, days: int = 30, top: int = 10, threshold: float = DEFAULT_THRESHOLD
) -> str:
    """The report as plain text (a terminal or a file, not Telegram)."""
    store, kb = services.store, services.kb
    periods = sorted({*PERIODS, days})
    stats = {d: store.stats(days=d, top=top) for d in periods}
    lines = ["Kisah usage report (all chats)", ""]
    lines += [_period_line(d, stats[d]) for d in periods]
    lines += ["", f"Top stories, last {days} days (questions answered with each):"]
    if not stats[days].top_stories:
        lines.append("  none yet")
    for story_id, count in stats[days].top_stories:
        story = kb.by_id(story_id)
        title = story.title.en if story else "(no longer in the knowledge base)"
        lines.append(f"  {count:>5}  {story_id}: {title}")
    subscriptions = store.subscriptions()
    scheduled = store.delivery_counts("daily")
    on_demand = sum(store.delivery_counts("now").values())
    lines += [
        "",
        f"Daily tips and quizzes: chats subscribed {len(subscriptions)}; scheduled deliveries "
        "so far: "
        + (", ".join(f"{state} {n}" for state, n in sorted(scheduled.items())) or "none")
        + f"; sent on demand (/tipnow, /quiznow): {on_demand}",
    ]
    unanswered = stats[days].asked - stats[days].answered
    gaps = [d.text for d in store.decisions(GAP)]
    lines.append("")
    if not services.settings.log_questions:
        lines.append(
            f"Unanswered questions, last {days} days: {unanswered}. Their texts are not kept "
            "(BOT_LOG_QUESTIONS=false), so they cannot be grouped or shown."
        )
        lines += ["", f"Content gaps (team leads: no story fits), all time: {len(gaps)}."]
        return "\n".join(lines) + "\n"
    still_open = store.unanswered_questions(days=days)  # those no team lead has settled
    groups = group_questions(still_open, threshold)
    settled = unanswered - len(still_open)
    counted = (
        f"{unanswered}; {settled} settled by team leads (taught, 'no story fits' or skipped), "
        f"{len(still_open)} open"
        if settled > 0
        else f"{unanswered}"
    )
    lines.append(
        f"Unanswered questions, last {days} days: {counted}, in {_groups(len(groups))} "
        f"(similarity >= {threshold:g}); candidates for new triggers or stories:"
    )
    lines += _group_lines(groups, top)
    # Every gap, whatever its age: a lead's verdict stays true until a story is written.
    gap_groups = group_questions(gaps, threshold)
    lines += [
        "",
        f"Content gaps (team leads: no story fits), all time: {len(gaps)}, in "
        f"{_groups(len(gap_groups))}; candidates for new stories (`python -m bot new-story` "
        "lists the ones like a post):",
    ]
    lines += _group_lines(gap_groups, top)
    return "\n".join(lines) + "\n"


def _group_lines(groups: list[QuestionGroup], top: int) -> list[str]:
    """The first `top` groups, each with its most asked wording and a few others."""
    if not groups:
        return ["  none"]
    lines = []
    for group in groups[:top]:
        lines.append(f"  {group.count:>5}x  {group.example}")
        for other in group.others():
            lines.append(f"          also: {other}")
    if len(groups) > top:
        rest = sum(g.count for g in groups[top:])
        lines.append(f"  ... {len(groups) - top} more groups ({rest} questions); use --top")
    return lines


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return value


def _percentage(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:  # also NaN, which compares false
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's own options, on any parser: `python -m bot report` adds them to its
    subcommand (so `report --help` lists them) and `parse_args` to a standalone one."""
    parser.add_argument("--days", type=_positive, default=30, help="period in days (default 30)")
    parser.add_argument(
        "--top", type=_positive, default=10, help="how many stories/groups to list (default 10)"
    )
    parser.add_argument(
        "--threshold",
        type=_percentage,
        default=DEFAULT_THRESHOLD,
        help=f"similarity 0-100 for grouping questions (default {DEFAULT_THRESHOLD})",
    )


def parse_args(args: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot report",
        description="Usage report for content authors: questions, answers, feedback, and the "
        "unanswered questions grouped by similarity.",
    )
    add_arguments(parser)
    return parser.parse_args(list(args))


def run(services: Services, options: argparse.Namespace, stdout: TextIO | None = None) -> int:
    """Print the report for options parsed by a parser that `add_arguments` set up."""
    out = stdout or sys.stdout
    out.write(
        build_report(services, days=options.days, top=options.top, threshold=options.threshold)
    )
    return 0


def main(services: Services, args: Sequence[str] = (), stdout: TextIO | None = None) -> int:
    """Entry point for `[--days N] [--top N] [--threshold X]` given as strings."""
    return run(services, parse_args(args), stdout)
