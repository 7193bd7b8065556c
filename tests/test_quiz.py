"""Practice (issue 19): spaced repetition, the daily mode, the records, and the terminal chat's
/quiz, /quiznow, /myscore and /digest, against the real stories' quiz items."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from kbfixture import PROJECT, SEEDS

from bot.chat.services import build_core
from bot.content.model import KnowledgeBase
from bot.leads.digest import digest_due
from bot.leads.quiz import due_after, mode_of, next_question, streaks
from bot.leads.schedule import EVERY_DAY, WEEKDAYS, daily_kind, parse_days, runs_on
from bot.settings import Settings
from bot.storage.quizrecords import Answer
from bot.storage.store import DB_FILENAME, Store
from bot.storage.tiprecords import Subscription
from bot.transports.console import Console

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEYS = ["a:q0", "a:q1", "b:q0", "b:q1"]


def answered(key: str, right: bool, at: datetime, user: int = 1) -> Answer:
    return Answer(user, -1, key, right, at)


# -- spaced repetition ----------------------------------------------------------------------------


def test_a_wrong_answer_comes_back_after_one_day_not_before() -> None:
    history = [answered("b:q0", False, START)]
    before = next_question(KEYS, history, START + timedelta(hours=23), user_id=1)
    assert before != "b:q0"  # not due yet: a new question instead
    assert next_question(KEYS, history, START + timedelta(days=1), user_id=1) == "b:q0"


def test_then_three_days_then_seven_then_a_month() -> None:
    history = [answered("b:q0", False, START)]
    assert due_after(history) == START + timedelta(days=1)
    at = START + timedelta(days=1)
    history.append(answered("b:q0", True, at))
    assert due_after(history) == at + timedelta(days=3)
    at += timedelta(days=3)
    history.append(answered("b:q0", True, at))
    assert due_after(history) == at + timedelta(days=7)
    at += timedelta(days=7)
    history.append(answered("b:q0", True, at))
    assert due_after(history) == at + timedelta(days=30)
    history.append(answered("b:q0", False, at))  # wrong again: back to one day
    assert due_after(history) == at + timedelta(days=1)
    # Right the first time: "later" than any of those.
    assert due_after([answered("a:q0", True, START)]) == START + timedelta(days=14)


def test_new_questions_come_before_old_right_ones_and_wrong_before_new() -> None:
    now = START + timedelta(days=40)
    history = [answered("a:q0", True, START), answered("a:q1", False, START)]
    assert next_question(KEYS, history, now, user_id=1) == "a:q1"  # overdue wrong first
    history.append(answered("a:q1", True, START + timedelta(days=1)))
    assert next_question(KEYS, history, now, user_id=1) in {"b:q0", "b:q1"}  # then new
    # Nothing new left: the most overdue comes first (relearnt after 3 days, before the
    # ones right the first time, due after 14).
    history += [answered("b:q0", True, START), answered("b:q1", True, START)]
    assert next_question(KEYS, history, now, user_id=1) == "a:q1"


def test_new_questions_in_a_personal_order_shown_ones_last() -> None:
    first = next_question(KEYS, [], START, user_id=1)
    assert first is not None
    assert next_question(KEYS, [], START, user_id=1, offered={first: 1}) != first
    orders = {next_question(KEYS, [], START, user_id=user) for user in range(20)}
    assert len(orders) > 1  # not everyone starts with the same question
    assert next_question([], [], START) is None


def test_streaks_and_daily_modes() -> None:
    marks = [True, True, False, True, True, True, False, True]
    history = [answered("a:q0", m, START) for m in marks]
    assert streaks(history) == (1, 3)
    assert mode_of(["08:00", "mon-fri", "quiz"]) == (["08:00", "mon-fri"], "quiz")
    assert mode_of(["08:00", "campur"]) == (["08:00"], "mix")
    assert mode_of(["08:00"]) == (["08:00"], None)
    days = [date(2026, 11, 23) + timedelta(days=i) for i in range(12)]
    weekdays = [d for d in days if d.weekday() < 5]
    kinds = [daily_kind("mix", d, WEEKDAYS) for d in weekdays]
    assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False))  # Fri -> Mon too
    # Any days: Monday, Wednesday, Friday (two-day steps) and the weekend alternate as well.
    for mask in (EVERY_DAY, parse_days("mon,wed,fri"), parse_days("weekend"), parse_days("tue")):
        run = [d for d in days + [d + timedelta(days=12) for d in days] if runs_on(mask, d)]
        kinds = [daily_kind("mix", d, mask) for d in run]
        assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False)), mask
    assert {daily_kind("quiz", d) for d in days} == {"quiz"}
    assert {daily_kind("tips", d) for d in days} == {"tip"}


def test_the_weekly_digest_is_due_on_monday_after_the_daily_time_only() -> None:
    sub = Subscription(
        -5, datetime.strptime("08:00", "%H:%M").time(), 0b11111, START - timedelta(days=9)
    )
    monday = datetime(2026, 11, 30, 0, 59, tzinfo=UTC)  # 07:59 in Jakarta
    assert digest_due(sub, monday, "Asia/Jakarta") is None
    assert digest_due(sub, monday + timedelta(minutes=1), "Asia/Jakarta") == date(2026, 11, 30)
    assert digest_due(sub, monday + timedelta(days=1), "Asia/Jakarta") is None


# -- the records ----------------------------------------------------------------------------------


def test_answers_count_once_per_member_and_only_for_polls_sent(tmp_path: Path) -> None:
    with Store(tmp_path / DB_FILENAME, clock=lambda: START) as store:
        store.record_poll("p1", -7, "a:q0", 2)
        assert store.record_quiz_answer("p1", 10, 2) is not None
        assert store.record_quiz_answer("p1", 10, 0) is None  # a repeat: the first stands
        assert store.record_quiz_answer("p1", 11, 0) is not None
        assert store.record_quiz_answer("forged", 12, 2) is None
        assert [a.right for a in store.quiz_history(10)] == [True]
        assert [a.right for a in store.quiz_history(11)] == [False]
        assert store.quiz_history(12) == []
        assert store.quiz_participation(-7, days=7) == (1, 2, 2)
        assert store.quiz_participation(-8, days=7) == (0, 0, 0)  # another group sees nothing
        assert store.claim_digest(-7, date(2026, 11, 23))
        assert not store.claim_digest(-7, date(2026, 11, 23))
        assert store.reconcile_digests() == 1  # a crash mid-send: unknown, not resent
        assert store.digest_states(-7) == {"2026-11-23": "unknown"}


# -- the terminal chat ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> tuple[KnowledgeBase, object]:
    core = build_core(Settings(responses_dir=PROJECT / "responses", seeds_dir=SEEDS))
    return core.kb, core.replies


def console(real: tuple[KnowledgeBase, object], store: Store, lines: list[str]) -> str:
    _kb, replies = real
    out = io.StringIO()
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    Console(replies, stdin, out, lang="en", store=store).run()  # type: ignore[arg-type]
    return out.getvalue()


def test_the_terminal_asks_quizzes_as_numbered_choices(
    real: tuple[KnowledgeBase, object], tmp_path: Path
) -> None:
    kb, _ = real
    clock = [START]
    with Store(tmp_path / DB_FILENAME, clock=lambda: clock[0]) as store:
        out = console(real, store, ["/quiz", "9", "1"])
        question = next(item for _, _, item in kb.quizzes() if item.question.en in out)
        assert "[4]" in out or "[3]" in out
        assert "Type the number of your answer:" in out
        assert "There is no choice number 9." in out  # off the list: the quiz still waits
        right = question.correct == 0
        assert ("✅ Right!" in out) is right
        assert question.explanation.en in out
        assert "📖 Read the story behind it" in out
        # Answered wrongly: it comes back the next day in the terminal too.
        if not right:
            clock[0] = START + timedelta(days=1)
            assert question.question.en in console(real, store, ["/quiz"])
        score = console(real, store, ["/myscore"])
        assert f"Answers: 1, {int(right)} right" in score


def test_myscore_says_when_the_next_review_is_when_none_is_due(
    real: tuple[KnowledgeBase, object], tmp_path: Path
) -> None:
    """Answered wrongly at 09:00 UTC (16:00 in Jakarta): nothing is due until the same time
    the next day, which /myscore names; once that time has come, one question is due."""
    kb, _ = real
    clock = [START]
    with Store(tmp_path / DB_FILENAME, clock=lambda: clock[0]) as store:
        out = console(real, store, ["/quiz"])
        question = next(item for _, _, item in kb.quizzes() if item.question.en in out)
        wrong = 2 if question.correct == 0 else 1
        console(real, store, ["/quiz", str(wrong)])
        score = console(real, store, ["/myscore"])
        assert "Nothing to review yet; the next review is Tuesday 24 Nov at 16:00." in score
        assert "due for review now" not in score
        clock[0] = START + timedelta(days=1)
        assert "Questions due for review now: 1. Send /quiz." in console(real, store, ["/myscore"])


def ask(
    store: Store,
    chat_id: int,
    text: str = "x",
    *,
    story: str | None = None,
    answered: bool = False,
    source: str = "group",
) -> None:
    """A question recorded as the chat records one (answered with `story`, or not)."""
    store.record_question(
        chat_id=chat_id,
        user_id=None if source == "cli" else 1,
        text=text,
        lang="id",
        story_id=story,
        score=50 if story else 0,
        answered=answered,
        source=source,
    )


def test_the_terminal_writes_the_digest_to_a_png_and_prints_its_path(
    real: tuple[KnowledgeBase, object], tmp_path: Path
) -> None:
    with Store(tmp_path / "data" / DB_FILENAME, clock=lambda: START) as store:
        ask(store, 0, source="cli")
        out = console(real, store, ["/quiznow", "1", "/digest"])
        found = re.search(r"The 4-week picture saved: (\S+\.png)", out)
        assert found is not None
        png = Path(found[1]).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert Path(found[1]).parent == tmp_path / "data"
        # The caption Telegram shows under the picture, printed under the path.
        assert "📊 The last 4 weeks: questions 1 (0 answered, 0 offered, 1 unanswered)" in out
        assert store.deliveries(0)[-1].state == "sent"  # /quiznow: one delivery, printed


def test_the_digest_counts_days_in_the_chats_time_zone(
    real: tuple[KnowledgeBase, object], tmp_path: Path
) -> None:
    """At 03:30 WITA on 24 November (19:30 UTC on the 23rd) the team's today is the 24th:
    a question asked ten minutes earlier is today's, and the file is named for that day."""
    from bot.chat.request import Env
    from bot.leads.digest import gather, picture

    kb, replies = real
    asked = datetime(2026, 11, 23, 19, 20, tzinfo=UTC)  # 03:20 WITA on the 24th
    moment = [asked]
    with Store(tmp_path / DB_FILENAME, clock=lambda: moment[0]) as store:
        store.set_chat_timezone(-9, "Asia/Makassar")
        ask(store, -9)
        store.flush()
        moment[0] = asked + timedelta(minutes=10)
        env = Env(replies, store, Settings())  # type: ignore[arg-type]
        data = gather(env, -9, "en")
        assert data.end == date(2026, 11, 24)
        assert data.per_day["unanswered"][-1] == 1
        assert picture(env, -9, "en").name == "kisah-digest-2026-11-24.png"
        # A chat with no /timezone reads the bot's zone (Asia/Jakarta: 02:30 on the 24th).
        assert gather(env, -10, "en").end == date(2026, 11, 24)


def test_the_digests_weakest_lesson_is_named_by_its_words(
    real: tuple[KnowledgeBase, object], tmp_path: Path
) -> None:
    """The weakest lesson is quoted by its opening words, as plain text for the picture (a
    lesson's number in the story file is one no user has seen)."""
    from bot.chat.request import Env
    from bot.leads.digest import gather

    kb, replies = real
    with Store(tmp_path / "data" / DB_FILENAME, clock=lambda: START) as store:
        console(real, store, ["/quiznow", "1"])  # one answer in the terminal's chat
        store.flush()
        env = Env(replies, store, Settings())  # type: ignore[arg-type]
        lines = gather(env, 0, "en").lines
    (weakest,) = [line for line in lines if line.startswith("Weakest:")]
    assert "lesson " not in weakest and "“" in weakest
    assert "&" not in weakest  # plain text: no HTML entities in the picture
    assert any(lesson.en[:20] in weakest for story in kb.stories for lesson in story.lessons), (
        weakest
    )


def test_the_digest_counts_the_same_without_question_texts(
    real: tuple[KnowledgeBase, object], tmp_path: Path
) -> None:
    """BOT_LOG_QUESTIONS=false keeps no texts: the picture and its counts do not need any."""
    from bot.chat.request import Env
    from bot.leads.digest import gather, picture

    kb, replies = real
    day = START - timedelta(days=3)
    with Store(tmp_path / DB_FILENAME, log_questions=False, clock=lambda: day) as store:
        for answered_, story in ((True, "wayang-bima"), (False, "wayang-bima"), (False, None)):
            ask(store, -9, "private words", story=story, answered=answered_)
        store.flush()
        day = START
        env = Env(replies, store, Settings(log_questions=False))  # type: ignore[arg-type]
        data = gather(env, -9, "en")
        assert data.totals == {
            "answered": 1,
            "offered": 1,
            "unanswered": 1,
            "asked": 3,
            "answers": 0,
            "right": 0,
        }
        assert data.per_day["offered"][-4] == 1  # three days ago
        assert not any("private words" in line for line in data.lines)
        made = picture(env, -9, "en")
        assert made.png.startswith(b"\x89PNG")
        assert "questions 3 (1 answered, 1 offered, 1 unanswered)" in made.caption
        assert gather(env, -10, "en").totals["asked"] == 0  # another team's questions: none
