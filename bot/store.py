"""Everything Kisah remembers, in one SQLite file: chats, questions, feedback, subscriptions.

Why SQLite and why this shape:
- One file under `settings.data_dir`, opened once per process, in WAL mode: readers never wait
  for the writer, and a commit is an append to the WAL, cheap enough to do once per delivered
  tip (that is what makes the delivery log crash-safe, see `bot/schedule.py`).
- `synchronous=NORMAL`: with WAL a process crash (kill -9) never loses a committed transaction;
  only a power cut can lose the last few, which is the documented SQLite trade-off.
- The schema is versioned with `PRAGMA user_version` and upgraded at open by the ordered
  scripts in `MIGRATIONS`, so an old data directory keeps working after an update.
- One connection shared by threads (`check_same_thread=False`) behind a lock: the Telegram layer
  calls in through `asyncio.to_thread`, and every call is one short transaction.
- Times are stored as UTC ISO-8601 text ("2026-11-23T11:55:00Z"): sortable, readable in the
  sqlite3 shell, and free of local-time ambiguity.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.knowledge import LANGUAGES
from bot.schedule import Delivery, Subscription
from bot.tips import next_tip

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

DB_FILENAME = "kisah.sqlite3"
SOURCES = frozenset({"private", "group", "inline", "cli"})

Clock = Callable[[], datetime]

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
    """The one handle on the database; every public method is one short transaction."""

    def __init__(self, path: Path, log_questions: bool = True, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self.log_questions = log_questions
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # isolation_level=None: no implicit transactions; `_tx` says BEGIN IMMEDIATE itself so
        # the write lock is taken up front and a read-then-write can never be interleaved.
        self._db = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.row_factory = sqlite3.Row
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """The store for a configured bot: `<data_dir>/kisah.sqlite3`."""
        return cls(Path(settings.data_dir) / DB_FILENAME, log_questions=settings.log_questions)

    def close(self) -> None:
        with self._lock:
            self._db.close()

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

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    def _migrate(self) -> None:
        version = self.schema_version
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
        """Log one question; its text only when the operator allows it (BOT_LOG_QUESTIONS)."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}, expected one of {sorted(SOURCES)}")
        with self._tx() as db:
            db.execute(
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
        with self._tx() as db:
            db.execute(
                "INSERT INTO feedback (given_at, chat_id, user_id, anecdote_id, positive) "
                "VALUES (?, ?, ?, ?, ?)",
                (self._now(), chat_id, user_id, anecdote_id, int(bool(positive))),
            )

    # -- statistics ---------------------------------------------------------------------------

    def stats(self, *, days: int, chat_id: int | None = None, top: int = 5) -> Stats:
        """Counts for the last `days` days, for one chat or (chat_id=None) every chat."""
        since = self.clock() - timedelta(days=days)
        where = "asked_at >= ?" + (" AND chat_id = ?" if chat_id is not None else "")
        params: tuple[object, ...] = (to_db_time(since),) + (
            (chat_id,) if chat_id is not None else ()
        )
        with self._lock:
            asked, answered = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions WHERE {where}",
                params,
            ).fetchone()
            stories = self._db.execute(
                f"SELECT anecdote_id, COUNT(*) AS n FROM questions WHERE {where} "
                "AND answered = 1 AND anecdote_id IS NOT NULL "
                "GROUP BY anecdote_id ORDER BY n DESC, anecdote_id LIMIT ?",
                (*params, top),
            ).fetchall()
            unanswered = self._db.execute(
                f"SELECT text, COUNT(*) AS n FROM questions WHERE {where} AND answered = 0 "
                "AND text IS NOT NULL GROUP BY lower(trim(text)) ORDER BY n DESC, text LIMIT ?",
                (*params, top),
            ).fetchall()
            fb_where = "given_at >= ?" + (" AND chat_id = ?" if chat_id is not None else "")
            up, down = self._db.execute(
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
        the deck follow it. Rows the new id already has win."""
        with self._tx() as db:
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
                    "UPDATE deliveries SET state = 'sending', updated_at = ? "
                    "WHERE id = ? AND state = 'pending'",
                    (now, delivery_id),
                ).rowcount
                == 1
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
        """At start: rows a crash left in `sending` become `unknown` (never resent).

        Also expires /tipnow rows left `pending`: the person who asked has moved on.
        See `bot/schedule.py` for why unconfirmed means at-most-once.
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
        """Every logged unanswered question text (for grouping into new-trigger candidates)."""
        sql = "SELECT text FROM questions WHERE answered = 0 AND text IS NOT NULL"
        params: tuple[object, ...] = ()
        if days is not None:
            sql += " AND asked_at >= ?"
            params = (to_db_time(self.clock() - timedelta(days=days)),)
        return [row["text"] for row in self._read(sql + " ORDER BY id", params)]


_DELIVERY_SELECT = (
    "SELECT d.id, d.chat_id, d.kind, d.local_date, d.tip_key, d.state, c.timezone, c.language "
    "FROM deliveries d LEFT JOIN chats c ON c.chat_id = d.chat_id"
)
DELIVERY_STATES = frozenset(
    {"pending", "sending", "sent", "failed", "unknown", "expired", "cancelled"}
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
