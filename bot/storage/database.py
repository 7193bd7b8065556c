"""The database plumbing under the store: one SQLite file, its connections and migrations.

Why SQLite and why this shape:
- One file under `settings.data_dir`, opened once per process, in WAL mode: readers never wait
  for the writer, and a commit is an append to the WAL, cheap enough to do once per delivered
  tip (that is what makes the delivery log crash-safe, see `bot/leads/schedule.py`).
- `synchronous=NORMAL`: with WAL a process crash (kill -9) never loses a committed transaction;
  only a power cut can lose the last few, which is the documented SQLite trade-off.
- The schema is versioned with `PRAGMA user_version` and upgraded at open by the ordered
  scripts in `MIGRATIONS`, so an old data directory keeps working after an update.
- Connections by job, so that nobody waits for what they do not need, and a write lock held by
  another process (a backup, the sqlite3 shell) never makes a user wait: one for writes whose
  result a caller needs (one short transaction per call behind a lock, the Telegram layer
  calls in through `asyncio.to_thread`); a read connection per concurrent read, taken from a
  small pool, so that no read ever waits behind another request's query (a team lead's
  /inbox does not hold up a member's answer; WAL readers never wait for a writer either);
  and one owned by a thread that writes the best-effort records, questions and feedback,
  from a queue (`RecordWriter`): recording returns at once, and the thread retries until the
  lock is released. `close()` writes what is still queued.
- A database SQLite cannot open, or one whose pages are damaged (`PRAGMA quick_check` at open),
  is refused at start with one line naming the file and saying why (`StoreError`).
- Times are stored as UTC ISO-8601 text ("2026-11-23T11:55:00Z"): sortable, readable in the
  sqlite3 shell, and free of local-time ambiguity.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from bot.settings import Settings
from bot.storage.files import (
    StoreError,
    check_pages,
    connect,
    create_private,
    make_data_dir,
    open_problem,
)
from bot.storage.migrations import MIGRATIONS, SCHEMA_VERSION, statements
from bot.storage.writer import RECORD_TABLES, RecordWriter

log = logging.getLogger(__name__)

DB_FILENAME = "kisah.sqlite3"
SOURCES = frozenset({"private", "group", "inline", "cli"})

Clock = Callable[[], datetime]

# Writes whose result a caller waits for wait this long for a lock another process holds.
WRITE_BUSY_SECONDS = 10.0
# Reads never wait for a writer in WAL mode; this only covers SQLite's rare short busy cases
# (another connection recovering the WAL after a crash).
READ_BUSY_SECONDS = 5.0
# Idle read connections kept for the next reads; more are opened while more reads run at once
# (at most one per worker thread) and closed when they finish.
IDLE_READERS = 8
# A read of the questions or feedback waits at most this long for records queued before it.
READ_WAIT_SECONDS = 2.0
# `close()` waits at most this long for a lock another process holds, then drops (and logs)
# the records still queued: a stop must end.
CLOSE_WAIT_SECONDS = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    """UTC ISO text with a Z, the one time format in the database (sorts as it reads)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class Database:
    """The one handle on the database; every public method is one short transaction, except
    the best-effort records (questions, feedback), which are queued (see the module doc)."""

    def __init__(self, path: Path, log_questions: bool = True, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self.log_questions = log_questions
        self.clock = clock
        make_data_dir(self.path.parent)
        create_private(self.path)
        self._lock = threading.RLock()  # the write connection
        self._readers_lock = threading.Lock()  # the pool of idle read connections
        self._idle_readers: list[sqlite3.Connection] = []
        self._closed = False
        self._records: RecordWriter | None = None
        try:
            # isolation_level=None: no implicit transactions; `_tx` says BEGIN IMMEDIATE itself
            # so the write lock is taken up front and a read-then-write can never be interleaved.
            self._db = connect(self.path, WRITE_BUSY_SECONDS)
        except sqlite3.Error as exc:
            raise StoreError(open_problem(self.path, exc)) from exc
        try:
            check_pages(self.path, self._db)
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._idle_readers.append(self._open_reader())
            self._records = RecordWriter(self.path)
        except BaseException as exc:
            self._close_connections()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(open_problem(self.path, exc)) from exc
            raise

    @classmethod
    def open(cls, settings: Settings) -> Self:
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
        with self._readers_lock:
            self._closed = True
            idle, self._idle_readers = self._idle_readers, []
        for reader in idle:  # those in use are closed when their read ends (`_reader`)
            reader.close()
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

    def __enter__(self) -> Self:
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

    def _open_reader(self) -> sqlite3.Connection:
        reader = connect(self.path, READ_BUSY_SECONDS)
        reader.execute("PRAGMA query_only=ON")
        return reader

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A read connection of this read's own: an idle one, or a new one when every
        other is busy, so that no read waits for another to finish."""
        with self._readers_lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            reader = self._idle_readers.pop() if self._idle_readers else None
        if reader is None:
            reader = self._open_reader()
        try:
            yield reader
        finally:
            with self._readers_lock:
                keep = not self._closed and len(self._idle_readers) < IDLE_READERS
                if keep:
                    self._idle_readers.append(reader)
            if not keep:
                reader.close()

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Rows from a read connection: never behind a write, ours or another process's,
        nor behind another read."""
        if RECORD_TABLES.search(sql):
            self._await_records()
        with self._reader() as reader:
            return reader.execute(sql, params).fetchall()

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """Several reads that see one state of the database (one read transaction)."""
        with self._reader() as reader:
            reader.execute("BEGIN")
            try:
                yield reader
            finally:
                reader.execute("COMMIT")

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
                for statement in statements(MIGRATIONS[target - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")
            log.info("store migrated path=%s version=%d", self.path, target)

    def _now(self) -> str:
        return to_db_time(self.clock())

    def _queue_record(self, sql: str, params: tuple[object, ...]) -> None:
        if self._records is None:  # pragma: no cover - only a half-built store has none
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        self._records.put(sql, params)
