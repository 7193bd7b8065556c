"""What Kisah remembers of a conversation: the questions asked and the votes given.

Why in the core: the Telegram bot and the terminal chat both record what happened, and what
counts (small talk is no question; a question is kept whether or not its answer reached the
chat; a failing store never spoils an answer already given) must be decided once, here, not
in each transport. Plain and synchronous: the Telegram layer calls these in a worker thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.engine.matcher import Answer
    from bot.storage.store import Store

log = logging.getLogger(__name__)


def record_question(
    store: Store | None,
    *,
    chat_id: int,
    user_id: int | None,
    question: str,
    answer: Answer,
    source: str,
    message_id: int | None = None,
) -> bool:
    """Remember the question for /stats, the inbox and reports; True when it was queued.

    Small talk ("halo", "makasih") is not a question and is not recorded: it must not show up
    as an unanswered one. Best effort: the user already has the answer, so a storage failure
    is logged, not raised. The store only queues the record (its writer thread retries while
    another process locks the database), so this never holds up the next answer. With
    `message_id` (Telegram) the question is owed an answer until `mark_replied`
    (bot/storage/answering.py), so one cut off by a stop is answered after the restart.
    """
    if store is None or answer.small_talk is not None:
        return False
    # A story offered but not told ("did you mean ...?") is the question's best match too:
    # the weekly digest counts such questions as "offered" (answered = 0, a story named).
    # A question of the law is answered by the rule: no gap for the inbox to fill with a
    # story, nor for authors to write one; a story offered after the rule is not its answer.
    legal = answer.legal is not None and answer.best is None
    best = None if legal else answer.best or answer.maybe
    try:
        store.record_question(
            chat_id=chat_id,
            user_id=user_id,
            text=question,
            lang=answer.lang,
            story_id=best.story.id if best else None,
            score=best.score if best else 0,
            answered=answer.best is not None or legal,
            source=source,
            message_id=message_id,
        )
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.error("recording question failed chat_id=%s: %r", chat_id, exc)
        return False
    return True


def record_vote(
    store: Store | None,
    *,
    chat_id: int,
    user_id: int | None,
    story_id: str,
    positive: bool,
    message_id: int | None = None,
) -> bool:
    """Remember a 👍 or 👎 on a story; best effort, like `record_question`. `message_id`: the
    answer voted on, so the same button pressed again (or a forged replay) is one vote."""
    if store is None:
        return False
    try:
        store.record_feedback(
            chat_id=chat_id,
            user_id=user_id,
            story_id=story_id,
            positive=positive,
            message_id=message_id,
        )
    except Exception as exc:  # noqa: BLE001 - best effort
        log.error("recording feedback failed chat_id=%s: %r", chat_id, exc)
        return False
    return True
