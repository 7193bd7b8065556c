"""Inline mode: `@kisah_bot <question>` in any chat offers the best stories as articles.

Choosing one posts the story and its lesson into that chat (as the user, "via @kisah_bot"),
which is how a team lead shares a story in a conversation the bot is not part of. An empty
query lists every story; a query with no confident match lists them too, under a button that
says honestly that no story fits, rather than ranking a wrong story first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import InlineQueryResultArticle, InlineQueryResultsButton, Update
from telegram.constants import InlineQueryLimit

from bot.transports.telegram.common import (
    Context,
    command_language,
    record_question,
    services_of,
    where,
)
from bot.transports.telegram.render import inline_content, plain

if TYPE_CHECKING:
    from bot.chat.services import Services
    from bot.content.model import Story

log = logging.getLogger(__name__)

MAX_RESULTS = InlineQueryLimit.RESULTS  # 50
MAX_MATCHES = 10
DESCRIPTION_CHARS = 120
# Results depend on the user's language preference (empty query), so they are personal; a
# short cache keeps typing snappy while content updates show up within a minute.
CACHE_SECONDS = 60
# Its one text (tg_inline_no_story) is declared in bot/transports/telegram/texts.py, for the check.


def article(services: Services, story: Story, lang: str) -> InlineQueryResultArticle:
    lesson = story.lessons[0].get(lang) if story.lessons else ""
    return InlineQueryResultArticle(
        id=story.id,
        title=story.title.get(lang),
        description=plain(lesson, DESCRIPTION_CHARS),
        input_message_content=inline_content(services.replies.story(story.id, lang)),
    )


async def on_inline_query(update: Update, context: Context) -> None:
    query = update.inline_query
    assert query is not None
    services = services_of(context)
    text = query.query.strip()
    # The user's own private chat id is their user id: their /lang choice there applies.
    fallback = await command_language(services, query.from_user.id, query.from_user)
    lang = fallback
    stories: list[Story] = []
    if text:
        lang = services.matcher.language(text, fallback)
        answer = services.matcher.ask(text, limit=MAX_MATCHES, lang=lang)
        lang = answer.lang
        stories = [match.story for match in answer.matches]
    button = None
    if not stories:
        if text:
            button = InlineQueryResultsButton(
                text=plain(services.kb.text("tg_inline_no_story", lang), 64),
                start_parameter="topics",
            )
        stories = list(services.kb.stories)
    results = [article(services, a, lang) for a in stories[:MAX_RESULTS]]
    log.info("%s inline results=%d matched=%s", where(update), len(results), button is None)
    await query.answer(results, cache_time=CACHE_SECONDS, is_personal=True, button=button)


async def on_chosen_result(update: Update, context: Context) -> None:
    """A story was shared through inline mode (sent only when inline feedback is enabled in
    @BotFather): count it like a question, so /stats sees inline use too."""
    chosen = update.chosen_inline_result
    assert chosen is not None
    services = services_of(context)
    fallback = await command_language(services, chosen.from_user.id, chosen.from_user)
    question = chosen.query.strip()
    if not question:
        return
    answer = services.matcher.ask(question, lang=services.matcher.language(question, fallback))
    await record_question(
        services,
        chat_id=chosen.from_user.id,
        user_id=chosen.from_user.id,
        question=question,
        answer=answer,
        source="inline",
    )
