"""Handlers for messages, commands and the inbox's buttons: update in -> Request -> core ->
Outcome -> Bot API calls.

Each handler is a few lines on purpose: deciding what to say and who may is the core's job
(`bot.chat`), storing is `bot.storage.store`'s; a handler only finds the facts (the language,
the chat, whether the sender administers it) and carries out the `Outcome`, in one function
(`deliver`) for every command and button.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from telegram import Chat, Message, MessageEntity, Update
from telegram.error import (
    BadRequest,
    NetworkError,
    TelegramError,
    TimedOut,
)
from telegram.ext import ApplicationHandlerStop

from bot.chat.access import Access, needs_admin_fact, refusal
from bot.chat.replies import Reply
from bot.chat.request import Env, Outcome, QuizPoll, Request
from bot.leads import digest as digests
from bot.transports.telegram.admins import admins_of
from bot.transports.telegram.common import (
    TEAM_KEY,
    Context,
    command_language,
    record_question,
    services_of,
    where,
)
from bot.transports.telegram.filters import strip_mention
from bot.transports.telegram.quizzes import deliver_picture, send_quiz
from bot.transports.telegram.ratelimit import NotSentStopping
from bot.transports.telegram.render import MAX_TOAST, plain, send_reply

if TYPE_CHECKING:
    from bot.chat.commands import ButtonRoute, Command
    from bot.chat.replies import Reply
    from bot.chat.services import Services

log = logging.getLogger(__name__)
ANSWER_RETRY_SECONDS = 1.0


def _quote(update: Update) -> int | None:
    """In groups the answer quotes the question, so everyone sees what it answers."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or chat.type == Chat.PRIVATE:
        return None
    return message.message_id


async def answer_question(update: Update, context: Context, question: str, source: str) -> None:
    """The core interaction: a question in, the best story (or an honest "none") out.

    Recorded first, as owed, then answered and marked replied (issue 15 item 9): the answer
    may wait minutes in a group's rate limit, and a stop or a crash meanwhile must not lose
    the question; after a restart what is still owed is answered (backlog.py)."""
    services = services_of(context)
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    assert chat is not None
    fallback = await command_language(services, chat.id, user)
    answer, reply = services.replies.answer(question, default_lang=fallback, chat_id=chat.id)
    best = answer.best
    log.info(
        "%s question source=%s lang=%s answered=%s story=%s score=%s",
        where(update),
        source,
        answer.lang,
        best is not None,
        best.story.id if best else "-",
        best.score if best else 0,
    )
    message_id = message.message_id if message is not None else None
    await record_question(
        services,
        chat_id=chat.id,
        user_id=user.id if user else None,
        question=question,
        answer=answer,
        source=source,
        message_id=message_id,
    )
    try:
        await _send_answer(context, update, chat.id, reply)
    except NotSentStopping:
        log.info("%s stopping: answer not sent, owed after the restart", where(update))
        return
    if message_id is not None and answer.small_talk is None:
        await asyncio.to_thread(services.store.mark_replied, chat.id, message_id)


async def _send_answer(context: Context, update: Update, chat_id: int, reply: Reply) -> None:
    """Send the answer; a server-side failure (Telegram's 500, a dropped connection) is
    retried once after a second. A bad request would fail again, and a timeout may have been
    delivered already, so those are not retried."""
    try:
        await send_reply(context.bot, chat_id, reply, reply_to=_quote(update))
    except (BadRequest, TimedOut, NotSentStopping):
        raise
    except NetworkError as exc:
        log.warning("%s sending the answer failed (%s), retrying once", where(update), exc)
        await asyncio.sleep(ANSWER_RETRY_SECONDS)
        try:
            await send_reply(context.bot, chat_id, reply, reply_to=_quote(update))
        except TelegramError as again:
            log.error("%s answer not delivered after a retry: %s", where(update), again)
            raise


async def private_text(update: Update, context: Context) -> None:
    """In a private chat any text is a question."""
    assert update.effective_message is not None
    await answer_question(update, context, update.effective_message.text or "", "private")


async def group_text(update: Update, context: Context) -> None:
    """A group message that mentions the bot or replies to it (the filter checked which)."""
    message = update.effective_message
    assert message is not None
    question = strip_mention(message, message.text or "")
    if not question:  # just "@kisah_bot": say how to ask
        await _send(update, context, lambda s, lang: s.replies.ask_usage(lang))
        return
    await answer_question(update, context, question, "group")


def _command_argument(update: Update) -> str:
    """Everything after the /command, line breaks kept (context.args would lose them)."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    if message and message.entities and message.entities[0].type == MessageEntity.BOT_COMMAND:
        return text[message.entities[0].length :].strip()
    return text.partition(" ")[2].strip()


async def _send(update: Update, context: Context, build: Callable[[Services, str], Reply]) -> None:
    """Send `build(services, lang)` in the command language of this chat."""
    services = services_of(context)
    chat = update.effective_chat
    assert chat is not None
    lang = await command_language(services, chat.id, update.effective_user)
    await send_reply(context.bot, chat.id, build(services, lang), reply_to=_quote(update))


def env_of(services: Services) -> Env:
    """The builders' view of the services (cheap: four references)."""
    return Env(services.replies, services.store, services.settings)


def request_of(update: Update, services: Services, lang: str, text: str = "") -> Request:
    """The core's request for this update, with the facts access is decided from that cost
    nothing to know (a private chat, a user listed in TEAM_LEAD_IDS); whether the sender
    administers the group is looked up only when the rule needs it (`decide_access`)."""
    chat, user = update.effective_chat, update.effective_user
    # No chat: a button on a message posted through inline mode; what it records is the user's.
    chat_id = chat.id if chat is not None else (user.id if user else 0)
    return Request(
        chat_id=chat_id,
        user_id=user.id if user else None,
        text=text,
        lang=lang,
        bot_wide_lead=user is not None and user.id in services.settings.team_lead_ids,
        update_id=update.update_id,
        private=chat is not None and chat.type == Chat.PRIVATE,
        message_id=update.effective_message.message_id if update.effective_message else None,
    )


async def decide_access(
    update: Update, context: Context, access: Access, request: Request, *, fresh: bool = False
) -> tuple[Request, Outcome | None]:
    """The core's access rule for this request: the request with the admin fact added when
    the rule needed it, and the refusal to send (None: go on). `fresh`: see `Admins`."""
    if needs_admin_fact(access, request):
        admin = await admins_of(context).is_group_admin(update, context, fresh=fresh)
        request = replace(request, group_admin=admin)
    return request, refusal(env_of(services_of(context)), access, request)


def command(row: Command) -> Callable[[Update, Context], Awaitable[None]]:
    """The handler of every row of the command table: the table's access rule (decided in
    the core), then its builder in a worker thread (builders may read the store), then
    `deliver`."""

    async def handle(update: Update, context: Context) -> None:
        services = services_of(context)
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return
        lang = await command_language(services, chat.id, user)
        request = request_of(update, services, lang, _command_argument(update))
        request, refused = await decide_access(update, context, row.access, request)
        quote = not row.team  # team replies go to the chat without quoting (as they always have)
        if refused is not None:
            if not admins_of(context).refusal_due(chat.id, request.user_id):
                log.debug(
                    "%s command refused silently (refused recently) command=%s user_id=%s",
                    where(update),
                    row.name,
                    request.user_id,
                )
                return
            log.info(
                "%s command refused command=%s user_id=%s", where(update), row.name, request.user_id
            )
            await deliver(update, context, refused, quote=False)
            return
        outcome = await asyncio.to_thread(row.build, env_of(services), request)
        await deliver(update, context, outcome, quote=quote)

    handle.__name__ = handle.__qualname__ = f"command_{row.name}"
    return handle


async def deliver(
    update: Update, context: Context, outcome: Outcome, *, quote: bool = False
) -> None:
    """Carry out an `Outcome` in Telegram, every field of it, for every command and button.

    A button press is answered first, with the `toast` when there is one. `question` goes
    through the question path (recorded, a lost answer retried); `replies` are sent in order
    (in groups quoting the message when `quote`; below a pressed button in its forum topic);
    the first of them is the tip of `delivery_id`, marked sent with its message's id or
    `unknown` when the send failed (it may or may not have reached the chat); a `poll` is sent
    as a quiz poll (then it is the delivery), a `picture` to the team's leads; `notices` were
    written into the hear-back outbox, which is kicked; `chosen_lang` is already stored, and
    Telegram keeps no language in memory.
    """
    services = services_of(context)
    chat, query = update.effective_chat, update.callback_query
    if query is not None:  # a press is always answered, or the user's button spinner spins
        await query.answer(plain(outcome.toast.text, MAX_TOAST) if outcome.toast else None)
    if chat is None:
        # Pressed on a message posted through inline mode: there is no chat to write into.
        log.info("%s button on an inline message, nothing to send", where(update))
        return
    if outcome.chosen_lang is not None:
        log.debug("%s language chosen lang=%s", where(update), outcome.chosen_lang)
    if outcome.question is not None:
        source = "private" if chat.type == Chat.PRIVATE else "group"
        await answer_question(update, context, outcome.question, source)
    reply_to = _quote(update) if quote else None
    # In a forum group, what a button brings stays in the topic the button was pressed in.
    pressed = query.message if query is not None else None
    in_topic = isinstance(pressed, Message) and pressed.is_topic_message
    thread_id = pressed.message_thread_id if in_topic else None  # type: ignore[union-attr]
    # With a poll (/quiznow) the delivery is the poll; otherwise the first reply (/tipnow).
    tip_delivery = outcome.delivery_id if outcome.poll is None else None
    for number, reply in enumerate(outcome.replies):
        if number or tip_delivery is None:
            await send_reply(context.bot, chat.id, reply, reply_to=reply_to, thread_id=thread_id)
            continue
        try:
            [message] = await send_reply(context.bot, chat.id, reply, reply_to=reply_to)
        except BaseException as exc:
            await asyncio.to_thread(
                services.store.mark_delivery, tip_delivery, "unknown", repr(exc)
            )
            raise
        await asyncio.to_thread(services.store.mark_sent, tip_delivery, message.message_id)
        log.info("tip sent now chat_id=%s update_id=%s", message.chat_id, update.update_id)
    if outcome.poll is not None:
        await _deliver_poll(update, context, chat.id, outcome.poll, outcome.delivery_id)
    if outcome.picture is not None:
        count = await deliver_picture(context.bot, services.store, chat.id, outcome.picture)
        if count:
            note = digests.sent_note(env_of(services), count, await _lang_of(update, services))
            await send_reply(context.bot, chat.id, note)
    if outcome.notices:
        # The store wrote them into the hear-back outbox with the decision: send it now.
        team = context.application.bot_data.get(TEAM_KEY)
        if team is not None:
            team.hearbacks.kick()


async def _lang_of(update: Update, services: Services) -> str:
    chat = update.effective_chat
    return await command_language(services, chat.id if chat else None, update.effective_user)


async def _deliver_poll(
    update: Update, context: Context, chat_id: int, poll: QuizPoll, delivery_id: int | None
) -> None:
    """A quiz poll, recorded so its answers count; with `delivery_id` (/quiznow) marked sent
    with its message, `failed` when Telegram refused it, else `unknown`."""
    services = services_of(context)
    try:
        message = await send_quiz(
            context.bot, services.store, chat_id, poll, delivery_id=delivery_id
        )
    except BadRequest as exc:
        # Refused, so certainly not sent: most often the group's admins took the bot's right
        # to post polls. Said in the chat (a message may still be allowed).
        if delivery_id is not None:
            await asyncio.to_thread(
                services.store.mark_delivery, delivery_id, "failed", exc.message
            )
        log.warning("%s quiz refused: %s", where(update), exc.message)
        await send_reply(context.bot, chat_id, Reply(services.kb.text("quiz_refused", poll.lang)))
        return
    except BaseException as exc:
        if delivery_id is not None:
            await asyncio.to_thread(services.store.mark_delivery, delivery_id, "unknown", repr(exc))
        raise
    if delivery_id is not None:
        await asyncio.to_thread(services.store.mark_sent, delivery_id, message.message_id)


PressHook = Callable[[Update, Context, Outcome], Awaitable[None]]


def button(
    route: ButtonRoute, *, after: PressHook | None = None
) -> Callable[[Update, Context], Awaitable[None]]:
    """The handler of a route of the button table: the route's access rule on every press (a
    press that decides asks Telegram afresh), its builder in a worker thread, then `deliver`
    (the press answered, what it brings sent below the pressed message, never quoting it).
    `after`: what Telegram alone does once the press is answered (the vote buttons removed)."""

    async def handle(update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        services = services_of(context)
        chat, user = update.effective_chat, update.effective_user
        lang = await command_language(services, chat.id if chat else None, user)
        data = query.data or ""
        log.info("%s button data=%s", where(update), data[:64])
        if chat is None and route.team:  # a message sent through inline mode: no team there
            await deliver(update, context, Outcome(toast=services.replies.button_expired(lang)))
            return
        request, refused = await decide_access(
            update,
            context,
            route.access,
            request_of(update, services, lang),
            fresh=route.deciding(data),
        )
        if refused is not None:
            log.info("%s %s press refused user_id=%s", where(update), route.name, request.user_id)
            await deliver(update, context, Outcome(toast=refused.replies[0]))
            return
        outcome = await asyncio.to_thread(route.press, env_of(services), request, data)
        await deliver(update, context, outcome)
        if after is not None:
            await after(update, context, outcome)

    handle.__name__ = handle.__qualname__ = f"button_{route.name}"
    return handle


async def unknown_command(update: Update, context: Context) -> None:
    await _send(update, context, lambda s, lang: s.replies.unknown_command(lang))


async def non_text(update: Update, context: Context) -> None:
    """Stickers, photos, voice notes...: a short hint that Kisah reads text."""
    await _send(update, context, lambda s, lang: s.replies.non_text(lang))


async def ignore_edit(update: Update, context: Context) -> None:
    """Edited messages are not questions again (the answer is already in the chat); stop here
    so no later handler group sees them either."""
    log.debug("%s edited message ignored", where(update))
    raise ApplicationHandlerStop
