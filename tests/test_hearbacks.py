"""The hear-back outbox and the questions owed an answer (bot/storage/hearbacks.py,
bot/storage/answering.py): what survives a crash, what is resent, what never is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage.inboxrecords import TAUGHT
from bot.storage.store import DB_FILENAME, Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / DB_FILENAME, clock=clock) as opened:
        yield opened


def _ask(store: Store, text: str, chat_id: int = 7, message_id: int | None = None) -> int:
    store.record_question(
        chat_id=chat_id,
        user_id=1,
        text=text,
        lang="id",
        story_id=None,
        score=0,
        answered=False,
        source="group" if chat_id < 0 else "private",
        message_id=message_id,
    )
    store.flush()
    return max(q.id for q in store.inbox(chat_id=chat_id, limit=100)[0])


def _teach(store: Store, question_id: int, story: str = "s1") -> None:
    change = store.decide(question_id, TAUGHT, story_id=story, by=9, decided_in=9, daily_limit=100)
    assert change.outcome == "changed"


def test_teaching_owes_one_hear_back_and_teaching_again_owes_none(store: Store) -> None:
    qid = _ask(store, "klien marah")
    _teach(store, qid)
    _teach(store, qid, "s2")  # re-pointed: still one hear-back
    [owed] = store.hearbacks()
    assert (owed.question_id, owed.chat_id, owed.state, owed.text) == (
        qid,
        7,
        "pending",
        "klien marah",
    )


def test_a_crash_resends_what_waited_and_never_doubles_what_was_on_the_wire(
    store: Store, tmp_path: Path, clock: Clock
) -> None:
    first, second = _ask(store, "klien marah", chat_id=7), _ask(store, "klien kabur", chat_id=8)
    _teach(store, first)
    _teach(store, second)
    [waiting] = store.take_hearbacks(7, 10)
    [on_wire] = store.take_hearbacks(8, 10)
    store.move_hearbacks([on_wire.id], "queued", "sending")
    store.close()  # kill -9: nothing else happens
    with Store(tmp_path / DB_FILENAME, clock=clock) as again:
        unsure = again.reconcile_hearbacks()
        assert [h.id for h in unsure] == [on_wire.id]
        states = {h.chat_id: h.state for h in again.hearbacks()}
        assert states == {7: "pending", 8: "unknown"}
        assert again.hearback_chats_due() == [waiting.chat_id]


def test_retries_back_off_and_give_up_after_the_last_try(store: Store, clock: Clock) -> None:
    _teach(store, _ask(store, "klien marah"))
    for attempt in range(1, 4):
        ids = [h.id for h in store.take_hearbacks(7, 10)]
        failed = store.hearbacks_retry(ids, after=2.0, error="500", max_attempts=3)
        assert store.hearback_chats_due() == []  # not before its back-off
        clock.now += timedelta(seconds=2)
        assert failed == (1 if attempt == 3 else 0)
    assert [h.state for h in store.hearbacks()] == ["failed"]


def test_a_429_does_not_count_as_a_try(store: Store) -> None:
    _teach(store, _ask(store, "klien marah"))
    ids = [h.id for h in store.take_hearbacks(7, 10)]
    assert store.hearbacks_retry(ids, after=0, error="429", max_attempts=1, count=False) == 0
    assert [(h.state, h.attempts) for h in store.hearbacks()] == [("pending", 0)]


def test_undo_cancels_a_hear_back_not_sent_and_teaching_again_revives_it(store: Store) -> None:
    qid = _ask(store, "klien marah")
    _teach(store, qid)
    assert store.repoint_hearback(qid, None)
    assert [h.state for h in store.hearbacks()] == ["cancelled"]
    assert store.hearback_chats_due() == []
    assert store.repoint_hearback(qid, "s3")
    assert [(h.state, h.story_id) for h in store.hearbacks()] == [("pending", "s3")]
    store.take_hearbacks(7, 10)
    assert not store.repoint_hearback(qid, None)  # already taken for sending: too late


def test_questions_are_owed_an_answer_until_marked_replied(store: Store, clock: Clock) -> None:
    _ask(store, "klien marah", chat_id=-5, message_id=11)
    _ask(store, "klien kabur", chat_id=-5, message_id=12)
    _ask(store, "inline, no message", chat_id=-5)
    store.mark_replied(-5, 11)
    store.flush()
    later = clock.now + timedelta(seconds=1)
    assert [(w.message_id, w.text) for w in store.waiting_questions(later)] == [(12, "klien kabur")]
    assert store.waiting_questions(clock.now) == []  # asked in this run: not the backlog's
    [waiting] = store.waiting_questions(later)
    store.settle_waiting(waiting.id, "replied")
    store.flush()
    assert store.waiting_questions(later) == []
