"""Everything Kisah remembers, in one SQLite file: chats, questions, feedback, subscriptions.

Why SQLite and why this shape:
- One file under `settings.data_dir`, opened once per process, in WAL mode: readers never wait
  for the writer, and a commit is an append to the WAL, cheap enough to do once per delivered
  tip (that is what makes the delivery log crash-safe, see `bot/leads/schedule.py`).
- `synchronous=NORMAL`: with WAL a process crash (kill -9) never loses a committed transaction;
  only a power cut can lose the last few, which is the documented SQLite trade-off.
- The schema is versioned with `PRAGMA user_version` and upgraded at open by the ordered
  scripts in `MIGRATIONS`, so an old data directory keeps working after an update.
- Three connections, each shared by threads (`check_same_thread=False`) behind its own lock,
  so that a write lock held by another process (a backup, the sqlite3 shell) never makes a
  user wait: one for writes whose result a caller needs (one short transaction per call, the
  Telegram layer calls in through `asyncio.to_thread`), one for reads (WAL readers never wait
  for a writer), and one owned by a thread that writes the best-effort records, questions and
  feedback, from a queue (`_RecordWriter`): recording returns at once, and the thread retries
  until the lock is released. `close()` writes what is still queued.
- A database SQLite cannot open, or one whose pages are damaged (`PRAGMA quick_check` at open),
  is refused at start with one line naming the file and saying why (`StoreError`).
- Times are stored as UTC ISO-8601 text ("2026-11-23T11:55:00Z"): sortable, readable in the
  sqlite3 shell, and free of local-time ambiguity.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import TYPE_CHECKING

from bot.content.knowledge import LANGUAGES
from bot.leads.tips import next_tip
from bot.storage.cache import make_private_dir
from bot.storage.inboxrecords import (
    DECISIONS,
    OPEN,
    TAUGHT,
    Change,
    Decision,
    Question,
    parse_state,
    state_of,
    text_key,
)
from bot.storage.quizrecords import MIGRATION as QUIZ_MIGRATION
from bot.storage.quizrecords import QuizRecords
from bot.storage.tiprecords import Delivery, Subscription

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

DB_FILENAME = "kisah.sqlite3"
SOURCES = frozenset({"private", "group", "inline", "cli"})

Clock = Callable[[], datetime]

# Writes whose result a caller waits for wait this long for a lock another process holds.
WRITE_BUSY_SECONDS = 10.0
# Reads never wait for a writer in WAL mode; this only covers SQLite's rare short busy cases
# (another connection recovering the WAL after a crash).
READ_BUSY_SECONDS = 5.0
# The record writer's wait per attempt: short, so it notices `close()` and reports "stalled"
# (reads then stop waiting for it) soon after another process takes the lock.
RECORD_BUSY_SECONDS = 0.25
# A read of the questions or feedback waits at most this long for records queued before it.
READ_WAIT_SECONDS = 2.0
# `close()` waits at most this long for a lock another process holds, then drops (and logs)
# the records still queued: a stop must end.
CLOSE_WAIT_SECONDS = 10.0
# Records waiting for a locked database beyond this many are dropped (and logged), so a lock
# held for hours cannot eat the memory; about a minute of heavy traffic.
MAX_QUEUED_RECORDS = 10_000
# A caller that outpaces a writable database waits this long at most for room in the queue.
FULL_QUEUE_WAIT_SECONDS = 5.0
RECORD_BATCH = 500  # records per transaction when a backlog is written
RECORD_ATTEMPTS = 3  # tries for an error other than "locked" (disk full, I/O) before dropping

# MIGRATIONS[n] upgrades a database from user_version n to n + 1. Never edit a shipped entry:
# add a new one, so every existing data directory follows the same path to the current schema.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: chat settings, questions asked, feedback.
    """
    CREATE TABLE chats (
        chat_id     INTEGER PRIMARY KEY,
        language    TEXT,              -- 'id' | 'en' | NULL (not chosen: detect per question)
        timezone    TEXT,              -- IANA name | NULL (use settings.timezone)
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE questions (
        id          INTEGER PRIMARY KEY,
        asked_at    TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,
        user_id     INTEGER,
        text        TEXT,              -- NULL when BOT_LOG_QUESTIONS=false
        lang        TEXT NOT NULL,
        anecdote_id TEXT,              -- best match, NULL when nothing matched
        score       INTEGER NOT NULL,
        answered    INTEGER NOT NULL,  -- 0 | 1
        source      TEXT NOT NULL      -- 'private' | 'group' | 'inline' | 'cli'
    );
    CREATE INDEX questions_by_time ON questions (asked_at);
    CREATE INDEX questions_by_chat ON questions (chat_id, asked_at);
    CREATE TABLE feedback (
        id          INTEGER PRIMARY KEY,
        given_at    TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,
        user_id     INTEGER,
        anecdote_id TEXT NOT NULL,
        positive    INTEGER NOT NULL   -- 1 = thumbs up, 0 = thumbs down
    );
    CREATE INDEX feedback_by_time ON feedback (given_at);
    """,
    # 1 -> 2: daily-tip subscriptions, the delivery log, and each chat's place in the tip deck.
    """
    CREATE TABLE subscriptions (
        chat_id     INTEGER PRIMARY KEY,  -- one per chat: /daily again changes it
        at_time     TEXT NOT NULL,        -- 'HH:MM', local time in the chat's zone
        days        INTEGER NOT NULL,     -- day mask, bit 0 = Monday
        since       TEXT NOT NULL,        -- set or last changed (UTC): earlier slots not owed
        created_by  INTEGER,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY,
        chat_id     INTEGER NOT NULL,
        kind        TEXT NOT NULL,        -- 'daily' | 'now'
        local_date  TEXT,                 -- 'YYYY-MM-DD' in the chat's zone (daily), else NULL
        tip_key     TEXT NOT NULL,
        state       TEXT NOT NULL,        -- pending|sending|sent|failed|unknown|expired
        message_id  INTEGER,
        error       TEXT,
        claimed_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        UNIQUE (chat_id, local_date)      -- at most one daily tip per chat and local day
    );
    CREATE INDEX deliveries_by_state ON deliveries (state);
    CREATE TABLE tip_rotation (
        chat_id     INTEGER PRIMARY KEY,
        cycle       INTEGER NOT NULL,     -- how many times this chat went through the deck
        last_key    TEXT
    );
    CREATE TABLE tips_used (
        chat_id     INTEGER NOT NULL,
        cycle       INTEGER NOT NULL,
        tip_key     TEXT NOT NULL,
        used_at     TEXT NOT NULL,
        PRIMARY KEY (chat_id, cycle, tip_key)
    );
    """,
    # 2 -> 3: what team leads decided about questions in their inbox (bot/leads/inbox.py).
    """
    CREATE TABLE decisions (
        question_id INTEGER PRIMARY KEY,  -- questions.id: one decision per question
        decision    TEXT NOT NULL,        -- 'taught' | 'gap' (no story fits) | 'skip' |
                                          -- 'open' (undone: back in the inbox)
        anecdote_id TEXT,                 -- the story taught ('taught' only)
        previous    TEXT,                 -- the state an undo restores: 'taught:<id>',
                                          -- 'gap', 'skip', 'open', NULL (nothing to undo)
        text        TEXT NOT NULL,        -- the question as asked (the taught phrasing)
        text_key    TEXT NOT NULL,        -- inboxrecords.text_key: the same question
        lang        TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,     -- the chat the question was asked in
        decided_by  INTEGER,              -- the team lead's user id
        decided_in  INTEGER NOT NULL,     -- the chat the lead decided in (daily limit)
        decided_at  TEXT NOT NULL,
        notified_at TEXT                  -- when the asker heard back (at most once)
    );
    CREATE INDEX decisions_by_key ON decisions (text_key);
    CREATE INDEX decisions_by_time ON decisions (decided_at);
    """,
    # 3 -> 4: where a decision applies (issue 15): a group's admins teach that group only.
    # Decisions made in a group so far become that group's; those made in a private chat
    # (only TEAM_LEAD_IDS could) or the terminal stay bot-wide (NULL).
    """
    ALTER TABLE decisions ADD COLUMN scope INTEGER;          -- NULL: every chat, else a group
    ALTER TABLE decisions ADD COLUMN previous_scope INTEGER; -- the scope an undo restores
    UPDATE decisions SET scope = decided_in, previous_scope = decided_in WHERE decided_in < 0;
    """,
    # 4 -> 5: quiz polls and answers, users who started the bot in private, each chat's daily
    # mode (tips, quiz, mix) and the weekly digests (issue 19; bot/storage/quizrecords.py).
    QUIZ_MIGRATION,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(RuntimeError):
    """The database cannot be used as it is (e.g. written by a newer Kisah)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    """UTC ISO text with a Z, the one time format in the database (sorts as it reads)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class QuestionCount:
    text: str | None
    count: int


@dataclass(frozen=True)
class Stats:
    """What /stats and `python -m bot report` show for one chat (or all) over a period."""

    since: datetime
    asked: int
    answered: int
    top_stories: tuple[tuple[str, int], ...]  # (anecdote id, questions answered with it)
    top_unanswered: tuple[QuestionCount, ...]  # empty texts when questions are not logged
    thumbs_up: int
    thumbs_down: int

    @property
    def answered_share(self) -> float:
        return self.answered / self.asked if self.asked else 0.0


class Store:
    """The one handle on the database; every public method is one short transaction, except
    the best-effort records (questions, feedback), which are queued (see the module doc)."""

    def __init__(self, path: Path, log_questions: bool = True, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self.log_questions = log_questions
        self.clock = clock
        _make_data_dir(self.path.parent)
        _create_private(self.path)
        self._lock = threading.RLock()  # the write connection
        self._read_lock = threading.Lock()  # the read connection
        self._reader: sqlite3.Connection | None = None
        self._records: _RecordWriter | None = None
        try:
            # isolation_level=None: no implicit transactions; `_tx` says BEGIN IMMEDIATE itself
            # so the write lock is taken up front and a read-then-write can never be interleaved.
            self._db = _connect(self.path, WRITE_BUSY_SECONDS)
        except sqlite3.Error as exc:
            raise StoreError(_open_problem(self.path, exc)) from exc
        try:
            _check_pages(self.path, self._db)
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._reader = _connect(self.path, READ_BUSY_SECONDS)
            self._reader.execute("PRAGMA query_only=ON")
            self._records = _RecordWriter(self.path)
        except BaseException as exc:
            self._close_connections()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(_open_problem(self.path, exc)) from exc
            raise

    @property
    def quiz(self) -> QuizRecords:
        """The quiz records (bot/storage/quizrecords.py), on this store's connections."""
        return QuizRecords(self)

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """The store for a configured bot: `<data_dir>/kisah.sqlite3`."""
        return cls(Path(settings.data_dir) / DB_FILENAME, log_questions=settings.log_questions)

    def close(self, timeout: float = CLOSE_WAIT_SECONDS) -> None:
        """Write the records still queued, then close. A clean stop loses nothing unless
        another process keeps the database locked for `timeout` seconds more (then the
        records left are dropped and logged). Closing twice is harmless."""
        if self._records is not None:
            self._records.close(timeout)
        self._close_connections()

    def _close_connections(self) -> None:
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
        with self._lock:
            self._db.close()

    def flush(self, timeout: float = CLOSE_WAIT_SECONDS) -> bool:
        """Wait until every record queued before this call is written (or dropped and
        logged); False when `timeout` passed first, e.g. while another process holds the
        lock. For tests and tools; the bot itself never waits for its records."""
        return self._records.wait(timeout) if self._records is not None else True

    @property
    def dropped_records(self) -> int:
        """Records given up on since the store opened (logged): 0 in a healthy run."""
        return self._records.dropped if self._records is not None else 0

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on success, rolled back on any exception."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _await_records(self) -> None:
        """Before a read of the questions or feedback: let the records queued before it land,
        so this process reads what it wrote. Never waits for a locked database: once the
        writer finds the lock taken, the read goes ahead with what is committed."""
        if self._records is not None:
            self._records.wait(READ_WAIT_SECONDS, unless_stalled=True)

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Rows from the read connection: never behind a write, ours or another process's."""
        if _RECORD_TABLES.search(sql):
            self._await_records()
        assert self._reader is not None
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """Several reads that see one state of the database (one read transaction)."""
        assert self._reader is not None
        with self._read_lock:
            self._reader.execute("BEGIN")
            try:
                yield self._reader
            finally:
                self._reader.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    def _migrate(self) -> None:
        with self._lock:
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this Kisah "
                f"understands ({SCHEMA_VERSION}); update Kisah or use another BOT_DATA_DIR"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx() as db:
                # executescript would COMMIT on its own; run statement by statement instead
                # so the schema change and the version bump land in one transaction.
                for statement in _statements(MIGRATIONS[target - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")
            log.info("store migrated path=%s version=%d", self.path, target)

    def _now(self) -> str:
        return to_db_time(self.clock())

    # -- chat settings ------------------------------------------------------------------------

    def chat_language(self, chat_id: int) -> str | None:
        return self._chat_setting(chat_id, "language")

    def set_chat_language(self, chat_id: int, lang: str | None) -> None:
        if lang is not None and lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}")
        self._set_chat_setting(chat_id, "language", lang)

    def chat_timezone(self, chat_id: int) -> str | None:
        """The chat's own zone, or None when it never chose one (use settings.timezone)."""
        return self._chat_setting(chat_id, "timezone")

    def set_chat_timezone(self, chat_id: int, timezone: str | None) -> None:
        self._set_chat_setting(chat_id, "timezone", timezone)

    # The per-chat settings; a column name is only ever one of these (never user input).
    _CHAT_SETTINGS = frozenset({"language", "timezone"})

    def _chat_setting(self, chat_id: int, column: str) -> str | None:
        assert column in self._CHAT_SETTINGS, column
        rows = self._read(f"SELECT {column} FROM chats WHERE chat_id = ?", (chat_id,))
        return rows[0][column] if rows else None

    def _set_chat_setting(self, chat_id: int, column: str, value: str | None) -> None:
        """Set one setting of the chat, creating its row if needed; the others stay."""
        assert column in self._CHAT_SETTINGS, column
        with self._tx() as db:
            db.execute(
                f"INSERT INTO chats (chat_id, {column}, updated_at) VALUES (?, ?, ?) "
                f"ON CONFLICT (chat_id) DO UPDATE SET {column} = excluded.{column}, "
                "updated_at = excluded.updated_at",
                (chat_id, value, self._now()),
            )

    # -- questions and feedback ---------------------------------------------------------------

    def record_question(
        self,
        *,
        chat_id: int,
        user_id: int | None,
        text: str,
        lang: str,
        anecdote_id: str | None,
        score: int,
        answered: bool,
        source: str,
    ) -> None:
        """Log one question; its text only when the operator allows it (BOT_LOG_QUESTIONS).

        Queued, not written here: it returns at once even while another process holds the
        database's write lock, and the time asked is taken now, not when it is written.
        """
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}, expected one of {sorted(SOURCES)}")
        self._queue_record(
            "INSERT INTO questions (asked_at, chat_id, user_id, text, lang, anecdote_id, "
            "score, answered, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._now(),
                chat_id,
                user_id,
                text if self.log_questions else None,
                lang,
                anecdote_id,
                int(score),
                int(bool(answered)),
                source,
            ),
        )

    def record_feedback(
        self, *, chat_id: int, user_id: int | None, anecdote_id: str, positive: bool
    ) -> None:
        """Log a thumbs up or down; queued like a question, returns at once."""
        self._queue_record(
            "INSERT INTO feedback (given_at, chat_id, user_id, anecdote_id, positive) "
            "VALUES (?, ?, ?, ?, ?)",
            (self._now(), chat_id, user_id, anecdote_id, int(bool(positive))),
        )

    def _queue_record(self, sql: str, params: tuple[object, ...]) -> None:
        if self._records is None:  # pragma: no cover - only a half-built store has none
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        self._records.put(sql, params)

    # -- statistics ---------------------------------------------------------------------------

    def stats(self, *, days: int, chat_id: int | None = None, top: int = 5) -> Stats:
        """Counts for the last `days` days, for one chat or (chat_id=None) every chat."""
        since = self.clock() - timedelta(days=days)
        where = "asked_at >= ?" + (" AND chat_id = ?" if chat_id is not None else "")
        params: tuple[object, ...] = (to_db_time(since),) + (
            (chat_id,) if chat_id is not None else ()
        )
        self._await_records()
        with self._snapshot() as db:
            asked, answered = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions WHERE {where}",
                params,
            ).fetchone()
            stories = db.execute(
                f"SELECT anecdote_id, COUNT(*) AS n FROM questions WHERE {where} "
                "AND answered = 1 AND anecdote_id IS NOT NULL "
                "GROUP BY anecdote_id ORDER BY n DESC, anecdote_id LIMIT ?",
                (*params, top),
            ).fetchall()
            unanswered = db.execute(
                f"SELECT text, COUNT(*) AS n FROM questions WHERE {where} AND answered = 0 "
                "AND text IS NOT NULL GROUP BY lower(trim(text)) ORDER BY n DESC, text LIMIT ?",
                (*params, top),
            ).fetchall()
            fb_where = "given_at >= ?" + (" AND chat_id = ?" if chat_id is not None else "")
            up, down = db.execute(
                "SELECT COALESCE(SUM(positive), 0), COALESCE(SUM(1 - positive), 0) "
                f"FROM feedback WHERE {fb_where}",
                params,
            ).fetchone()
        return Stats(
            since=since,
            asked=int(asked),
            answered=int(answered),
            top_stories=tuple((row["anecdote_id"], int(row["n"])) for row in stories),
            top_unanswered=tuple(QuestionCount(row["text"], int(row["n"])) for row in unanswered),
            thumbs_up=int(up),
            thumbs_down=int(down),
        )

    # -- subscriptions --------------------------------------------------------------------------

    def subscribe(
        self, chat_id: int, at: time, days: int, *, user_id: int | None = None
    ) -> Subscription:
        """Create or change the chat's one subscription; the new time counts from now on."""
        now = self._now()
        with self._tx() as db:
            db.execute(
                "INSERT INTO subscriptions (chat_id, at_time, days, since, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET "
                "at_time = excluded.at_time, days = excluded.days, since = excluded.since",
                (chat_id, at.strftime("%H:%M"), days, now, user_id, now),
            )
        subscription = self.subscription(chat_id)
        assert subscription is not None
        return subscription

    def unsubscribe(self, chat_id: int) -> bool:
        """Stop the chat's daily tip; False when it had none."""
        with self._tx() as db:
            return (
                db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,)).rowcount > 0
            )

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group upgraded to a supergroup (new id): its settings, subscription and place in
        the deck follow it. Rows the new id already has win.

        So do the tips that reached it or may have (`sent`, `sending`, `unknown`), so that a
        group migrating after today's tip is not owed a second one under its new id. Tips not
        sent (pending, queued, failed, ...) stay behind: the new id claims its own.
        """
        with self._tx() as db:
            db.execute(
                "UPDATE OR IGNORE deliveries SET chat_id = ? "
                "WHERE chat_id = ? AND state IN ('sent', 'sending', 'unknown')",
                (new_chat_id, old_chat_id),
            )
            for table in ("chats", "subscriptions", "tip_rotation"):
                db.execute(
                    f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?",
                    (new_chat_id, old_chat_id),
                )
                db.execute(f"DELETE FROM {table} WHERE chat_id = ?", (old_chat_id,))
            db.execute(
                "UPDATE OR IGNORE tips_used SET chat_id = ? WHERE chat_id = ?",
                (new_chat_id, old_chat_id),
            )

    _SUBSCRIPTION_SELECT = (
        "SELECT s.chat_id, s.at_time, s.days, s.since, c.timezone, c.language, "
        "(SELECT MAX(d.local_date) FROM deliveries d WHERE d.chat_id = s.chat_id "
        "AND d.kind = 'daily') AS last_date "
        "FROM subscriptions s LEFT JOIN chats c ON c.chat_id = s.chat_id"
    )

    def subscription(self, chat_id: int) -> Subscription | None:
        rows = self._read(self._SUBSCRIPTION_SELECT + " WHERE s.chat_id = ?", (chat_id,))
        return _subscription(rows[0]) if rows else None

    def subscriptions(self) -> list[Subscription]:
        """Every subscription, with what `schedule.due_date` needs (zone, last delivery)."""
        return [_subscription(row) for row in self._read(self._SUBSCRIPTION_SELECT)]

    # -- tip rotation and the delivery log ----------------------------------------------------

    def _take_tip(self, db: sqlite3.Connection, chat_id: int, keys: list[str]) -> str | None:
        """Advance the chat's rotation inside the caller's transaction; return the tip key."""
        row = db.execute(
            "SELECT cycle, last_key FROM tip_rotation WHERE chat_id = ?", (chat_id,)
        ).fetchone()
        cycle, last = (row["cycle"], row["last_key"]) if row else (0, None)
        used = {
            r["tip_key"]
            for r in db.execute(
                "SELECT tip_key FROM tips_used WHERE chat_id = ? AND cycle = ?", (chat_id, cycle)
            )
        }
        choice = next_tip(keys, chat_id, cycle, used, last)
        if choice is None:
            return None
        db.execute(
            "INSERT INTO tips_used (chat_id, cycle, tip_key, used_at) VALUES (?, ?, ?, ?)",
            (chat_id, choice.cycle, choice.key, self._now()),
        )
        db.execute(
            "INSERT INTO tip_rotation (chat_id, cycle, last_key) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET cycle = excluded.cycle, "
            "last_key = excluded.last_key",
            (chat_id, choice.cycle, choice.key),
        )
        if choice.cycle != cycle:
            # Only the current cycle is ever read; keep one old cycle for inspection.
            db.execute("DELETE FROM tips_used WHERE chat_id = ? AND cycle < ?", (chat_id, cycle))
        return choice.key

    def _insert_delivery(
        self,
        db: sqlite3.Connection,
        chat_id: int,
        kind: str,
        day: date | None,
        keys: list[str],
    ) -> Delivery | None:
        tip_key = self._take_tip(db, chat_id, keys)
        if tip_key is None:
            log.error("tip deck is empty, nothing to deliver chat_id=%s", chat_id)
            return None
        now = self._now()
        cursor = db.execute(
            "INSERT INTO deliveries (chat_id, kind, local_date, tip_key, state, claimed_at, "
            "updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            (chat_id, kind, day.isoformat() if day else None, tip_key, now, now),
        )
        row = db.execute(_DELIVERY_SELECT + " WHERE d.id = ?", (cursor.lastrowid,)).fetchone()
        return _delivery(row)

    def claim_daily(self, chat_id: int, day: date, keys: list[str]) -> Delivery | None:
        """Reserve the chat's daily tip for local `day` and choose it, in one transaction.

        Returns None when that day is already claimed (by any earlier run, crashed or not)
        or the chat unsubscribed meanwhile: the unique (chat, local date) row is what makes
        a second tip on the same day impossible.
        """
        with self._tx() as db:
            if not db.execute(
                "SELECT 1 FROM subscriptions WHERE chat_id = ?", (chat_id,)
            ).fetchone():
                return None
            if db.execute(
                "SELECT 1 FROM deliveries WHERE chat_id = ? AND local_date = ?",
                (chat_id, day.isoformat()),
            ).fetchone():
                return None
            return self._insert_delivery(db, chat_id, "daily", day, keys)

    def next_tip_key(self, chat_id: int, keys: list[str]) -> str | None:
        """Advance the chat's tip rotation and return the key, without a delivery record.

        For /tip and the terminal chat: the tip is shown as the answer to a command, so there
        is nothing to deliver exactly once, but it walks the same rotation as /tipnow and the
        daily tip, so none of them repeats another before the deck is used up, and the place
        in the deck survives a restart. None only for an empty deck.
        """
        with self._tx() as db:
            return self._take_tip(db, chat_id, keys)

    def take_tip(self, chat_id: int, keys: list[str]) -> Delivery | None:
        """The chat's next tip for an immediate send (/tipnow), logged as a 'now' delivery."""
        with self._tx() as db:
            return self._insert_delivery(db, chat_id, "now", None, keys)

    def pending_deliveries(self) -> list[Delivery]:
        """Daily tips claimed but certainly not sent yet (also those a crash left behind)."""
        rows = self._read(
            _DELIVERY_SELECT + " WHERE d.state = 'pending' AND d.kind = 'daily' ORDER BY d.id"
        )
        return [_delivery(row) for row in rows]

    def start_sending(self, delivery_id: int) -> bool:
        """pending -> sending, committed right before the request; False if not pending.

        A daily tip whose chat unsubscribed since it was claimed (/daily off during a long
        broadcast) is cancelled here instead of sent.
        """
        return self._take_pending(delivery_id, "sending")

    def queue_delivery(self, delivery_id: int) -> bool:
        """pending -> queued: a worker took the tip, its request may now wait in the rate
        limiter; `hand_over` marks when it leaves. Cancelled as in `start_sending`."""
        return self._take_pending(delivery_id, "queued")

    def _take_pending(self, delivery_id: int, state: str) -> bool:
        with self._tx() as db:
            now = self._now()
            cancelled = db.execute(
                "UPDATE deliveries SET state = 'cancelled', updated_at = ? "
                "WHERE id = ? AND state = 'pending' AND kind = 'daily' AND NOT EXISTS "
                "(SELECT 1 FROM subscriptions s WHERE s.chat_id = deliveries.chat_id)",
                (now, delivery_id),
            ).rowcount
            if cancelled:
                return False
            return (
                db.execute(
                    "UPDATE deliveries SET state = ?, updated_at = ? "
                    "WHERE id = ? AND state = 'pending'",
                    (state, now, delivery_id),
                ).rowcount
                == 1
            )

    def hand_over(self, delivery_id: int) -> None:
        """queued -> sending, committed as the request leaves for Telegram."""
        self._move_delivery(delivery_id, "queued", "sending")

    def take_back(self, delivery_id: int) -> None:
        """sending -> queued: Telegram answered 429, so nothing was sent; it waits again."""
        self._move_delivery(delivery_id, "sending", "queued")

    def _move_delivery(self, delivery_id: int, old: str, new: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                (new, self._now(), delivery_id, old),
            )

    def mark_sent(self, delivery_id: int, message_id: int | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET state = 'sent', message_id = ?, updated_at = ? WHERE id = ?",
                (message_id, self._now(), delivery_id),
            )

    def mark_delivery(self, delivery_id: int, state: str, error: str | None = None) -> None:
        if state not in DELIVERY_STATES:
            raise ValueError(f"unknown delivery state {state!r}")
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, error = COALESCE(?, error), updated_at = ? "
                "WHERE id = ?",
                (state, error, self._now(), delivery_id),
            )

    def reconcile_unconfirmed(self) -> list[Delivery]:
        """At start: rows a crash left in `sending` become `unknown` (never resent); daily
        tips left `queued` (never handed to Telegram) become `pending`, to be sent.

        Also expires /tipnow rows left `pending`: the person who asked has moved on.
        See `bot/leads/schedule.py` for why unconfirmed means at-most-once.
        """
        with self._tx() as db:
            rows = db.execute(_DELIVERY_SELECT + " WHERE d.state = 'sending'").fetchall()
            now = self._now()
            db.execute(
                "UPDATE deliveries SET state = 'unknown', error = 'unconfirmed at restart', "
                "updated_at = ? WHERE state = 'sending'",
                (now,),
            )
            db.execute(
                "UPDATE deliveries SET state = 'expired', updated_at = ? "
                "WHERE state = 'pending' AND kind = 'now'",
                (now,),
            )
            db.execute(
                "UPDATE deliveries SET state = 'pending', updated_at = ? "
                "WHERE state = 'queued' AND kind = 'daily'",
                (now,),
            )
        return [_delivery(row) for row in rows]

    def deliveries(self, chat_id: int | None = None) -> list[Delivery]:
        """The delivery log (oldest first), for tests, the benchmark and the report."""
        if chat_id is None:
            rows = self._read(_DELIVERY_SELECT + " ORDER BY d.id")
        else:
            rows = self._read(_DELIVERY_SELECT + " WHERE d.chat_id = ? ORDER BY d.id", (chat_id,))
        return [_delivery(row) for row in rows]

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        rows = self._read("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
        return {row["state"]: int(row["n"]) for row in rows}

    def unanswered_questions(self, *, days: int | None = None) -> list[str]:
        """Every logged unanswered question text (for grouping into new-trigger candidates),
        except those a team lead already decided: taught ones are answered now, and content
        gaps and skipped ones are listed (or dropped) on their own."""
        sql = (
            "SELECT text, chat_id, asked_at FROM questions WHERE answered = 0 AND text IS NOT NULL"
        )
        params: tuple[object, ...] = ()
        if days is not None:
            sql += " AND asked_at >= ?"
            params = (to_db_time(self.clock() - timedelta(days=days)),)
        settled = self._settlements()
        rows = self._read(sql + " ORDER BY id", params)
        return [
            row["text"]
            for row in rows
            if not _settled(settled, row["text"], row["chat_id"], row["asked_at"], down=False)
        ]

    def _settlements(self) -> dict[str, list[tuple[int | None, str]]]:
        """The decisions not undone, by `text_key`: (scope, decided_at) of each. A decision
        settles the same question in its scope only (see `_settled`)."""
        rows = self._read(
            "SELECT text_key, scope, decided_at FROM decisions WHERE decision != 'open'"
        )
        settled: dict[str, list[tuple[int | None, str]]] = {}
        for row in rows:
            settled.setdefault(row["text_key"], []).append((row["scope"], row["decided_at"]))
        return settled

    # -- the team leads' inbox ----------------------------------------------------------------

    def question(self, question_id: int) -> Question | None:
        """One recorded question with its text (None when missing or its text was not kept)."""
        rows = self._read(
            "SELECT id, asked_at, chat_id, user_id, text, lang, answered, anecdote_id "
            "FROM questions WHERE id = ? AND text IS NOT NULL",
            (question_id,),
        )
        return _question(rows[0]) if rows else None

    def inbox(
        self, *, chat_id: int | None, limit: int, offset: int = 0
    ) -> tuple[list[Question], int]:
        """Questions waiting for a team lead, newest first, and how many wait in all.

        Waiting: unanswered, or answered and then voted 👎 (a 👎 belongs to the latest
        question of that chat answered with that story before the vote), with the text kept,
        and not settled by a decision on the same text (`_settled`: in the question's chat or
        bot-wide; a 👎 after the decision brings it back), a question asked three times shown
        once, the newest. `chat_id` None: every chat's.
        """
        where = " AND q.chat_id = ?" if chat_id is not None else ""
        params: tuple[object, ...] = (chat_id,) if chat_id is not None else ()
        rows = self._read(
            f"""
            WITH down AS (
                SELECT (SELECT q2.id FROM questions q2
                        WHERE q2.chat_id = f.chat_id AND q2.anecdote_id = f.anecdote_id
                          AND q2.answered = 1 AND q2.asked_at <= f.given_at
                        ORDER BY q2.id DESC LIMIT 1) AS id
                FROM feedback f WHERE f.positive = 0
            )
            SELECT q.id, q.asked_at, q.chat_id, q.user_id, q.text, q.lang, q.answered,
                   q.anecdote_id, q.id IN (SELECT id FROM down) AS down
            FROM questions q
            WHERE q.text IS NOT NULL AND trim(q.text) != ''
              AND (q.answered = 0 OR q.id IN (SELECT id FROM down)){where}
            ORDER BY q.id DESC LIMIT ?
            """,
            (*params, INBOX_SCAN),
        )
        settled = self._settlements()
        seen: set[str] = set()
        waiting: list[Question] = []
        for row in rows:
            key = text_key(row["text"])
            if key in seen or _settled(
                settled, row["text"], row["chat_id"], row["asked_at"], down=bool(row["down"])
            ):
                continue
            seen.add(key)
            waiting.append(_question(row))
        return waiting[offset : offset + limit], len(waiting)

    def decision(self, question_id: int) -> Decision | None:
        rows = self._read(_DECISION_SELECT + " WHERE question_id = ?", (question_id,))
        return _decision(rows[0]) if rows else None

    def decide(
        self,
        question_id: int,
        decision: str,
        *,
        anecdote_id: str | None = None,
        by: int | None,
        decided_in: int,
        daily_limit: int,
        scope: int | None = None,
    ) -> Change:
        """Record a team lead's decision on a question (a later one replaces it, and undo
        restores the one before). Teaching counts against the deciding chat's limit of
        `daily_limit` per 24 hours. The first teaching of a question says `notify`: the asker
        hears back once, never again for that question (re-pointing or teaching after undo).

        `scope`: where it applies, a group's chat id, or None for every chat (a lead listed
        in TEAM_LEAD_IDS, from their private chat). A group's lead cannot change a bot-wide
        decision ('bot_wide')."""
        if decision not in DECISIONS or (decision == TAUGHT) != (anecdote_id is not None):
            raise ValueError(f"bad decision {decision!r} for story {anecdote_id!r}")
        self._await_records()
        now = self.clock()
        with self._tx() as db:
            row = db.execute(
                "SELECT id, asked_at, chat_id, user_id, text, lang, answered, anecdote_id "
                "FROM questions WHERE id = ? AND text IS NOT NULL",
                (question_id,),
            ).fetchone()
            if row is None:
                return Change("missing")
            question = _question(row)
            current = db.execute(
                _DECISION_SELECT + " WHERE question_id = ?", (question_id,)
            ).fetchone()
            before = _decision(current) if current is not None else None
            if _outranked(before, scope):
                return Change("bot_wide", before)
            new_state = state_of(decision, anecdote_id)
            if before is not None and before.state == new_state and before.scope == scope:
                return Change("unchanged", before)
            if (
                decision == TAUGHT
                and _taught_today(db, decided_in, now, question_id) >= daily_limit
            ):
                return Change("limit", before)
            notify = decision == TAUGHT and (before is None or before.notified_at is None)
            db.execute(
                "INSERT INTO decisions (question_id, decision, anecdote_id, previous, text, "
                "text_key, lang, chat_id, decided_by, decided_in, decided_at, notified_at, "
                "scope, previous_scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (question_id) DO UPDATE SET decision = excluded.decision, "
                "anecdote_id = excluded.anecdote_id, previous = excluded.previous, "
                "decided_by = excluded.decided_by, decided_in = excluded.decided_in, "
                "decided_at = excluded.decided_at, "
                "notified_at = COALESCE(decisions.notified_at, excluded.notified_at), "
                "scope = excluded.scope, previous_scope = excluded.previous_scope",
                (
                    question_id,
                    decision,
                    anecdote_id,
                    before.state if before is not None else OPEN,
                    question.text,
                    text_key(question.text),
                    question.lang,
                    question.chat_id,
                    by,
                    decided_in,
                    to_db_time(now),
                    to_db_time(now) if notify else None,
                    scope,
                    before.scope if before is not None else scope,
                ),
            )
            after = db.execute(
                _DECISION_SELECT + " WHERE question_id = ?", (question_id,)
            ).fetchone()
        return Change("changed", _decision(after), notify=notify)

    def undo(
        self,
        question_id: int,
        expected: str,
        *,
        by: int | None,
        decided_in: int | None = None,
        daily_limit: int | None = None,
        scope: int | None = None,
    ) -> Change:
        """Restore the state before the decision `expected` (a `state_of` string), only if it
        is still the question's state: an old confirmation's undo button cannot undo a later
        decision. A restored 'open' puts the question back in the inbox. Restoring 'taught'
        is teaching again: it counts against `decided_in`'s daily limit ('limit'; the chat
        of the decision undone when None, no limit when `daily_limit` is None). As for
        `decide`, a group's lead (`scope`) cannot undo a bot-wide decision."""
        self._await_records()
        now = self.clock()
        with self._tx() as db:
            current = db.execute(
                _DECISION_SELECT + " WHERE question_id = ?", (question_id,)
            ).fetchone()
            if current is None:
                return Change("missing")
            found = _decision(current)
            if found.state != expected or found.previous is None:
                return Change("stale", found)
            if _outranked(found, scope):
                return Change("bot_wide", found)
            decision, anecdote_id = parse_state(found.previous)
            if decided_in is None:
                decided_in = int(current["decided_in"])
            if (
                decision == TAUGHT
                and daily_limit is not None
                and _taught_today(db, decided_in, now, question_id) >= daily_limit
            ):
                return Change("limit", found)
            db.execute(
                "UPDATE decisions SET decision = ?, anecdote_id = ?, previous = NULL, "
                "decided_by = ?, decided_in = ?, decided_at = ?, scope = previous_scope "
                "WHERE question_id = ?",
                (decision, anecdote_id, by, decided_in, to_db_time(now), question_id),
            )
            after = db.execute(
                _DECISION_SELECT + " WHERE question_id = ?", (question_id,)
            ).fetchone()
        return Change("changed", _decision(after))

    def decisions(self, decision: str) -> list[Decision]:
        """Every question with this decision ('taught': the taught phrasings), oldest first."""
        return [
            _decision(row)
            for row in self._read(
                _DECISION_SELECT + " WHERE decision = ? ORDER BY decided_at, question_id",
                (decision,),
            )
        ]

    def forget_decisions(self, question_ids: list[int]) -> int:
        """Delete these decisions (taught phrasings merged into the YAML); how many went."""
        if not question_ids:
            return 0
        with self._tx() as db:
            marks = ", ".join("?" * len(question_ids))
            cursor = db.execute(
                f"DELETE FROM decisions WHERE question_id IN ({marks})", tuple(question_ids)
            )
            return cursor.rowcount


_DELIVERY_SELECT = (
    "SELECT d.id, d.chat_id, d.kind, d.local_date, d.tip_key, d.state, c.timezone, c.language "
    "FROM deliveries d LEFT JOIN chats c ON c.chat_id = d.chat_id"
)
DELIVERY_STATES = frozenset(
    {"pending", "queued", "sending", "sent", "failed", "unknown", "expired", "cancelled"}
)


def read_taught(path: Path) -> list[Decision]:
    """The taught phrasings in the database at `path`, read without opening a `Store`: no
    file, no table (an older schema) or an unreadable file all mean none. For commands that
    must not create or migrate a database (`ask`, `eval`)."""
    if not path.is_file():
        return []
    try:
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=READ_BUSY_SECONDS
        )
    except sqlite3.Error:
        return []
    try:
        db.row_factory = sqlite3.Row
        # Every column: a database not migrated yet has no `scope` (see `_decision`).
        rows = db.execute(
            "SELECT * FROM decisions WHERE decision = 'taught' ORDER BY decided_at, question_id"
        ).fetchall()
        return [_decision(row) for row in rows]
    except sqlite3.Error as exc:
        log.debug("no taught phrasings read from %s: %s", path, exc)
        return []
    finally:
        db.close()


_DECISION_SELECT = (
    "SELECT question_id, decision, anecdote_id, previous, text, lang, chat_id, decided_by, "
    "decided_in, decided_at, notified_at, scope, previous_scope FROM decisions"
)
# The inbox reads at most this many of the newest waiting questions: it shows a few at a time
# and nobody pages through more.
INBOX_SCAN = 5_000


def _outranked(current: Decision | None, scope: int | None) -> bool:
    """A decision in force bot-wide is not a group's to change: only a lead listed in
    TEAM_LEAD_IDS (deciding from their private chat, scope None) may."""
    return (
        current is not None
        and current.decision != OPEN
        and current.scope is None
        and scope is not None
    )


def _taught_today(db: sqlite3.Connection, decided_in: int, now: datetime, question_id: int) -> int:
    """How many other questions than `question_id` (re-pointing it adds no phrasing) the
    chat `decided_in` taught in the 24 hours before `now`."""
    (count,) = db.execute(
        "SELECT COUNT(*) FROM decisions WHERE decided_in = ? AND decided_at >= ? "
        "AND decision = 'taught' AND question_id != ?",
        (decided_in, to_db_time(now - timedelta(days=1)), question_id),
    ).fetchone()
    return int(count)


def _settled(
    settled: dict[str, list[tuple[int | None, str]]],
    text: str,
    chat_id: int,
    asked_at: str,
    *,
    down: bool,
) -> bool:
    """Whether a team lead's decision settles this question: one on the same text made
    bot-wide (scope NULL) or in the question's own chat. Another group's decision never
    does. A 👎 question counts as settled only by a decision made after it was asked: a 👎
    on an answer given since (a wrong or poisoned teaching) brings it back to the inbox."""
    return any(
        (scope is None or scope == chat_id) and (not down or decided_at >= asked_at)
        for scope, decided_at in settled.get(text_key(text), ())
    )


def _question(row: sqlite3.Row) -> Question:
    keys = row.keys()
    return Question(
        id=int(row["id"]),
        asked_at=from_db_time(row["asked_at"]),
        chat_id=int(row["chat_id"]),
        user_id=row["user_id"],
        text=row["text"],
        lang=row["lang"],
        answered=bool(row["answered"]),
        anecdote_id=row["anecdote_id"],
        thumbs_down=bool(row["down"]) if "down" in keys else False,
    )


def _decision(row: sqlite3.Row) -> Decision:
    notified = row["notified_at"]
    columns = row.keys()  # a sqlite3.Row: `in` alone would search its values
    if "scope" in columns:
        scope = row["scope"]
    else:  # a database not migrated yet (`read_taught`): as migration 3 -> 4 would set it
        scope = row["decided_in"] if row["decided_in"] < 0 else None
    return Decision(
        question_id=int(row["question_id"]),
        decision=row["decision"],
        anecdote_id=row["anecdote_id"],
        previous=row["previous"],
        text=row["text"],
        lang=row["lang"],
        chat_id=int(row["chat_id"]),
        decided_by=row["decided_by"],
        decided_at=from_db_time(row["decided_at"]),
        notified_at=from_db_time(notified) if notified else None,
        scope=scope,
    )


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(
        chat_id=row["chat_id"],
        at=time.fromisoformat(row["at_time"]),
        days=int(row["days"]),
        since=from_db_time(row["since"]),
        timezone=row["timezone"],
        language=row["language"],
        last_date=date.fromisoformat(row["last_date"]) if row["last_date"] else None,
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        chat_id=row["chat_id"],
        kind=row["kind"],
        local_date=date.fromisoformat(row["local_date"]) if row["local_date"] else None,
        tip_key=row["tip_key"],
        state=row["state"],
        timezone=row["timezone"],
        language=row["language"],
    )


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (ours never put ';' inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]


# -- the best-effort records ------------------------------------------------------------------

# The tables `_RecordWriter` fills: a read that names one of them waits for queued records.
_RECORD_TABLES = re.compile(r"\b(questions|feedback)\b", re.IGNORECASE)
_Record = tuple[str, tuple[object, ...]]  # (INSERT statement, its parameters)


class _RecordWriter:
    """Writes the questions and feedback from a queue, in one thread on its own connection.

    Why: a record is best effort and the user already has the answer, so recording must never
    make anyone wait; yet a record should not be lost because another process held the write
    lock for a while. The thread writes what is queued in batches (one transaction each) and,
    while the database is locked, retries the same batch until the lock is released. Only
    other errors (disk full, I/O) give up after a few tries, and so does `close()` after its
    deadline; every record given up on is counted (`dropped`) and logged.

    It holds no reference to the Store, so a dropped Store can be collected; the thread is a
    daemon, so a Store nobody closed does not keep the process alive.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = _connect(path, RECORD_BUSY_SECONDS)
        self._queue: queue.SimpleQueue[_Record | None] = queue.SimpleQueue()
        self._state = threading.Condition()
        self._queued = 0  # records accepted so far; FIFO, so also the number of the last one
        self._handled = 0  # records written or given up on
        self._stalled = False  # the last attempt found the database locked
        self._deadline: float | None = None  # set by close(): stop waiting for a lock then
        self._closed = False
        self.written = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="kisah-records", daemon=True)
        self._thread.start()

    def put(self, sql: str, params: tuple[object, ...]) -> None:
        """Queue one record. Returns at once, except that a caller faster than a writable
        database (a bulk import, a test loop) waits for room instead of losing records; only
        while the database is locked does a full queue drop them."""
        deadline = monotonic() + FULL_QUEUE_WAIT_SECONDS
        with self._state:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            while (
                self._queued - self._handled >= MAX_QUEUED_RECORDS
                and not self._stalled
                and (left := deadline - monotonic()) > 0
                and self._thread.is_alive()
            ):
                self._state.wait(left)
            if self._queued - self._handled >= MAX_QUEUED_RECORDS:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:  # not one line per question
                    log.error(
                        "record dropped: %d already wait for the database path=%s dropped=%d",
                        MAX_QUEUED_RECORDS,
                        self.path,
                        self.dropped,
                    )
                return
            self._queued += 1
            self._queue.put((sql, params))

    def wait(self, timeout: float, *, unless_stalled: bool = False) -> bool:
        """Wait until the records queued so far are handled; False if `timeout` passed first
        (or, with `unless_stalled`, as soon as the database is found locked)."""
        deadline = monotonic() + timeout
        with self._state:
            target = self._queued
            while self._handled < target:
                left = deadline - monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                if unless_stalled and self._stalled:
                    return False
                self._state.wait(left)
            return True

    def close(self, timeout: float) -> None:
        with self._state:
            if self._closed:
                return
            self._closed = True
            self._deadline = monotonic() + timeout
            pending = self._queued - self._handled
        if pending:
            log.info("writing %d queued record(s) before closing path=%s", pending, self.path)
        self._queue.put(None)
        # Past the deadline the thread gives up within one busy wait; the margin is generous.
        self._thread.join(timeout + 5 * RECORD_BUSY_SECONDS + 5)
        if self._thread.is_alive():
            log.error("record writer did not stop path=%s", self.path)
        log.info(
            "record writer stopped path=%s written=%d dropped=%d",
            self.path,
            self.written,
            self.dropped,
        )

    # -- in the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch, stop = self._next_batch()
                if batch:
                    try:
                        self._write(batch)
                    except Exception as exc:  # a bug must not stop every later record
                        log.exception("record writer failed path=%s", self.path)
                        self._handled_batch(len(batch), exc)
                if stop:
                    return
        finally:
            self._db.close()
            with self._state:
                self._state.notify_all()  # nobody waits for a thread that is gone

    def _next_batch(self) -> tuple[list[_Record], bool]:
        """The records waiting now (at least one, at most RECORD_BATCH); True at close."""
        batch: list[_Record] = []
        item = self._queue.get()
        while item is not None:
            batch.append(item)
            if len(batch) >= RECORD_BATCH:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _write(self, batch: list[_Record]) -> None:
        failures = 0
        while True:
            if self._stalled and self._past_deadline():  # still locked at close: no more tries
                self._handled_batch(len(batch), sqlite3.OperationalError("database is locked"))
                return
            try:
                self._insert(batch)
            except sqlite3.Error as exc:
                busy = _is_busy(exc)
                failures += 0 if busy else 1
                if self._past_deadline() or failures >= RECORD_ATTEMPTS:
                    self._handled_batch(len(batch), exc)
                    return
                if busy and not self._stalled:
                    log.warning("database locked, %d record(s) wait path=%s", len(batch), self.path)
                    with self._state:
                        self._stalled = True
                        self._state.notify_all()
                sleep(0.05 if busy else 0.1 * 2**failures)
                continue
            self._handled_batch(len(batch))
            return

    def _past_deadline(self) -> bool:
        return self._deadline is not None and monotonic() > self._deadline

    def _insert(self, batch: list[_Record]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in batch:
                self._db.execute(sql, params)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _handled_batch(self, size: int, failure: BaseException | None = None) -> None:
        with self._state:
            self._handled += size
            if failure is None:
                self.written += size
                if self._stalled:
                    log.info("database writable again path=%s", self.path)
                self._stalled = False
            else:
                self.dropped += size
            self._state.notify_all()
        if failure is not None:
            log.error(
                "dropped %d record(s) path=%s dropped=%d: %r",
                size,
                self.path,
                self.dropped,
                failure,
            )


def _is_busy(exc: sqlite3.Error) -> bool:
    """Another connection holds the lock: worth waiting for, unlike a full disk."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc)


# -- opening: one clear line for a file that cannot be used -------------------------------------


def _connect(path: Path, busy_seconds: float) -> sqlite3.Connection:
    db = sqlite3.connect(
        str(path), check_same_thread=False, isolation_level=None, timeout=busy_seconds
    )
    db.row_factory = sqlite3.Row
    return db


def _make_data_dir(directory: Path) -> None:
    """Create the data directory for this user only (0700): it holds every question asked."""
    try:
        make_private_dir(directory)
    except OSError as exc:
        why = _directory_problem(directory) or exc.strerror or str(exc)
        raise StoreError(f"cannot create the data directory {directory}: {why}") from exc


def _create_private(path: Path) -> None:
    """Create a missing database file readable by this user only (0600) before SQLite opens
    it (SQLite gives its WAL and shared-memory files the same mode); an existing file is the
    operator's and left as it is."""
    # it exists, or opening it reports the problem in words (see _open_problem)
    with suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _directory_problem(directory: Path) -> str | None:
    """Why `directory` (or the nearest part of it that exists) cannot hold the database."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"the directory {existing} is not writable by this user"
    return None


def _open_problem(path: Path, exc: sqlite3.Error) -> str:
    """One line for an error at open: the file, and why in words an operator can act on."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return _damaged(path, str(exc))
    why = _file_problem(path)
    return f"cannot open the database {path}: " + (f"{why} ({exc})" if why else str(exc))


def _file_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"{path} is a directory, not a database file"
    problem = _directory_problem(path.parent)
    if problem is not None:
        return f"{problem} (SQLite keeps {path.name} and its -wal and -shm files there)"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "the file is not readable and writable by this user"
    return None


def _check_pages(path: Path, db: sqlite3.Connection) -> None:
    """Refuse a damaged file at start, instead of failing on some later question or tip.

    `quick_check` reads every page (O(N), milliseconds for a bot's database) but skips the
    index-content comparison of the full `integrity_check`, which is what can be afforded at
    every start.
    """
    rows = [str(row[0]) for row in db.execute("PRAGMA quick_check(3)")]
    if rows != ["ok"]:
        raise StoreError(_damaged(path, "; ".join(rows)))


def _damaged(path: Path, detail: str) -> str:
    detail = " ".join(detail.split())
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return (
        f"the database {path} is damaged ({detail}); restore it from a backup, "
        "or move it away to start with an empty one"
    )
