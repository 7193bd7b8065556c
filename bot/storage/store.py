"""Everything Kisah remembers, in one SQLite file: the one handle the rest of the bot uses.

The plumbing (connections, migrations, the record queue) is `Database`; each kind of record
has its own module (`deliveries`, `decisions`, `hearbacks`, `answering`, `quizrecords`); this
class adds the chat settings, the questions and feedback, statistics, and moving a chat to its
new id."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.content.model import LANGUAGES
from bot.storage.answering import Answering
from bot.storage.database import DB_FILENAME, Clock, to_db_time, utc_now
from bot.storage.decisions import Decisions, read_taught
from bot.storage.deliveries import Deliveries
from bot.storage.files import StoreError
from bot.storage.hearbacks import Hearbacks
from bot.storage.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.storage.quizrecords import QuizRecords

# The store's public face: callers import these from here, wherever they are defined.
__all__ = [
    "DB_FILENAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Clock",
    "QuestionCount",
    "Stats",
    "Store",
    "StoreError",
    "read_taught",
    "utc_now",
]

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
    top_stories: tuple[tuple[str, int], ...]  # (story id, questions answered with it)
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
    story_id: str | None
    score: int
    answered: bool
    source: str


@dataclass(frozen=True)
class LoggedVote:
    """One recorded thumbs up (positive) or down."""

    chat_id: int
    user_id: int | None
    story_id: str
    positive: bool


class Store(Deliveries, Decisions, Hearbacks, Answering, QuizRecords):
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
        story_id: str | None,
        score: int,
        answered: bool,
        source: str,
        message_id: int | None = None,
    ) -> None:
        """Log one question; its text only when the operator allows it (BOT_LOG_QUESTIONS).

        Queued, not written here: it returns at once even while another process holds the
        database's write lock, and the time asked is taken now, not when it is written.
        `message_id`: the Telegram message that asked it, recorded before it is answered
        ('waiting' until `mark_replied`, see `bot/storage/answering.py`).
        """
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}, expected one of {sorted(SOURCES)}")
        self._queue_record(
            "INSERT INTO questions (asked_at, chat_id, user_id, text, lang, anecdote_id, "
            "score, answered, source, message_id, reply_state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._now(),
                chat_id,
                user_id,
                text if self.log_questions else None,
                lang,
                story_id,
                int(score),
                int(bool(answered)),
                source,
                message_id,
                "waiting" if message_id is not None else None,
            ),
        )

    def record_feedback(
        self,
        *,
        chat_id: int,
        user_id: int | None,
        story_id: str,
        positive: bool,
        message_id: int | None = None,
    ) -> None:
        """Log a thumbs up or down; queued like a question, returns at once.

        One vote per user, message and story: a button pressed again (a double tap, or a
        forged replay of the same press) adds nothing. The vote is about the latest question
        of the chat answered with that story (the questions are written in the order they
        were queued, so that is the one answered before the vote), looked up once, here,
        through an index, so that the inbox need not search for it on every read."""
        self._queue_record(
            "INSERT OR IGNORE INTO feedback (given_at, chat_id, user_id, anecdote_id, positive, "
            "message_id, question_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
            "(SELECT id FROM questions WHERE chat_id = ?2 AND anecdote_id = ?4 "
            "AND answered = 1 AND asked_at <= ?1 ORDER BY id DESC LIMIT 1))",
            (self._now(), chat_id, user_id, story_id, int(bool(positive)), message_id),
        )

    def question_log(self) -> list[LoggedQuestion]:
        """Every question recorded so far, oldest first: what the bot remembered, read back
        through the store (tests, benchmarks) rather than through SQL of one's own."""
        rows = self._read(
            "SELECT chat_id, user_id, text, lang, anecdote_id AS story_id, score, answered, source "
            "FROM questions ORDER BY id"
        )
        return [LoggedQuestion(**{**dict(row), "answered": bool(row["answered"])}) for row in rows]

    def feedback_log(self) -> list[LoggedVote]:
        """Every vote recorded so far, oldest first (like `question_log`)."""
        rows = self._read(
            "SELECT chat_id, user_id, anecdote_id AS story_id, positive FROM feedback ORDER BY id"
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
            # Those a team lead has settled (taught, no story fits, skipped) where this chat
            # reads it are left out: the list is what still waits for someone to act.
            scope = "" if chat_id is None else " AND (scope IS NULL OR scope = ?)"
            unanswered = db.execute(
                f"SELECT text, COUNT(*) AS n FROM questions WHERE {where} AND answered = 0 "
                "AND text IS NOT NULL AND lower(trim(text)) NOT IN (SELECT lower(trim(text)) "
                f"FROM decisions WHERE decision != 'open'{scope}) "
                "GROUP BY lower(trim(text)) ORDER BY n DESC, text LIMIT ?",
                (*params, *((chat_id,) if chat_id is not None else ()), top),
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

        And so do its questions, votes and the team leads' decisions on them: the questions
        asked there, what its admins taught (`scope`: it applies in the supergroup now) and
        the day's teaching count (`decided_in`), so that the supergroup's admins find their
        inbox and the asker hears back at the new id (the hear-backs owed move too). The
        records queued before the move are written first, so none is left behind. Its quiz
        mode and quiz history go too (`quizrecords`), in the same transaction.
        """
        self._await_records()
        with self._tx() as db:
            db.execute(
                "UPDATE questions SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
            )
            db.execute(  # the hear-backs owed there go to the supergroup
                "UPDATE hearbacks SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
            )
            db.execute(
                "UPDATE OR IGNORE feedback SET chat_id = ? WHERE chat_id = ?",
                (new_chat_id, old_chat_id),
            )
            for column in ("chat_id", "scope", "previous_scope", "decided_in"):
                db.execute(
                    f"UPDATE decisions SET {column} = ? WHERE {column} = ?",
                    (new_chat_id, old_chat_id),
                )
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
            self._move_quiz_chat(db, old_chat_id, new_chat_id)
