"""Daily tips: each chat's subscription, its place in the tip deck, and the delivery log
that makes a tip go out at most once."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, time
from typing import TYPE_CHECKING

from bot.leads.tips import next_tip
from bot.storage.tiprecords import Delivery, Subscription

if TYPE_CHECKING:
    pass
from bot.storage.database import Database, from_db_time

log = logging.getLogger(__name__)


class Deliveries(Database):
    """Subscriptions and the delivery log (see `bot/leads/schedule.py`)."""

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

    def delivery_counts(self, kind: str | None = None) -> dict[str, int]:
        """How many deliveries are in each state; of one `kind` ('daily' scheduled, 'now' asked
        for with /tipnow or /quiznow) when given."""
        where, params = ("WHERE kind = ? ", (kind,)) if kind is not None else ("", ())
        rows = self._read(
            f"SELECT state, COUNT(*) AS n FROM deliveries {where}GROUP BY state", params
        )
        return {row["state"]: int(row["n"]) for row in rows}


_DELIVERY_SELECT = (
    "SELECT d.id, d.chat_id, d.kind, d.local_date, d.tip_key, d.state, c.timezone, c.language "
    "FROM deliveries d LEFT JOIN chats c ON c.chat_id = d.chat_id"
)
DELIVERY_STATES = frozenset(
    {"pending", "queued", "sending", "sent", "failed", "unknown", "expired", "cancelled"}
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
