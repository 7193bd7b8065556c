"""Questions recorded as they arrive and not answered yet (issue 15 item 9).

Why: a group's answers can wait minutes in the rate limiter (20 messages a minute), and the
updates that carried the questions are already confirmed to Telegram, so a stop or a crash
meanwhile lost them. A question from a Telegram message is now recorded when it arrives with
`reply_state = 'waiting'` and its message id, before its answer waits anywhere, and marked
'replied' once Telegram took the answer (both through the record queue, in order). After a
restart the waiting ones are answered (`bot/transports/telegram/backlog.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.database import Database, from_db_time, to_db_time


@dataclass(frozen=True)
class Waiting:
    """A question recorded and never answered: where, which message, what was asked."""

    id: int
    chat_id: int
    message_id: int
    text: str | None  # None when BOT_LOG_QUESTIONS=false: it cannot be answered later
    lang: str
    asked_at: datetime


class Answering(Database):
    """The `reply_state` of recorded questions."""

    def mark_replied(self, chat_id: int, message_id: int) -> None:
        """The answer to the question in message `message_id` reached Telegram. Queued after
        the question's own record, so it never overtakes it; returns at once."""
        self._queue_record(
            "UPDATE questions SET reply_state = 'replied' "
            "WHERE chat_id = ? AND message_id = ? AND reply_state = 'waiting'",
            (chat_id, message_id),
        )

    def waiting_questions(self, before: datetime, limit: int = 1000) -> list[Waiting]:
        """Questions asked before `before` (this run's start) and never answered, oldest
        first."""
        rows = self._read(
            "SELECT id, chat_id, message_id, text, lang, asked_at FROM questions "
            "WHERE reply_state = 'waiting' AND asked_at < ? ORDER BY id LIMIT ?",
            (to_db_time(before), limit),
        )
        return [
            Waiting(
                int(r["id"]),
                int(r["chat_id"]),
                int(r["message_id"]),
                r["text"],
                r["lang"],
                from_db_time(r["asked_at"]),
            )
            for r in rows
        ]

    def settle_waiting(self, question_id: int, state: str) -> None:
        """'replied' (answered after the restart) or 'dropped' (cannot be: no text kept, chat
        gone, too old)."""
        if state not in ("replied", "dropped"):
            raise ValueError(f"unknown reply state {state!r}")
        self._queue_record(
            "UPDATE questions SET reply_state = ? WHERE id = ? AND reply_state = 'waiting'",
            (state, question_id),
        )
