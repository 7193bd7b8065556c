"""Store: what is written survives reopening, old databases are upgraded, privacy is kept."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.storage.store import DB_FILENAME, MIGRATIONS, SCHEMA_VERSION, Store, StoreError


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Store:
    with Store(tmp_path / DB_FILENAME, clock=clock) as opened:
        yield opened


def ask(store: Store, text: str, *, chat_id: int = 1, answered: bool = True, **kw: object) -> None:
    values: dict[str, object] = {
        "chat_id": chat_id,
        "user_id": 7,
        "text": text,
        "lang": "id",
        "story_id": "kerjasama" if answered else None,
        "score": 90 if answered else 20,
        "answered": answered,
        "source": "private",
    }
    values.update(kw)
    store.record_question(**values)  # type: ignore[arg-type]


def test_open_from_settings_creates_wal_database_at_current_version(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = Store.open(settings)
    try:
        assert store.path == tmp_path / "data" / DB_FILENAME
        assert store.schema_version == SCHEMA_VERSION
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "data" / DB_FILENAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_chat_language_and_timezone_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    with Store(path) as store:
        assert store.chat_language(5) is None
        store.set_chat_language(5, "en")
        store.set_chat_timezone(5, "Asia/Makassar")
        store.set_chat_language(5, "id")  # changing the language keeps the zone
    with Store(path) as store:
        assert store.chat_language(5) == "id"
        assert store.chat_timezone(5) == "Asia/Makassar"
        assert store.chat_timezone(6) is None
    with Store(path) as store, pytest.raises(ValueError):
        store.set_chat_language(5, "fr")


def test_questions_and_feedback_feed_the_stats(store: Store, clock: FakeClock) -> None:
    ask(store, "cust marah gimana", story_id="marah")
    ask(store, "cust marah gimana dong", story_id="marah")
    ask(store, "harga kemahalan", story_id="harga")
    ask(store, "cara bikin kopi", answered=False)
    ask(store, "Cara bikin kopi ", answered=False)
    ask(store, "cuaca besok", answered=False, chat_id=2)
    store.record_feedback(chat_id=1, user_id=7, story_id="marah", positive=True)
    store.record_feedback(chat_id=1, user_id=8, story_id="marah", positive=False)
    store.record_feedback(chat_id=2, user_id=9, story_id="harga", positive=True)

    everywhere = store.stats(days=7)
    assert (everywhere.asked, everywhere.answered) == (6, 3)
    assert everywhere.answered_share == pytest.approx(0.5)
    assert everywhere.top_stories == (("marah", 2), ("harga", 1))
    assert everywhere.top_unanswered[0].count == 2  # "cara bikin kopi" twice, case-folded
    assert everywhere.top_unanswered[0].text.strip().lower() == "cara bikin kopi"
    assert (everywhere.thumbs_up, everywhere.thumbs_down) == (2, 1)

    chat2 = store.stats(days=7, chat_id=2)
    assert (chat2.asked, chat2.answered, chat2.thumbs_up, chat2.thumbs_down) == (1, 0, 1, 0)
    assert [q.text for q in chat2.top_unanswered] == ["cuaca besok"]


def test_stats_window_excludes_older_questions(store: Store, clock: FakeClock) -> None:
    ask(store, "lama sekali")
    clock.advance(days=10)
    ask(store, "baru saja", answered=False)
    assert store.stats(days=7).asked == 1
    assert store.stats(days=30).asked == 2
    assert store.unanswered_questions(days=7) == ["baru saja"]


def test_questions_a_team_lead_decided_are_no_longer_listed_as_unanswered(store: Store) -> None:
    for text in ("buku koi buat bos", "Buku koi  buat bos", "jadwal kereta", "cuaca"):
        ask(store, text, answered=False)
    waiting, _ = store.inbox(chat_id=None, limit=10)
    by_text = {q.text: q.id for q in waiting}
    store.decide(
        by_text["Buku koi  buat bos"], "taught", story_id="a", by=1, decided_in=1, daily_limit=5
    )
    store.decide(by_text["jadwal kereta"], "gap", by=1, decided_in=1, daily_limit=5)
    # The same question in other case and spacing is settled with it.
    assert store.unanswered_questions() == ["cuaca"]
    undone = store.undo(by_text["jadwal kereta"], "gap", by=1)
    assert undone.outcome == "changed"
    assert store.unanswered_questions() == ["jadwal kereta", "cuaca"]


def test_privacy_switch_keeps_counts_but_never_text(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    with Store(path, log_questions=False) as store:
        ask(store, "rahasia pelanggan nomor 0812", answered=False)
        ask(store, "cust marah", answered=True)
        stats = store.stats(days=7)
        assert (stats.asked, stats.answered) == (2, 1)
        assert stats.top_unanswered == ()
        assert store.unanswered_questions() == []
        assert [q.text for q in store.question_log()] == [None, None]  # counted, not kept
        # Look at the raw bytes while the WAL is still there, and again after checkpointing.
        wal = path.with_name(path.name + "-wal")
        assert b"rahasia" not in path.read_bytes() + wal.read_bytes()
    assert b"rahasia" not in path.read_bytes()


def test_unknown_source_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        ask(store, "x", source="carrier-pigeon")


def test_migrates_a_version_1_database_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO chats (chat_id, language, timezone, updated_at) "
        "VALUES (42, 'en', 'Asia/Jayapura', '2026-01-01T00:00:00.000000Z')"
    )
    db.execute(
        "INSERT INTO questions (asked_at, chat_id, user_id, text, lang, anecdote_id, score, "
        "answered, source) VALUES ('2026-01-01T00:00:00.000000Z', 42, 1, 'lama', 'id', NULL, "
        "10, 0, 'private')"
    )
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.chat_language(42) == "en"
        assert store.chat_timezone(42) == "Asia/Jayapura"
        assert store.unanswered_questions() == ["lama"]


def test_refuses_a_database_from_a_newer_kisah(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_failed_write_leaves_nothing_half_done(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError), store._tx() as db:
        db.execute("INSERT INTO chats (chat_id, updated_at) VALUES (1, 'x')")
        db.execute("INSERT INTO chats (chat_id, updated_at) VALUES (1, 'x')")
    assert store.chat_language(1) is None
    assert store._read("SELECT COUNT(*) FROM chats")[0][0] == 0


def test_usable_from_worker_threads(store: Store) -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: ask(store, f"q{i}", chat_id=i % 3), range(200)))
    assert store.stats(days=1).asked == 200


def test_one_subscription_per_chat_and_one_daily_claim_per_local_day(store: Store) -> None:
    from datetime import date, time

    store.subscribe(9, time(8, 30), 0b1111111, user_id=1)
    store.subscribe(9, time(9, 15), 0b0011111, user_id=2)
    (only,) = store.subscriptions()
    assert (only.chat_id, only.at, only.days) == (9, time(9, 15), 0b0011111)
    day = date(2026, 11, 23)
    first = store.claim_daily(9, day, ["a:0", "a:1"])
    assert first is not None and first.state == "pending" and first.local_date == day
    assert store.claim_daily(9, day, ["a:0", "a:1"]) is None
    assert store.subscription(9).last_date == day  # type: ignore[union-attr]
    assert store.unsubscribe(9) and not store.unsubscribe(9)
    assert store.claim_daily(9, date(2026, 11, 24), ["a:0"]) is None  # unsubscribed


def test_reconcile_turns_unconfirmed_sends_into_unknown(store: Store) -> None:
    from datetime import date, time

    store.subscribe(1, time(8, 0), 0b1111111)
    delivery = store.claim_daily(1, date(2026, 11, 23), ["a:0"])
    assert delivery is not None and store.start_sending(delivery.id)
    assert not store.start_sending(delivery.id)  # only a pending row can start
    now_tip = store.take_tip(2, ["a:0"])
    assert now_tip is not None
    (unknown,) = store.reconcile_unconfirmed()
    assert unknown.id == delivery.id
    assert store.delivery_counts() == {"unknown": 1, "expired": 1}
    assert store.pending_deliveries() == []


def test_queued_tips_are_pending_again_after_a_restart(store: Store) -> None:
    """queued (waiting in the rate limiter) was never handed to Telegram: sent after a
    restart; sending (handed over) may have been: unknown, never resent."""
    from datetime import date, time

    for chat_id in (1, 2, 3):
        store.subscribe(chat_id, time(8, 0), 0b1111111)
    day = date(2026, 11, 23)
    waiting, handed, refused = (store.claim_daily(c, day, ["a:0"]) for c in (1, 2, 3))
    assert waiting is not None and handed is not None and refused is not None
    assert all(store.queue_delivery(d.id) for d in (waiting, handed, refused))
    assert not store.queue_delivery(waiting.id)  # only a pending row can be queued
    store.hand_over(handed.id)
    store.hand_over(refused.id)
    store.take_back(refused.id)  # a 429: nothing was sent, it waits again
    assert {d.chat_id: d.state for d in store.deliveries()} == {
        1: "queued",
        2: "sending",
        3: "queued",
    }
    (unknown,) = store.reconcile_unconfirmed()
    assert unknown.chat_id == 2
    assert [d.chat_id for d in store.pending_deliveries()] == [1, 3]


def test_moving_a_chat_takes_its_delivered_tips_along(store: Store) -> None:
    """A group migrating after today's tip: the new id has had it; an unsent one stays."""
    from datetime import date, time

    store.subscribe(-1, time(8, 0), 0b1111111)
    store.subscribe(-2, time(8, 0), 0b1111111)
    day = date(2026, 11, 23)
    sent = store.claim_daily(-1, day, ["a:0"])
    unsent = store.claim_daily(-2, day, ["a:0"])
    assert sent is not None and unsent is not None
    store.mark_sent(sent.id, 5)
    store.move_chat(-1, -1001)
    store.move_chat(-2, -1002)
    assert store.subscription(-1001).last_date == day  # type: ignore[union-attr]
    assert store.claim_daily(-1001, day, ["a:0"]) is None
    assert [d.id for d in store.deliveries(-2)] == [unsent.id]
    assert store.claim_daily(-1002, day, ["a:0"]) is not None


def test_moving_a_chat_takes_its_quiz_mode_and_answers_along(store: Store) -> None:
    """One move_chat carries the quiz records too: the supergroup keeps the group's daily
    mode, and its quiz questions count as already offered there."""
    store.set_daily_mode(-1, "mix")
    store.record_poll("p1", -1, "a:q0", 1)
    assert store.record_quiz_answer("p1", 10, 1) is not None
    store.move_chat(-1, -1001)
    assert store.daily_mode(-1001) == "mix"
    assert store.daily_mode(-1) == "tips"  # the old id is back to the default
    assert store.quizzes_offered(-1001) == {"a:q0": 1}
    assert [a.chat_id for a in store.quiz_history(10)] == [-1001]


def test_next_tip_key_shares_the_rotation_without_a_delivery_and_survives_reopening(
    tmp_path: Path,
) -> None:
    """/tip (next_tip_key), /tipnow (take_tip) and the daily tip (claim_daily) walk one
    rotation per chat: no tip repeats before the deck is used up, and only the deliveries
    are logged as deliveries."""
    keys = [f"a:{n}" for n in range(6)]
    path = tmp_path / DB_FILENAME
    with Store(path) as store:
        store.subscribe(5, datetime(2026, 1, 1, 8, 0).time(), 0b1111111)
        shown = [store.next_tip_key(5, keys), store.next_tip_key(5, keys)]
        now = store.take_tip(5, keys)
        daily = store.claim_daily(5, datetime(2026, 11, 23).date(), keys)
        assert now is not None and daily is not None
        shown += [now.tip_key, daily.tip_key]
        assert [d.kind for d in store.deliveries(5)] == ["now", "daily"]
    with Store(path) as reopened:  # a restart
        shown += [reopened.next_tip_key(5, keys), reopened.next_tip_key(5, keys)]
        assert len(reopened.deliveries(5)) == 2
        assert reopened.next_tip_key(5, []) is None
    assert sorted(shown) == keys  # the whole deck, nothing twice


def test_migration_4_keeps_group_decisions_in_their_group(tmp_path: Path) -> None:
    """Decisions made before scopes existed: those made in a group apply there only; those
    of a private chat (only TEAM_LEAD_IDS could) or the terminal stay bot-wide."""
    path = tmp_path / DB_FILENAME
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:3]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 3")
    for question_id, chat_id in [(1, -100), (2, 25), (3, 0)]:
        db.execute(
            "INSERT INTO decisions (question_id, decision, anecdote_id, previous, text, "
            "text_key, lang, chat_id, decided_by, decided_in, decided_at) VALUES "
            "(?, 'taught', 'a', 'open', 'koi', 'koi', 'id', ?, 5, ?, "
            "'2026-01-01T00:00:00.000000Z')",
            (question_id, chat_id, chat_id),
        )
    db.commit()
    db.close()
    with Store(path) as store:
        assert [(d.question_id, d.scope) for d in store.decisions("taught")] == [
            (1, -100),
            (2, None),
            (3, None),
        ]


def test_migration_5_makes_repeated_votes_one_and_ties_each_to_its_question(
    tmp_path: Path,
) -> None:
    """Votes recorded before a vote said which question it is about: 50 forged presses of
    one 👎 become one vote, on the question the inbox showed it under, still in the inbox."""
    path = tmp_path / DB_FILENAME
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:4]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 4")
    for number, (text, answered) in enumerate([("klien marah", 1), ("klien senang", 1)]):
        db.execute(
            "INSERT INTO questions (asked_at, chat_id, user_id, text, lang, anecdote_id, "
            "score, answered, source) VALUES (?, -5, 1, ?, 'id', 'marah', 90, ?, 'group')",
            (f"2026-01-01T00:0{number}:00.000000Z", text, answered),
        )
    votes = [(1, 0)] * 50 + [(2, 0), (1, 1)]  # (user, positive), all after both questions
    for user, positive in votes:
        db.execute(
            "INSERT INTO feedback (given_at, chat_id, user_id, anecdote_id, positive) "
            "VALUES ('2026-01-01T00:05:00.000000Z', -5, ?, 'marah', ?)",
            (user, positive),
        )
    db.commit()
    db.close()
    with Store(path) as store:
        rows = store._read("SELECT user_id, positive, question_id FROM feedback ORDER BY id")
        assert [tuple(row) for row in rows] == [(1, 0, 2), (2, 0, 2)]
        assert store.stats(days=100_000).thumbs_down == 2
        waiting, total = store.inbox(chat_id=-5, limit=5)
        assert [(q.text, q.thumbs_down) for q in waiting] == [("klien senang", True)]


def test_one_vote_per_user_message_and_story(store: Store) -> None:
    ask(store, "klien marah", story_id="marah", answered=True, chat_id=-5)
    for _ in range(3):
        store.record_feedback(
            chat_id=-5, user_id=7, story_id="marah", positive=False, message_id=11
        )
    store.record_feedback(chat_id=-5, user_id=8, story_id="marah", positive=False, message_id=11)
    store.record_feedback(chat_id=-5, user_id=7, story_id="marah", positive=False, message_id=12)
    store.flush()
    assert store.stats(days=1, chat_id=-5).thumbs_down == 3


def test_a_read_never_waits_behind_another_reads_query(store: Store) -> None:
    """A lead's long /inbox query (held open here) does not hold up a member's answer: the
    chat's language is read on a connection of its own."""
    import threading

    store.set_chat_language(5, "en")
    inside, release = threading.Event(), threading.Event()

    def long_read() -> None:
        with store._snapshot() as db:  # noqa: SLF001 - a query that lasts until released
            db.execute("SELECT COUNT(*) FROM questions").fetchone()
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=long_read)
    holder.start()
    try:
        assert inside.wait(5)
        answers: list[str | None] = []
        reader = threading.Thread(target=lambda: answers.append(store.chat_language(5)))
        reader.start()
        reader.join(5)  # a guard only: with one shared connection it would wait for release
        assert answers == ["en"]
    finally:
        release.set()
        holder.join()
