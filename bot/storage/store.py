"""Everything Kisah remembers, in one SQLite file: the one handle the rest of the bot uses.

The plumbing (connections, migrations, the record queue) is `Database`; each kind of record
has its own module (`deliveries`, `decisions`); this class adds the chat settings, the
questions and feedback, statistics, and moving a chat to its new id."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.content.knowledge import LANGUAGES

if TYPE_CHECKING:
    pass
from bot.storage.database import DB_FILENAME, Clock, Database, from_db_time, to_db_time, utc_now  # noqa: F401
from bot.storage.decisions import Decisions, read_taught  # noqa: F401
from bot.storage.deliveries import Deliveries
from bot.storage.files import StoreError  # noqa: F401
from bot.storage.migrations import MIGRATIONS, SCHEMA_VERSION  # noqa: F401

log = logging.getLogger(__name__)

SOURCES = frozenset({"private", "group", "inline", "cli"})


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


@dataclass(frozen=True)
class LoggedQuestion:
    """One recorded question as stored (text None when questions are not kept)."""

    chat_id: int
    user_id: int | None
    text: str | None
    lang: str
    anecdote_id: str | None
    score: int
    answered: bool
    source: str


@dataclass(frozen=True)
class LoggedVote:
    """One recorded thumbs up (positive) or down."""

    chat_id: int
    user_id: int | None
    anecdote_id: str
    positive: bool


class Store(Deliveries, Decisions):
    """The one handle on the database; every public method is one short transaction, except
    the best-effort records (questions, feedback), which are queued (see `writer`)."""

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
        """Log one question; its text only when the operator allows it (BOT_LOG_QUESTIONS).

        Queued, not written here: it returns at once even while another process holds the
        database's write lock, and the time asked is taken now, not when it is written.
        """
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}, expected one of {sorted(SOURCES)}")
        self._queue_record(
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
        """Log a thumbs up or down; queued like a question, returns at once."""
        self._queue_record(
            "INSERT INTO feedback (given_at, chat_id, user_id, anecdote_id, positive) "
            "VALUES (?, ?, ?, ?, ?)",
            (self._now(), chat_id, user_id, anecdote_id, int(bool(positive))),
        )

    def question_log(self) -> list[LoggedQuestion]:
        """Every question recorded so far, oldest first: what the bot remembered, read back
        through the store (tests, benchmarks) rather than through SQL of one's own."""
        rows = self._read(
            "SELECT chat_id, user_id, text, lang, anecdote_id, score, answered, source "
            "FROM questions ORDER BY id"
        )
        return [LoggedQuestion(**{**dict(row), "answered": bool(row["answered"])}) for row in rows]

    def feedback_log(self) -> list[LoggedVote]:
        """Every vote recorded so far, oldest first (like `question_log`)."""
        rows = self._read(
            "SELECT chat_id, user_id, anecdote_id, positive FROM feedback ORDER BY id"
        )
        return [LoggedVote(**{**dict(row), "positive": bool(row["positive"])}) for row in rows]

    # -- statistics ---------------------------------------------------------------------------

    def stats(self, *, days: int, chat_id: int | None = None, top: int = 5) -> Stats:
        """Counts for the last `days` days, for one chat or (chat_id=None) every chat."""
        since = self.clock() - timedelta(days=days)
        where = "asked_at >= ?" + (" AND chat_id = ?" if chat_id is not None else "")
        params: tuple[object, ...] = (to_db_time(since),) + (
            (chat_id,) if chat_id is not None else ()
        )
        self._await_records()
        with self._snapshot() as db:
            asked, answered = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions WHERE {where}",
                params,
            ).fetchone()
            stories = db.execute(
                f"SELECT anecdote_id, COUNT(*) AS n FROM questions WHERE {where} "
                "AND answered = 1 AND anecdote_id IS NOT NULL "
                "GROUP BY anecdote_id ORDER BY n DESC, anecdote_id LIMIT ?",
                (*params, top),
            ).fetchall()
            unanswered = db.execute(
                f"SELECT text, COUNT(*) AS n FROM questions WHERE {where} AND answered = 0 "
                "AND text IS NOT NULL GROUP BY lower(trim(text)) ORDER BY n DESC, text LIMIT ?",
                (*params, top),
            ).fetchall()
            fb_where = "given_at >= ?" + (" AND chat_id = ?" if chat_id is not None else "")
            up, down = db.execute(
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

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group upgraded to a supergroup (new id): its settings, subscription and place in
        the deck follow it. Rows the new id already has win.

        So do the tips that reached it or may have (`sent`, `sending`, `unknown`), so that a
        group migrating after today's tip is not owed a second one under its new id. Tips not
        sent (pending, queued, failed, ...) stay behind: the new id claims its own.
        """
        with self._tx() as db:
            db.execute(
                "UPDATE OR IGNORE deliveries SET chat_id = ? "
                "WHERE chat_id = ? AND state IN ('sent', 'sending', 'unknown')",
                (new_chat_id, old_chat_id),
            )
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
