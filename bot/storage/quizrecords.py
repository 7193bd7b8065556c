"""What the store keeps about quizzes: polls sent, answers given, who started the bot in
private, each team's daily mode and the weekly digests (issue 19).

Its own module, beside `store.py`, so the quiz feature's SQL lives in one place: `QuizRecords`
is one of the store's record kinds (like `deliveries`, `decisions`, `hearbacks`), built on
`Database`'s transactions and reads; the method names say "quiz" where the store's other
records would make a bare name (`history`, `mode`) ambiguous.

Why answers are keyed by (poll, user): Telegram sends a poll_answer update for every vote on
a non-anonymous poll the bot sent; a quiz poll cannot be voted twice, but an update can be
delivered twice (a restart before the offset was confirmed), so the second copy is ignored by
the primary key instead of counted. An answer to a poll the bot has no record of (forged, or
sent by another bot with this one's token long ago) is not recorded at all.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.storage.database import Database, from_db_time, to_db_time

MODES = ("tips", "quiz", "mix")


@dataclass(frozen=True)
class Poll:
    """A quiz poll the bot sent."""

    poll_id: str
    chat_id: int
    quiz_key: str
    correct: int
    delivery_id: int | None = None


@dataclass(frozen=True)
class Answer:
    """One member's answer to one quiz poll."""

    user_id: int
    chat_id: int
    quiz_key: str
    right: bool
    answered_at: datetime


@dataclass(frozen=True)
class Tally:
    """Right answers out of all answers to one quiz question."""

    quiz_key: str
    right: int
    total: int


def story_of(quiz_key: str) -> str:
    return quiz_key.rpartition(":q")[0]


class QuizRecords(Database):
    """The quiz tables of the store; every method is one short transaction or read."""

    # -- polls and answers --------------------------------------------------------------------

    def record_poll(
        self,
        poll_id: str,
        chat_id: int,
        quiz_key: str,
        correct: int,
        *,
        message_id: int | None = None,
        delivery_id: int | None = None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO quiz_polls (poll_id, chat_id, quiz_key, correct, "
                "message_id, delivery_id, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (poll_id, chat_id, quiz_key, correct, message_id, delivery_id, self._now()),
            )

    def quiz_poll(self, poll_id: str) -> Poll | None:
        rows = self._read(
            "SELECT poll_id, chat_id, quiz_key, correct, delivery_id FROM quiz_polls "
            "WHERE poll_id = ?",
            (poll_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return Poll(
            row["poll_id"], row["chat_id"], row["quiz_key"], row["correct"], row["delivery_id"]
        )

    def record_quiz_answer(self, poll_id: str, user_id: int, option: int) -> Answer | None:
        """Record a member's answer; None when the poll is not ours or the answer is a
        repeat (the first answer stands)."""
        with self._tx() as db:
            row = db.execute(
                "SELECT chat_id, quiz_key, correct FROM quiz_polls WHERE poll_id = ?", (poll_id,)
            ).fetchone()
            if row is None:
                return None
            right = int(option == row["correct"])
            now = self._now()
            inserted = db.execute(
                "INSERT OR IGNORE INTO quiz_answers (poll_id, user_id, chat_id, quiz_key, "
                "option, right, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (poll_id, user_id, row["chat_id"], row["quiz_key"], option, right, now),
            ).rowcount
        if not inserted:
            return None

        return Answer(user_id, row["chat_id"], row["quiz_key"], bool(right), from_db_time(now))

    def quiz_history(self, user_id: int) -> list[Answer]:
        """Every answer of one member, oldest first, in every chat: practice is personal."""

        rows = self._read(
            "SELECT user_id, chat_id, quiz_key, right, answered_at FROM quiz_answers "
            "WHERE user_id = ? ORDER BY answered_at, rowid",
            (user_id,),
        )
        return [
            Answer(
                r["user_id"],
                r["chat_id"],
                r["quiz_key"],
                bool(r["right"]),
                from_db_time(r["answered_at"]),
            )
            for r in rows
        ]

    def quizzes_offered(self, chat_id: int) -> dict[str, int]:
        """How often each question was sent to a chat (to prefer those never sent)."""
        rows = self._read(
            "SELECT quiz_key, COUNT(*) AS n FROM quiz_polls WHERE chat_id = ? GROUP BY quiz_key",
            (chat_id,),
        )
        return {row["quiz_key"]: int(row["n"]) for row in rows}

    def quiz_tallies(self, chat_id: int | None, *, days: int) -> list[Tally]:
        """Right/total per question over `days`, for one chat's polls (or every chat's);
        story and lesson come from the knowledge base (bot/leads/quiz.py groups them)."""
        since = self._quiz_since(days)
        where = "answered_at >= ?" + (" AND chat_id = ?" if chat_id is not None else "")
        params: tuple[object, ...] = (since,) + ((chat_id,) if chat_id is not None else ())
        rows = self._read(
            f"SELECT quiz_key, SUM(right) AS r, COUNT(*) AS n FROM quiz_answers WHERE {where} "
            "GROUP BY quiz_key",
            params,
        )
        return [Tally(row["quiz_key"], int(row["r"]), int(row["n"])) for row in rows]

    def quiz_participation(self, chat_id: int | None, *, days: int) -> tuple[int, int, int]:
        """(quizzes sent, answers, distinct members answering) over `days`."""
        since = self._quiz_since(days)
        chat = " AND chat_id = ?" if chat_id is not None else ""
        params: tuple[object, ...] = (since,) + ((chat_id,) if chat_id is not None else ())
        polls = self._read(
            f"SELECT COUNT(*) AS n FROM quiz_polls WHERE sent_at >= ?{chat}", params
        )[0]["n"]
        answers = self._read(
            f"SELECT COUNT(*) AS n, COUNT(DISTINCT user_id) AS m FROM quiz_answers "
            f"WHERE answered_at >= ?{chat}",
            params,
        )[0]
        return int(polls), int(answers["n"]), int(answers["m"])

    def _quiz_since(self, days: int) -> str:

        return to_db_time(self.clock() - timedelta(days=days))

    # -- who may be written to in private -----------------------------------------------------

    def remember_private_user(self, user_id: int) -> None:
        """The user wrote to the bot in private: from now on the bot may write to them.

        Queued like the questions (the store's record writer), never waited for: it runs
        before every private update is answered, and a database locked by another process
        must not hold up the answer."""
        self._queue_record(
            "INSERT OR IGNORE INTO private_users (user_id, started_at) VALUES (?, ?)",
            (user_id, self._now()),
        )

    def forget_private_user(self, user_id: int) -> None:
        """The user blocked the bot: the digest goes elsewhere."""
        with self._tx() as db:
            db.execute("DELETE FROM private_users WHERE user_id = ?", (user_id,))

    def private_users(self, user_ids: list[int]) -> list[int]:
        """Those of `user_ids` who started the bot in private, in the order given."""
        if not user_ids:
            return []
        marks = ",".join("?" * len(user_ids))
        self._await_records()  # the queued "started the bot" records land first
        rows = self._read(
            f"SELECT user_id FROM private_users WHERE user_id IN ({marks})", tuple(user_ids)
        )
        known = {row["user_id"] for row in rows}
        return [user_id for user_id in user_ids if user_id in known]

    # -- the daily mode -----------------------------------------------------------------------

    def set_daily_mode(self, chat_id: int, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._tx() as db:
            db.execute(
                "INSERT INTO quiz_modes (chat_id, mode) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET mode = excluded.mode",
                (chat_id, mode),
            )

    def daily_mode(self, chat_id: int) -> str:
        rows = self._read("SELECT mode FROM quiz_modes WHERE chat_id = ?", (chat_id,))
        return rows[0]["mode"] if rows else "tips"

    def daily_modes(self) -> dict[int, str]:
        rows = self._read("SELECT chat_id, mode FROM quiz_modes")
        return {row["chat_id"]: row["mode"] for row in rows}

    def _move_quiz_chat(self, db: sqlite3.Connection, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its mode and its quiz history follow it (inside the
        store's `move_chat` transaction, with the rest of the chat's records)."""
        db.execute(
            "UPDATE OR IGNORE quiz_modes SET chat_id = ? WHERE chat_id = ?",
            (new_chat_id, old_chat_id),
        )
        for table in ("quiz_polls", "quiz_answers"):
            db.execute(
                f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
            )

    # -- weekly digests -----------------------------------------------------------------------

    def claim_digest(self, chat_id: int, week: date) -> bool:
        """Reserve the team's digest for the week of `week` as `sending`; False when it was
        claimed before (sent, failed, or left unknown by a crash: never twice)."""
        with self._tx() as db:
            return (
                db.execute(
                    "INSERT OR IGNORE INTO digests (chat_id, week, state, updated_at) "
                    "VALUES (?, ?, 'sending', ?)",
                    (chat_id, week.isoformat(), self._now()),
                ).rowcount
                == 1
            )

    def finish_digest(self, chat_id: int, week: date, state: str, error: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE digests SET state = ?, error = ?, updated_at = ? "
                "WHERE chat_id = ? AND week = ?",
                (state, error, self._now(), chat_id, week.isoformat()),
            )

    def reconcile_digests(self) -> int:
        """At start: a digest left `sending` by a crash may have arrived: `unknown`, not resent."""
        with self._tx() as db:
            return db.execute(
                "UPDATE digests SET state = 'unknown', error = 'unconfirmed at restart', "
                "updated_at = ? WHERE state = 'sending'",
                (self._now(),),
            ).rowcount

    def digest_states(self, chat_id: int) -> dict[str, str]:
        rows = self._read("SELECT week, state FROM digests WHERE chat_id = ?", (chat_id,))
        return {row["week"]: row["state"] for row in rows}

    # -- what the digest draws ----------------------------------------------------------------

    def daily_questions(
        self, chat_id: int | None, since: datetime, offset: timedelta = timedelta()
    ) -> list[tuple[str, str, int]]:
        """(day, outcome, count) of the chat's (None: every chat's) questions since `since`;
        the day is the date at `offset` from UTC (the chat's zone), outcome 'answered',
        'offered' (a story offered, not told) or 'unanswered'."""

        chat = " AND chat_id = ?" if chat_id is not None else ""
        shift = f"{round(offset.total_seconds() / 60):+d} minutes"
        params: tuple[object, ...] = (shift, to_db_time(since)) + (
            (chat_id,) if chat_id is not None else ()
        )
        self._await_records()
        rows = self._read(
            "SELECT date(substr(asked_at, 1, 19), ?) AS day, "
            "CASE WHEN answered = 1 THEN 'answered' "
            "WHEN anecdote_id IS NOT NULL THEN 'offered' ELSE 'unanswered' END AS outcome, "
            f"COUNT(*) AS n FROM questions WHERE asked_at >= ?{chat} "
            "GROUP BY day, outcome ORDER BY day",
            params,
        )
        return [(row["day"], row["outcome"], int(row["n"])) for row in rows]
