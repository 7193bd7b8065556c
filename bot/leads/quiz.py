"""Practice: which quiz question comes next for a person, the team's quizzes, the scores.

Functional core: `next_question` (spaced repetition) and `mode_of` (what /daily sends) are
pure functions of answers, keys and a date, so tests move a clock instead of waiting days.
The builders below turn a command into store calls and an `Outcome` carrying a `QuizPoll`,
which each transport sends its own way (Telegram: a quiz poll; the terminal: numbered choices).

Spaced repetition, per person and question, from every answer they gave (in private or in a
group: practice is personal): answered wrongly, a question is due again after one day; then,
answered right, after three days, then seven, then thirty. Answered right the first time, it
comes back after RIGHT_FIRST_DAYS. The next question is the most overdue one answered wrongly,
else a question never answered (new before old), else the most overdue one answered right,
else the one due soonest.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.chat.callbacks import callback_data
from bot.chat.markup import escape, shorten
from bot.chat.replies import Button, Reply
from bot.chat.request import Env, Outcome, QuizPoll, Request
from bot.chat.uitexts import UiTexts
from bot.leads import when
from bot.storage.quizrecords import MODES, Answer, story_of

if TYPE_CHECKING:
    from bot.content.model import KnowledgeBase

log = logging.getLogger(__name__)

AFTER_WRONG = timedelta(days=1)
# After a wrong answer, each right one in a row pushes the question further out.
RELEARN_STEPS = (timedelta(days=3), timedelta(days=7))
LEARNED = timedelta(days=30)
RIGHT_FIRST_DAYS = 14
STATS_DAYS = 30
STATS_LINES = 8
LESSON_CHARS = 60  # of a lesson quoted in /stats and the digest
MODE_WORDS: dict[str, str] = {
    "tips": "tips",
    "tip": "tips",
    "quiz": "quiz",
    "kuis": "quiz",
    "mix": "mix",
    "campur": "mix",
}

UI_TEXTS = UiTexts(
    "responses/ui/quiz.yaml",
    {
        "quiz_help": frozenset(),
        "quiz_private_only": frozenset(),
        "quiz_none": frozenset(),
        "quiz_button_story": frozenset(),
        "quiz_console_pick": frozenset(),
        "quiz_console_right": frozenset(),
        "quiz_console_wrong": frozenset({"number", "option"}),
        "quiz_console_skipped": frozenset(),
        "myscore": frozenset({"answered", "right", "share", "streak", "best"}),
        "myscore_due": frozenset({"due"}),
        "myscore_due_later": frozenset({"when"}),
        "myscore_none": frozenset(),
        "myscore_story": frozenset({"title", "right", "total"}),
        "quiz_stats_title": frozenset({"days", "polls", "answers", "members"}),
        "quiz_stats_by_lesson": frozenset(),
        "quiz_stats_line": frozenset({"right", "total", "share", "title", "lesson"}),
        "quiz_stats_none": frozenset(),
        "quiz_mode_line": frozenset({"mode", "first", "second"}),
        "quiz_mode_change_tips": frozenset(),
        "quiz_mode_change_quiz": frozenset(),
        "quiz_mode_change_mix": frozenset(),
        "quiz_mode_tips": frozenset(),
        "quiz_mode_quiz": frozenset(),
        "quiz_mode_mix": frozenset(),
        "quiz_now_empty": frozenset(),
        "quiz_refused": frozenset(),
    },
    plain=frozenset(
        {
            "quiz_button_story",
            "quiz_console_pick",
            "quiz_console_right",
            "quiz_console_wrong",
            "quiz_console_skipped",
            "quiz_mode_tips",
            "quiz_mode_quiz",
            "quiz_mode_mix",
        }
    ),
)


# -- the pure core --------------------------------------------------------------------------------


def deck(kb: KnowledgeBase) -> list[str]:
    """Every quiz key ("<story id>:q<index>"), in file order."""
    return [key for key, _story, _item in kb.quizzes()]


def is_quiz_key(key: str) -> bool:
    """Quiz keys end ":q<n>", tip keys ":<n>": one delivery log carries both."""
    tail = key.rpartition(":")[2]
    return tail.startswith("q") and tail[1:].isdigit()


@dataclass(frozen=True)
class Progress:
    """One person's state on one question."""

    key: str
    due: datetime
    last_right: bool


def due_after(answers: Sequence[Answer]) -> datetime:
    """When a question answered `answers` (oldest first, at least one) is due again."""
    last = answers[-1]
    if not last.right:
        return last.answered_at + AFTER_WRONG
    streak = 0
    for answer in reversed(answers):
        if not answer.right:
            break
        streak += 1
    if streak == len(answers):  # never wrong
        return last.answered_at + timedelta(days=RIGHT_FIRST_DAYS * streak)
    if streak <= len(RELEARN_STEPS):
        return last.answered_at + RELEARN_STEPS[streak - 1]
    return last.answered_at + LEARNED


def progress(history: Iterable[Answer]) -> dict[str, Progress]:
    by_key: dict[str, list[Answer]] = {}
    for answer in history:
        by_key.setdefault(answer.quiz_key, []).append(answer)
    return {
        key: Progress(key, due_after(answers), answers[-1].right) for key, answers in by_key.items()
    }


def _shuffle_rank(user_id: int | None, key: str) -> bytes:
    return hashlib.sha256(f"{user_id}:{key}".encode()).digest()


def next_question(
    keys: Sequence[str],
    history: Iterable[Answer],
    now: datetime,
    *,
    user_id: int | None = None,
    offered: dict[str, int] | None = None,
) -> str | None:
    """The question to ask this person now (see the module docstring); None for no keys."""
    if not keys:
        return None
    known = progress(history)
    offered = offered or {}
    current = [k for k in keys if k in known]
    wrong_due = sorted(
        (known[k] for k in current if not known[k].last_right and known[k].due <= now),
        key=lambda p: p.due,
    )
    if wrong_due:
        return wrong_due[0].key
    new = [k for k in keys if k not in known]
    if new:
        # Each person walks the new questions in their own order; one shown but not answered
        # yet goes behind those never shown.
        return min(new, key=lambda k: (offered.get(k, 0), _shuffle_rank(user_id, k)))
    right_due = sorted((known[k] for k in current if known[k].due <= now), key=lambda p: p.due)
    if right_due:
        return right_due[0].key
    return min((known[k] for k in current), key=lambda p: p.due).key


def streaks(history: Sequence[Answer]) -> tuple[int, int]:
    """(current, longest) runs of right answers, in answering order."""
    current = best = 0
    for answer in history:
        current = current + 1 if answer.right else 0
        best = max(best, current)
    return current, best


# -- building polls -------------------------------------------------------------------------------


def poll_for(env: Env, key: str, lang: str) -> QuizPoll | None:
    """The poll for a quiz key in `lang`, with its "read the story" button; None when the
    item is gone from the stories (edited away after it was scheduled)."""
    found = env.kb.quiz_item(key)
    if found is None:
        return None
    story, item = found
    button = Button(
        env.kb.text("quiz_button_story", lang),
        callback_data(f"s:{story.id}:{item.lesson}", lang),
    )
    return QuizPoll(
        key=key,
        question=item.question.get(lang),
        options=item.options_in(lang),
        correct=item.correct,
        explanation=item.explanation.get(lang),
        lang=lang,
        buttons=((button,),),
    )


def _say(text: str) -> Outcome:
    return Outcome(replies=(Reply(text),))


def quiz(env: Env, req: Request) -> Outcome:
    """/quiz in a private chat: the person's next question by spaced repetition."""
    if not req.private:
        return _say(env.kb.text("quiz_private_only", req.lang))
    keys = deck(env.kb)
    history: list[Answer] = []
    offered: dict[str, int] = {}
    now = datetime.now().astimezone()
    if env.store is not None:
        now = env.store.clock()
        if req.user_id is not None:
            history = env.store.quiz_history(req.user_id)
        offered = env.store.quizzes_offered(req.chat_id)
    key = next_question(keys, history, now, user_id=req.user_id, offered=offered)
    poll = poll_for(env, key, req.lang) if key is not None else None
    if poll is None:
        return _say(env.kb.text("quiz_none", req.lang))
    log.info("quiz chosen chat_id=%s update_id=%s quiz=%s", req.chat_id, req.update_id, key)
    return Outcome(poll=poll)


def quiznow(env: Env, req: Request) -> Outcome:
    """/quiznow (team lead): the chat's next quiz from its rotation, logged as a delivery
    (`sending` when this returns: the transport marks it sent or unknown)."""
    store = env.store
    assert store is not None  # a team command: the table gives it a store
    delivery = store.take_tip(req.chat_id, deck(env.kb))
    poll = poll_for(env, delivery.tip_key, req.lang) if delivery is not None else None
    if delivery is None or poll is None:
        if delivery is not None:
            store.mark_delivery(delivery.id, "failed", "quiz item gone")
        return _say(env.kb.text("quiz_now_empty", req.lang))
    store.start_sending(delivery.id)
    log.info("quiz taken now chat_id=%s update_id=%s quiz=%s", req.chat_id, req.update_id, poll.key)
    return Outcome(poll=poll, delivery_id=delivery.id)


def myscore(env: Env, req: Request) -> Outcome:
    """/myscore in a private chat: the person's own figures, never anyone else's."""
    if not req.private:
        return _say(env.kb.text("quiz_private_only", req.lang))
    if env.store is None or req.user_id is None:
        return _say(env.kb.text("myscore_none", req.lang))
    history = env.store.quiz_history(req.user_id)
    if not history:
        return _say(env.kb.text("myscore_none", req.lang))
    right = sum(a.right for a in history)
    current, best = streaks(history)
    now = env.store.clock()
    keys = set(deck(env.kb))
    dues = [p.due for p in progress(history).values() if p.key in keys]
    due = sum(1 for moment in dues if moment <= now)
    lines = [
        env.kb.text(
            "myscore",
            req.lang,
            answered=len(history),
            right=right,
            share=round(100 * right / len(history)),
            streak=current,
            best=best,
        )
    ]
    if due or not dues:
        lines.append(env.kb.text("myscore_due", req.lang, due=due))
    else:  # "0 due" would read as "nothing more to practise": say when the next one is
        zone_name = when.zone_name(env.store, req.chat_id, env.settings.timezone)
        next_at = when.when_text(env.kb, min(dues), zone_name, req.lang)
        lines.append(env.kb.text("myscore_due_later", req.lang, when=escape(next_at)))
    per_story: dict[str, list[bool]] = {}
    for answer in history:
        per_story.setdefault(story_of(answer.quiz_key), []).append(answer.right)
    for story_id, marks in sorted(per_story.items(), key=lambda kv: sum(kv[1]) / len(kv[1])):
        story = env.kb.by_id(story_id)
        title = story.title.get(req.lang) if story else story_id
        lines.append(
            env.kb.text(
                "myscore_story", req.lang, title=escape(title), right=sum(marks), total=len(marks)
            )
        )
    return _say("\n".join(lines))


# -- the team's figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LessonScore:
    story_id: str
    lesson: int  # 0-based
    right: int
    total: int

    @property
    def share(self) -> float:
        return self.right / self.total if self.total else 0.0


def lesson_scores(env: Env, chat_id: int | None, days: int = STATS_DAYS) -> list[LessonScore]:
    """Right/total per story and lesson over `days`, weakest first (then most answered)."""
    assert env.store is not None
    grouped: dict[tuple[str, int], list[int]] = {}
    for tally in env.store.quiz_tallies(chat_id, days=days):
        found = env.kb.quiz_item(tally.quiz_key)
        if found is None:
            continue
        story, item = found
        counts = grouped.setdefault((story.id, item.lesson), [0, 0])
        counts[0] += tally.right
        counts[1] += tally.total
    scores = [LessonScore(a, lesson, r, t) for (a, lesson), (r, t) in grouped.items()]
    return sorted(scores, key=lambda s: (s.share, -s.total, s.story_id, s.lesson))


def stats_lines(env: Env, chat_id: int | None, lang: str) -> list[str]:
    """The quiz block of /stats: participation, then accuracy by story and lesson."""
    assert env.store is not None
    polls, answers, members = env.store.quiz_participation(chat_id, days=STATS_DAYS)
    lines = [
        env.kb.text(
            "quiz_stats_title", lang, days=STATS_DAYS, polls=polls, answers=answers, members=members
        )
    ]
    scores = lesson_scores(env, chat_id)
    # the lessons' heading only above lessons
    lines.append(env.kb.text("quiz_stats_by_lesson" if scores else "quiz_stats_none", lang))
    for score in scores[:STATS_LINES]:
        story = env.kb.by_id(score.story_id)
        title = story.title.get(lang) if story else score.story_id
        lines.append(
            env.kb.text(
                "quiz_stats_line",
                lang,
                right=score.right,
                total=score.total,
                share=round(100 * score.share),
                title=escape(title),
                lesson=escape(lesson_words(env, score.story_id, score.lesson, lang)),
            )
        )
    return lines


def mode_of(words: list[str]) -> tuple[list[str], str | None]:
    """`/daily` arguments without their mode word, wherever it stands ("08:00 quiz mon-fri"
    as "08:00 mon-fri quiz"), and the mode it named (or None)."""
    for n, word in enumerate(words):
        if word.lower() in MODE_WORDS:
            return words[:n] + words[n + 1 :], MODE_WORDS[word.lower()]
    return words, None


def lesson_words(env: Env, story_id: str, index: int, lang: str) -> str:
    """A lesson by its opening words (plain text): a lead never sees lessons numbered as they
    are in the story file (an answer numbers them in the order they fit the question)."""
    story = env.kb.by_id(story_id)
    if story is None or not 0 <= index < len(story.lessons):
        return str(index + 1)
    return shorten(story.lessons[index].get(lang), LESSON_CHARS)


def mode_line(env: Env, mode: str, lang: str) -> str:
    """What the schedule delivers, and how to change it to either of the other two."""
    if mode not in MODES:
        mode = "tips"
    name = env.kb.text(f"quiz_mode_{mode}", lang)
    first, second = (env.kb.text(f"quiz_mode_change_{m}", lang) for m in MODES if m != mode)
    return env.kb.text("quiz_mode_line", lang, mode=escape(name), first=first, second=second)
