"""Quiz polls, their answers and the weekly picture in Telegram (issue 19): translate only.

- `send_quiz` turns a `QuizPoll` into sendPoll (type quiz, not anonymous, so every answer
  reaches the bot as a poll_answer update) and records the poll, so that answers to it count.
- `on_poll_answer` records a member's answer, once per member and poll; an answer to a poll
  the bot has no record of (forged, or from before a crash between sending and recording)
  changes nothing.
- `remember_private_user`: who has started the bot in private; Telegram lets a bot write to a
  user only then, and the weekly picture goes to a group's admins that way.
- `deliver_picture`: the weekly picture to the group's admins who started the bot in private
  (getChatAdministrators), else to the group itself; in a private chat, to that chat.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from telegram import Poll, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.chat.replies import Reply
from bot.transports.telegram.common import Context, services_of
from bot.transports.telegram.render import keyboard

if TYPE_CHECKING:
    from telegram import Bot, Message

    from bot.chat.request import Picture, QuizPoll
    from bot.storage.store import Store

log = logging.getLogger(__name__)


async def send_quiz(
    bot: Bot,
    store: Store,
    chat_id: int,
    poll: QuizPoll,
    *,
    delivery_id: int | None = None,
    **kwargs: Any,
) -> Message:
    """Send the quiz poll and record it (with the delivery it carries, if any)."""
    message = await bot.send_poll(
        chat_id=chat_id,
        question=poll.question,
        options=list(poll.options),
        is_anonymous=False,
        type=Poll.QUIZ,
        correct_option_ids=[poll.correct],  # Bot API 9.6 (correct_option_id before)
        explanation=poll.explanation,
        reply_markup=keyboard(Reply(poll.question, poll.buttons)),
        **kwargs,
    )
    sent = message.poll
    if sent is not None:
        await asyncio.to_thread(
            store.record_poll,
            sent.id,
            chat_id,
            poll.key,
            poll.correct,
            message_id=message.message_id,
            delivery_id=delivery_id,
        )
    log.info(
        "quiz sent chat_id=%s quiz=%s poll_id=%s delivery=%s",
        chat_id,
        poll.key,
        sent.id if sent else None,
        delivery_id,
    )
    return message


async def on_poll_answer(update: Update, context: Context) -> None:
    """A member answered a quiz poll: record it once (the store ignores repeats and polls
    it did not send). Nothing is said in the chat: Telegram shows the explanation itself."""
    answer = update.poll_answer
    if answer is None:
        return
    user = answer.user
    if user is None or not answer.option_ids:
        # An anonymous admin voting as the chat, or a retracted vote (not possible on a quiz).
        log.info("poll answer ignored update_id=%s poll_id=%s", update.update_id, answer.poll_id)
        return
    store = services_of(context).store
    recorded = await asyncio.to_thread(
        store.record_quiz_answer, answer.poll_id, user.id, answer.option_ids[0]
    )
    log.info(
        "poll answer update_id=%s poll_id=%s user_id=%s recorded=%s right=%s",
        update.update_id,
        answer.poll_id,
        user.id,
        recorded is not None,
        recorded.right if recorded else None,
    )


async def remember_private_user(update: Update, context: Context) -> None:
    """Any update from a private chat: its user may now be written to (weekly picture)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type != chat.PRIVATE:
        return
    # Queued like a question (INSERT OR IGNORE): no cache here, so no state outlives its store.
    await asyncio.to_thread(services_of(context).store.remember_private_user, user.id)


async def _send_photo(bot: Bot, chat_id: int, picture: Picture) -> Message:
    return await bot.send_photo(
        chat_id=chat_id,
        photo=picture.png,
        filename=picture.name,
        caption=picture.caption,
    )


async def deliver_picture(bot: Bot, store: Store, chat_id: int, picture: Picture) -> int:
    """Send the picture; the number of admins reached in private (0: it went to `chat_id`).

    In a group: to each administrator (not bots) who has started the bot in private; one who
    blocked the bot since is forgotten and skipped. If none can be reached, to the group.
    Raises what sending to `chat_id` itself raises (Forbidden: the bot left the group)."""
    if chat_id < 0:
        try:
            admins = await bot.get_chat_administrators(chat_id)
        except (Forbidden, BadRequest):
            raise
        except TelegramError as exc:
            log.warning("getChatAdministrators failed chat_id=%s: %s", chat_id, exc)
            admins = ()
        ids = [member.user.id for member in admins if not member.user.is_bot]
        reachable = await asyncio.to_thread(store.private_users, ids)
        sent = 0
        for user_id in reachable:
            try:
                await _send_photo(bot, user_id, picture)
            except Forbidden as exc:
                await asyncio.to_thread(store.forget_private_user, user_id)
                log.info("digest: admin blocked the bot user_id=%s: %s", user_id, exc)
                continue
            sent += 1
        log.info("digest sent chat_id=%s admins=%d of %d", chat_id, sent, len(ids))
        if sent:
            return sent
    await _send_photo(bot, chat_id, picture)
    log.info("digest sent to the chat itself chat_id=%s", chat_id)
    return 0
