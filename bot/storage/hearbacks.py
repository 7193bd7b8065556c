"""The hear-back outbox: the asker of a question a team lead taught is owed one message.

Why a table (an outbox) rather than a send in the lead's button handler: Telegram may answer
500 or 502, a 429 may hold the message for a minute, the process may die meanwhile; the lead
was told the story is on its way. The row is written in the same transaction as the decision
(`owe`), so a taught question always has its hear-back on record, and it goes through states
as the daily tips do (`bot/storage/deliveries.py`, `bot/leads/hearback.py` for the rules):

    pending -> queued (taken, may wait in the rate limiter) -> sending (left it) -> sent
       ^ |                                                                  failed | unknown
       +-+-- cancelled (the lead undid the teaching before it left; teaching again revives it)

A restart turns `queued` back into `pending` (it never left the process: resent) and
`sending` into `unknown` (it may have reached Telegram: at most once, never doubled).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage.database import Database, from_db_time, to_db_time

HEARBACK_STATES = frozenset(
    {"pending", "queued", "sending", "sent", "failed", "unknown", "cancelled"}
)


@dataclass(frozen=True)
class Hearback:
    """One owed hear-back: where to send it and what to say."""

    id: int
    question_id: int
    chat_id: int
    story_id: str
    text: str  # the question as asked
    lang: str
    state: str
    attempts: int = 0
    due_at: datetime | None = None


def owe(
    db: sqlite3.Connection,
    *,
    question_id: int,
    chat_id: int,
    story_id: str,
    text: str,
    lang: str,
    now: datetime,
) -> None:
    """Record the hear-back inside the caller's transaction (the decision's): once per
    question, ever (a second teaching of the same question owes nothing more)."""
    stamp = to_db_time(now)
    db.execute(
        "INSERT OR IGNORE INTO hearbacks (question_id, chat_id, anecdote_id, text, lang, state, "
        "due_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
        (question_id, chat_id, story_id, text, lang, stamp, stamp, stamp),
    )


class Hearbacks(Database):
    """The outbox's rows (see the module docstring)."""

    def hearbacks(self, chat_id: int | None = None) -> list[Hearback]:
        """Every hear-back (oldest first): for tests, the report and operators."""
        where, params = ("WHERE chat_id = ? ", (chat_id,)) if chat_id is not None else ("", ())
        rows = self._read(f"{_SELECT} {where}ORDER BY id", params)
        return [_hearback(row) for row in rows]

    def hearback_of(self, question_id: int) -> Hearback | None:
        """The hear-back owed or sent for one question (there is at most one), or None."""
        rows = self._read(f"{_SELECT} WHERE question_id = ?", (question_id,))
        return _hearback(rows[0]) if rows else None

    def hearback_chats_due(self) -> list[int]:
        """Chats with a pending hear-back whose back-off is over, oldest first."""
        rows = self._read(
            "SELECT chat_id, MIN(id) AS first FROM hearbacks WHERE state = 'pending' "
            "AND due_at <= ? GROUP BY chat_id ORDER BY first",
            (self._now(),),
        )
        return [int(row["chat_id"]) for row in rows]

    def next_hearback_due(self) -> datetime | None:
        """When the earliest pending hear-back comes out of its back-off (None: none)."""
        rows = self._read("SELECT MIN(due_at) AS due FROM hearbacks WHERE state = 'pending'")
        return from_db_time(rows[0]["due"]) if rows and rows[0]["due"] else None

    def take_hearbacks(self, chat_id: int, limit: int) -> list[Hearback]:
        """pending -> queued for up to `limit` of the chat's due hear-backs, in one
        transaction: they go out together, as one message."""
        now = self._now()
        with self._tx() as db:
            rows = db.execute(
                f"{_SELECT} WHERE chat_id = ? AND state = 'pending' AND due_at <= ? "
                "ORDER BY id LIMIT ?",
                (chat_id, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE hearbacks SET state = 'queued', updated_at = ? WHERE id = ?",
                [(now, row["id"]) for row in rows],
            )
        return [_hearback(row) for row in rows]

    def move_hearbacks(self, ids: list[int], old: str, new: str) -> None:
        """`old` -> `new` for these rows (queued -> sending as the request leaves the rate
        limiter; back to queued after a 429 the limiter retries)."""
        with self._tx() as db:
            db.executemany(
                "UPDATE hearbacks SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                [(new, self._now(), hid, old) for hid in ids],
            )

    def hearbacks_sent(self, ids: list[int], message_id: int | None) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE hearbacks SET state = 'sent', message_id = ?, attempts = attempts + 1, "
                "updated_at = ? WHERE id = ?",
                [(message_id, self._now(), hid) for hid in ids],
            )

    def hearbacks_retry(
        self, ids: list[int], *, after: float, error: str, max_attempts: int, count: bool = True
    ) -> int:
        """Back to pending, due `after` seconds from now; a row that has had `max_attempts`
        tries becomes `failed`. `count`: this try counts (a 429 does not). How many failed."""
        now = self.clock()
        due = to_db_time(now + timedelta(seconds=after))
        with self._tx() as db:
            db.executemany(
                "UPDATE hearbacks SET attempts = attempts + ?, error = ?, updated_at = ?, "
                "due_at = ?, state = 'pending' WHERE id = ?",
                [(int(count), error, to_db_time(now), due, hid) for hid in ids],
            )
            marks = ", ".join("?" * len(ids))
            return db.execute(
                f"UPDATE hearbacks SET state = 'failed' WHERE id IN ({marks}) AND attempts >= ?",
                (*ids, max_attempts),
            ).rowcount

    def hearbacks_done(self, ids: list[int], state: str, error: str | None = None) -> None:
        """A final state: `failed` (the chat is gone, the message refused) or `unknown`."""
        if state not in HEARBACK_STATES:
            raise ValueError(f"unknown hear-back state {state!r}")
        with self._tx() as db:
            db.executemany(
                "UPDATE hearbacks SET state = ?, error = COALESCE(?, error), attempts = "
                "attempts + 1, updated_at = ? WHERE id = ?",
                [(state, error, self._now(), hid) for hid in ids],
            )

    def hearbacks_moved(self, ids: list[int], new_chat_id: int) -> None:
        """The group became a supergroup: its hear-backs follow it, to be sent there."""
        with self._tx() as db:
            db.executemany(
                "UPDATE hearbacks SET chat_id = ?, state = 'pending', updated_at = ? WHERE id = ?",
                [(new_chat_id, self._now(), hid) for hid in ids],
            )

    def repoint_hearback(self, question_id: int, story_id: str | None) -> bool:
        """The lead changed their mind before the hear-back left: it now tells `story_id`
        (a cancelled one is owed again), or, for None (undone), is cancelled. Rows already
        taken for sending are not changed. True when a row changed."""
        with self._tx() as db:
            if story_id is None:
                sql = "UPDATE hearbacks SET state = 'cancelled', updated_at = ? "
                params: tuple[object, ...] = (self._now(), question_id)
                sql += "WHERE question_id = ? AND state = 'pending'"
            else:
                sql = (
                    "UPDATE hearbacks SET state = 'pending', anecdote_id = ?, updated_at = ? "
                    "WHERE question_id = ? AND state IN ('pending', 'cancelled')"
                )
                params = (story_id, self._now(), question_id)
            return db.execute(sql, params).rowcount > 0

    def hearback_shown(self, question_id: int) -> None:
        """The terminal printed it (the terminal user asked): nothing left to send."""
        with self._tx() as db:
            db.execute(
                "UPDATE hearbacks SET state = 'sent', updated_at = ? WHERE question_id = ? "
                "AND state = 'pending'",
                (self._now(), question_id),
            )

    def reconcile_hearbacks(self) -> list[Hearback]:
        """At start: `queued` (never left the process) -> `pending`, to be sent; `sending`
        (may have reached Telegram) -> `unknown`, returned so they can be logged."""
        now = self._now()
        with self._tx() as db:
            unsure = db.execute(f"{_SELECT} WHERE state = 'sending'").fetchall()
            db.execute(
                "UPDATE hearbacks SET state = 'unknown', error = 'unconfirmed at restart', "
                "updated_at = ? WHERE state = 'sending'",
                (now,),
            )
            db.execute(
                "UPDATE hearbacks SET state = 'pending', updated_at = ? WHERE state = 'queued'",
                (now,),
            )
        return [_hearback(row) for row in unsure]


_SELECT = (
    "SELECT id, question_id, chat_id, anecdote_id, text, lang, state, attempts, due_at "
    "FROM hearbacks"
)


def _hearback(row: sqlite3.Row) -> Hearback:
    return Hearback(
        id=int(row["id"]),
        question_id=int(row["question_id"]),
        chat_id=int(row["chat_id"]),
        story_id=row["anecdote_id"],
        text=row["text"],
        lang=row["lang"],
        state=row["state"],
        attempts=int(row["attempts"]),
        due_at=from_db_time(row["due_at"]),
    )
