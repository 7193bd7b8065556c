"""After a restart: answer the questions recorded and never answered (issue 15 item 9).

A stop lets go of the answers still waiting in the rate limiter, and a crash loses them; the
questions were recorded as they arrived ('waiting', bot/storage/answering.py), so a job right
after start answers them, quoting the message that asked. A question older than MAX_AGE, or
one whose text was not kept (BOT_LOG_QUESTIONS=false), or in a chat that is gone, is marked
'dropped' and counted in the log instead: an answer a day late helps nobody.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import Application, ContextTypes

from bot.transports.telegram.ratelimit import NotSentStopping
from bot.transports.telegram.render import send_reply

if TYPE_CHECKING:
    from bot.chat.services import Services

log = logging.getLogger(__name__)

MAX_AGE = timedelta(hours=24)


class Backlog:
    """Answers what an earlier run recorded and did not answer, once, right after start."""

    def __init__(self, application: Application, services: Services) -> None:
        self.application = application
        self.services = services
        self.started = services.store.clock()  # questions recorded from now on are this run's

    def schedule(self) -> None:
        job_queue = self.application.job_queue
        if job_queue is None:
            raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
        job_queue.run_once(self._job, when=0.5, name="kisah-backlog")

    async def _job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.answer_waiting()

    async def answer_waiting(self) -> tuple[int, int]:
        """Answer the questions left waiting; (answered, dropped)."""
        store = self.services.store
        waiting = await asyncio.to_thread(store.waiting_questions, self.started)
        answered = dropped = 0
        for question in waiting:
            if question.text is None or self.started - question.asked_at > MAX_AGE:
                await asyncio.to_thread(store.settle_waiting, question.id, "dropped")
                dropped += 1
                continue
            _, reply = self.services.replies.answer(
                question.text, default_lang=question.lang, chat_id=question.chat_id
            )
            try:
                try:
                    await send_reply(
                        self.application.bot, question.chat_id, reply, reply_to=question.message_id
                    )
                except ChatMigrated as moved:  # the group became a supergroup meanwhile
                    await send_reply(self.application.bot, moved.new_chat_id, reply)
            except NotSentStopping:
                break  # stopping again: still waiting, for the next start
            except (Forbidden, BadRequest) as exc:
                await asyncio.to_thread(store.settle_waiting, question.id, "dropped")
                dropped += 1
                log.info("owed answer dropped chat_id=%s: %s", question.chat_id, exc)
                continue
            except TelegramError as exc:
                log.warning("owed answer not sent chat_id=%s: %s", question.chat_id, exc)
                continue  # still waiting: the next start tries again
            await asyncio.to_thread(store.settle_waiting, question.id, "replied")
            answered += 1
        if waiting:
            log.info(
                "questions left unanswered by the last run: answered=%d dropped=%d left=%d",
                answered,
                dropped,
                len(waiting) - answered - dropped,
            )
        return answered, dropped


def register(application: Application, services: Services) -> Backlog:
    backlog = Backlog(application, services)
    backlog.schedule()
    return backlog
