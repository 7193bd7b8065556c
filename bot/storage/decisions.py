"""The team leads' inbox in the database: questions waiting, and what leads decided."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.storage.inboxrecords import (
    DECISIONS,
    MERGED,
    OPEN,
    TAUGHT,
    Change,
    Decision,
    Question,
    parse_state,
    state_of,
    text_key,
)

if TYPE_CHECKING:
    pass
from bot.storage.database import READ_BUSY_SECONDS, Database, from_db_time, to_db_time
from bot.storage.hearbacks import owe

log = logging.getLogger(__name__)


class Decisions(Database):
    """Questions waiting for a team lead and the decisions taken (see `bot/leads/inbox.py`)."""

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
        question of that chat answered with that story before the vote, found when the vote
        is recorded), with the text kept,
        and not settled by a decision on the same text (`_settled`: in the question's chat or
        bot-wide; a 👎 after the decision brings it back), a question asked three times shown
        once, the newest. `chat_id` None: every chat's.
        """
        # Two bounded walks down an index each, newest first: the unanswered questions, and
        # those a 👎 names (each vote says which question it is about, see `record_feedback`).
        # Neither grows with the other, nor with what other chats ask.
        chat = "chat_id = ? AND " if chat_id is not None else ""
        params: tuple[object, ...] = (chat_id,) if chat_id is not None else ()
        columns = "id, asked_at, chat_id, user_id, text, lang, answered, anecdote_id"
        self._await_records()
        with self._snapshot() as db:
            unanswered = db.execute(
                f"SELECT {columns}, 0 AS down FROM questions INDEXED BY "
                f"{'questions_open_by_chat' if chat_id is not None else 'questions_open'} "
                f"WHERE {chat}answered = 0 AND text IS NOT NULL AND trim(text) != '' "
                "ORDER BY id DESC LIMIT ?",
                (*params, INBOX_SCAN),
            ).fetchall()
            down = db.execute(
                f"SELECT {columns}, 1 AS down FROM questions WHERE id IN ("
                "SELECT DISTINCT question_id FROM feedback INDEXED BY "
                f"{'feedback_down_by_chat' if chat_id is not None else 'feedback_down'} "
                f"WHERE {chat}positive = 0 AND question_id IS NOT NULL "
                "ORDER BY question_id DESC LIMIT ?) "
                "AND text IS NOT NULL AND trim(text) != ''",
                (*params, INBOX_SCAN),
            ).fetchall()
        rows = sorted([*unanswered, *down], key=lambda row: row["id"], reverse=True)
        rows = rows[:INBOX_SCAN]
        settled = self._settlements()
        seen: set[str] = set()
        waiting: list[sqlite3.Row] = []
        for row in rows:
            key = text_key(row["text"])
            if key in seen or _settled(
                settled, row["text"], row["chat_id"], row["asked_at"], down=bool(row["down"])
            ):
                continue
            seen.add(key)
            waiting.append(row)
        # Only the page shown becomes records (reading times is the costly part).
        return [_question(row) for row in waiting[offset : offset + limit]], len(waiting)

    def decision(self, question_id: int) -> Decision | None:
        rows = self._read(_DECISION_SELECT + " WHERE question_id = ?", (question_id,))
        return _decision(rows[0]) if rows else None

    def decide(
        self,
        question_id: int,
        decision: str,
        *,
        story_id: str | None = None,
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
        if decision not in DECISIONS or (decision == TAUGHT) != (story_id is not None):
            raise ValueError(f"bad decision {decision!r} for story {story_id!r}")
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
            if before is not None and before.decision == MERGED:
                return Change("merged", before)
            if _outranked(before, scope):
                return Change("bot_wide", before)
            new_state = state_of(decision, story_id)
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
                    story_id,
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
            if notify:  # the asker's hear-back, owed in the same transaction (hearbacks.py)
                assert story_id is not None
                owe(
                    db,
                    question_id=question_id,
                    chat_id=question.chat_id,
                    story_id=story_id,
                    text=question.text,
                    lang=question.lang,
                    now=now,
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
            decision, story_id = parse_state(found.previous)
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
                (decision, story_id, by, decided_in, to_db_time(now), question_id),
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

    def merge_decisions(self, question_ids: list[int]) -> int:
        """Mark these taught phrasings merged: the YAML has them now (`taught --prune`).

        Kept, not deleted: the decision still settles the question (it must not come back to
        the inbox), still says the asker heard back (never a second time), and still stops a
        lead from teaching the same question elsewhere over the story's trigger; it only
        stops being a taught phrasing. Nothing to undo afterwards. How many were marked."""
        if not question_ids:
            return 0
        with self._tx() as db:
            marks = ", ".join("?" * len(question_ids))
            cursor = db.execute(
                f"UPDATE decisions SET decision = '{MERGED}', previous = NULL, "
                f"previous_scope = scope WHERE decision = '{TAUGHT}' "
                f"AND question_id IN ({marks})",
                tuple(question_ids),
            )
            return cursor.rowcount


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
        story_id=row["anecdote_id"],
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
        story_id=row["anecdote_id"],
        previous=row["previous"],
        text=row["text"],
        lang=row["lang"],
        chat_id=int(row["chat_id"]),
        decided_by=row["decided_by"],
        decided_at=from_db_time(row["decided_at"]),
        notified_at=from_db_time(notified) if notified else None,
        scope=scope,
    )
