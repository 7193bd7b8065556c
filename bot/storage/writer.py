"""The best-effort records (questions, feedback), written from a queue by one thread."""

from __future__ import annotations

import logging
import queue
import re
import sqlite3
import threading
from pathlib import Path
from time import monotonic, sleep
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from bot.storage.files import connect, is_busy

log = logging.getLogger(__name__)

# The record writer's wait per attempt: short, so it notices `close()` and reports "stalled"
# (reads then stop waiting for it) soon after another process takes the lock.
RECORD_BUSY_SECONDS = 0.25
# Records waiting for a locked database beyond this many are dropped (and logged), so a lock
# held for hours cannot eat the memory; about a minute of heavy traffic.
MAX_QUEUED_RECORDS = 10_000
# A caller that outpaces a writable database waits this long at most for room in the queue.
FULL_QUEUE_WAIT_SECONDS = 5.0
RECORD_BATCH = 500  # records per transaction when a backlog is written
RECORD_ATTEMPTS = 3  # tries for an error other than "locked" (disk full, I/O) before dropping

# -- the best-effort records ------------------------------------------------------------------

# The tables `RecordWriter` fills: a read that names one of them waits for queued records.
RECORD_TABLES = re.compile(r"\b(questions|feedback)\b", re.IGNORECASE)
_Record = tuple[str, tuple[object, ...]]  # (INSERT statement, its parameters)


class RecordWriter:
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
        self._db = connect(path, RECORD_BUSY_SECONDS)
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
                busy = is_busy(exc)
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
