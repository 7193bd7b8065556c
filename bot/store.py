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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

DB_FILENAME = "kisah.sqlite3"
SOURCES = frozenset({"private", "group", "inline", "cli"})
LANGUAGES = frozenset({"id", "en"})

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
        rows = self._read("SELECT language FROM chats WHERE chat_id = ?", (chat_id,))
        return rows[0]["language"] if rows else None

    def set_chat_language(self, chat_id: int, lang: str | None) -> None:
        if lang is not None and lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}")
        with self._tx() as db:
            db.execute(
                "INSERT INTO chats (chat_id, language, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET language = excluded.language, "
                "updated_at = excluded.updated_at",
                (chat_id, lang, self._now()),
            )

    def chat_timezone(self, chat_id: int) -> str | None:
        """The chat's own zone, or None when it never chose one (use settings.timezone)."""
        rows = self._read("SELECT timezone FROM chats WHERE chat_id = ?", (chat_id,))
        return rows[0]["timezone"] if rows else None

    def set_chat_timezone(self, chat_id: int, timezone: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO chats (chat_id, timezone, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET timezone = excluded.timezone, "
                "updated_at = excluded.updated_at",
                (chat_id, timezone, self._now()),
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

    def unanswered_questions(self, *, days: int | None = None) -> list[str]:
        """Every logged unanswered question text (for grouping into new-trigger candidates)."""
        sql = "SELECT text FROM questions WHERE answered = 0 AND text IS NOT NULL"
        params: tuple[object, ...] = ()
        if days is not None:
            sql += " AND asked_at >= ?"
            params = (to_db_time(self.clock() - timedelta(days=days)),)
        return [row["text"] for row in self._read(sql + " ORDER BY id", params)]


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (ours never put ';' inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]
