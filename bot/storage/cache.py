"""A cache of built knowledge under the data directory: JSON and raw number arrays in SQLite,
and the few values of tens of megabytes (whole indexes) as files beside it.

Parsing thousands of story files and indexing them takes far longer than reading the result
back (figures: docs/benchmarks.md). Entries are keyed by a hash of what they were built from (a
story file's bytes, the code and word table that built it), so many bases share one directory
without evicting each other, and editing one story rebuilds that story's entries only. Values
are data, never code: JSON texts and packed numbers, so a file planted in the cache can at worst
be ignored. Any problem (unreadable, corrupt, locked, full disk) is a cache miss, never an error.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

FILE = "cache.sqlite3"  # in the cache directory (under the data directory)
LARGE_SUFFIX = ".data"  # a large value's file, beside it (`Cache.put_large`)
# Entries not written or read by a rebuild for this long are dropped when something is written:
# a base not started for a month rebuilds on its next start, and the file stays bounded.
KEEP_SECONDS = 30 * 24 * 3600
TOUCH_SECONDS = 24 * 3600
# `used` before `value`: reading or changing when an entry was used then touches the row's
# first page, not the chain of pages its value fills, and the index lets the clean-up find old
# entries without reading the table. A file of another layout (`user_version`) starts empty.
_LAYOUT = 2
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries ("
    " key TEXT PRIMARY KEY, used INTEGER NOT NULL, value BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS entries_used ON entries (used)",
)


class Cache:
    """One cache file; `get_many` and `put_many` are one query and one transaction each."""

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = directory / FILE
        self._clock = clock
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        try:
            make_private_dir(self.path.parent)
            fresh = not self.path.exists()
            db = sqlite3.connect(str(self.path), timeout=2.0, isolation_level=None)
            if fresh:
                with contextlib.suppress(OSError):
                    os.chmod(self.path, 0o600)
            db.execute("PRAGMA journal_mode=WAL")
            # No flush to disk at each commit: in WAL mode a crash can lose the last writes
            # but not damage the file, and a lost entry is only a cache miss.
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != _LAYOUT:
                db.execute("DROP TABLE IF EXISTS entries")
                db.execute(f"PRAGMA user_version = {_LAYOUT}")
            for statement in _SCHEMA:
                db.execute(statement)
            self._db = db
        except (OSError, sqlite3.Error) as exc:
            log.info("cache unavailable: %s (%s: %s)", self.path, type(exc).__name__, exc)
            self._broken = True
        return self._db

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The values found for `keys` (those absent are missing from the result)."""
        wanted = list(keys)
        db = self._connect()
        if db is None or not wanted:
            return {}
        found: dict[str, bytes] = {}
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT key, value FROM entries WHERE key IN ({marks})", chunk)
                found.update((key, bytes(value)) for key, value in rows)
        except sqlite3.Error as exc:
            log.info("cannot read cache %s (%s: %s)", self.path, type(exc).__name__, exc)
            return {}
        return found

    def get(self, key: str) -> bytes | None:
        return self.get_many([key]).get(key)

    def put_many(self, items: Mapping[str, bytes], touch: Iterable[str] = ()) -> None:
        """Write `items`, mark `touch` as used now, and drop long-unused entries."""
        db = self._connect()
        if db is None or not items:
            return
        now = int(self._clock())
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO entries (key, used, value) VALUES (?, ?, ?)",
                    ((key, now, value) for key, value in items.items()),
                )
                db.executemany(  # once a day is enough to keep an entry a month
                    "UPDATE entries SET used = ? WHERE key = ? AND used < ?",
                    ((now, key, now - TOUCH_SECONDS) for key in touch),
                )
                db.execute("DELETE FROM entries WHERE used < ?", (now - KEEP_SECONDS,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            log.info("cannot write cache %s (%s: %s)", self.path, type(exc).__name__, exc)

    def keep_latest(self, prefix: str, count: int) -> None:
        """Keep only the `count` most recently used entries whose key starts with `prefix`
        (whole indexes are large: a few bases' worth, not every version ever built)."""
        db = self._connect()
        if db is None:
            return
        try:
            db.execute(
                "DELETE FROM entries WHERE key IN (SELECT key FROM entries WHERE"
                " substr(key, 1, ?) = ? ORDER BY used DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (len(prefix), prefix, count),
            )
        except sqlite3.Error as exc:
            log.info("cannot trim cache %s (%s: %s)", self.path, type(exc).__name__, exc)

    # Whole indexes (tens of megabytes at thousands of stories) are files beside the database:
    # SQLite reads and frees a large value page by page through its overflow chain, which
    # cost seconds per start after an edit; a file is read in one call and dropped by unlink.
    def _file(self, key: str) -> Path:
        prefix = key.partition(":")[0]
        name = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()
        return self.path.parent / f"{prefix}-{name}{LARGE_SUFFIX}"

    def get_large(self, key: str) -> bytes | None:
        """The value `put_large` wrote for `key`, or None; reading marks it used."""
        path = self._file(key)
        try:
            value = path.read_bytes()
            os.utime(path)
        except OSError:
            return None
        return value

    def put_large(self, items: Mapping[str, bytes]) -> None:
        """Write each value to its own file, whole or not at all (a reader never sees half)."""
        for key, value in items.items():
            path = self._file(key)
            temporary = None
            try:
                make_private_dir(path.parent)
                handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
                with os.fdopen(handle, "wb") as out:
                    out.write(value)
                os.replace(temporary, path)
            except OSError as exc:
                log.info("cannot write cache %s (%s: %s)", path, type(exc).__name__, exc)
                if temporary is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)

    def keep_latest_large(self, prefix: str, count: int) -> None:
        """Keep only the `count` most recently used files of keys starting `prefix:`."""
        try:
            found = [
                (path.stat().st_mtime, path)
                for path in self.path.parent.glob(f"{prefix}-*{LARGE_SUFFIX}")
            ]
            for _, path in sorted(found, reverse=True)[count:]:
                path.unlink()
        except OSError as exc:
            log.info("cannot trim cache %s (%s: %s)", self.path.parent, type(exc).__name__, exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@contextlib.contextmanager
def paused_gc(freeze: bool = False) -> Iterator[None]:
    """Build or read millions of small objects without the collector running hundreds of
    times over them (they are all alive: there is nothing for it to find). `freeze`: what was
    built lives as long as the process, so it is then moved out of the collector's reach
    (`gc.freeze`): otherwise the next collections, and the one at exit, walk it all again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if freeze:
            gc.freeze()
    finally:
        if enabled:
            gc.enable()


def make_private_dir(directory: Path) -> None:
    """Create `directory` (and missing parents) readable by this user only: it holds every
    question asked and what the bot answers from. An existing directory is left as it is."""
    missing = []
    current = directory
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for created in missing:  # mkdir's mode is masked by the umask; say it again
        with contextlib.suppress(OSError):
            os.chmod(created, 0o700)


def dumps(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON. orjson reads and writes it several times faster than the
    standard library, which counts when thousands of stories are read back at each start."""
    try:
        return orjson.dumps(value)
    except TypeError:  # a text orjson refuses (a lone surrogate): escaped, read back as a miss
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def loads(raw: bytes | None) -> Any:
    """The JSON value of `raw`, or None when absent or not JSON."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except ValueError:
        return None


def pack(*arrays: array) -> bytes:
    """Several number arrays as one value: a JSON header (type code, length) and the bytes."""
    header = dumps([(a.typecode, len(a)) for a in arrays])
    return b"".join([len(header).to_bytes(4, "little"), header, *(a.tobytes() for a in arrays)])


def unpack(raw: bytes) -> Iterator[array]:
    """The arrays `pack` wrote; ValueError when `raw` is not such a value."""
    size = int.from_bytes(raw[:4], "little")
    header = loads(raw[4 : 4 + size])
    if not isinstance(header, list):
        raise ValueError("not packed arrays")
    at = 4 + size
    for typecode, length in header:
        if typecode not in ("i", "q", "d"):
            raise ValueError(f"unexpected array type {typecode!r}")
        values = array(typecode)
        end = at + length * values.itemsize
        if end > len(raw):
            raise ValueError("truncated")
        values.frombytes(raw[at:end])
        at = end
        yield values
