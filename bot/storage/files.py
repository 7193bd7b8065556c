"""The SQLite file itself: a private directory and file, connections, and one-line
diagnostics for a file SQLite cannot use."""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from bot.storage.cache import make_private_dir

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The database cannot be used as it is (e.g. written by a newer Kisah)."""


def is_busy(exc: sqlite3.Error) -> bool:
    """Another connection holds the lock: worth waiting for, unlike a full disk."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc)


# -- opening: one clear line for a file that cannot be used -------------------------------------


def connect(path: Path, busy_seconds: float) -> sqlite3.Connection:
    db = sqlite3.connect(
        str(path), check_same_thread=False, isolation_level=None, timeout=busy_seconds
    )
    db.row_factory = sqlite3.Row
    return db


def make_data_dir(directory: Path) -> None:
    """Create the data directory for this user only (0700): it holds every question asked."""
    try:
        make_private_dir(directory)
    except OSError as exc:
        why = directory_problem(directory) or exc.strerror or str(exc)
        raise StoreError(f"cannot create the data directory {directory}: {why}") from exc


def create_private(path: Path) -> None:
    """Create a missing database file readable by this user only (0600) before SQLite opens
    it (SQLite gives its WAL and shared-memory files the same mode); an existing file is the
    operator's and left as it is."""
    # it exists, or opening it reports the problem in words (see open_problem)
    with suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def directory_problem(directory: Path) -> str | None:
    """Why `directory` (or the nearest part of it that exists) cannot hold the database."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"the directory {existing} is not writable by this user"
    return None


def open_problem(path: Path, exc: sqlite3.Error) -> str:
    """One line for an error at open: the file, and why in words an operator can act on."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return damaged(path, str(exc))
    why = file_problem(path)
    return f"cannot open the database {path}: " + (f"{why} ({exc})" if why else str(exc))


def file_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"{path} is a directory, not a database file"
    problem = directory_problem(path.parent)
    if problem is not None:
        return f"{problem} (SQLite keeps {path.name} and its -wal and -shm files there)"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "the file is not readable and writable by this user"
    return None


def check_pages(path: Path, db: sqlite3.Connection) -> None:
    """Refuse a damaged file at start, instead of failing on some later question or tip.

    `quick_check` reads every page (O(N), milliseconds for a bot's database) but skips the
    index-content comparison of the full `integrity_check`, which is what can be afforded at
    every start.
    """
    rows = [str(row[0]) for row in db.execute("PRAGMA quick_check(3)")]
    if rows != ["ok"]:
        raise StoreError(damaged(path, "; ".join(rows)))


def damaged(path: Path, detail: str) -> str:
    detail = " ".join(detail.split())
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return (
        f"the database {path} is damaged ({detail}); restore it from a backup, "
        "or move it away to start with an empty one"
    )
