"""The asker hears back: when a team lead teaches a question, its asker is sent the story.

At least tried, never doubled, never silently lost (issue 15 items 6 and 7). The decision
writes an owed hear-back into the outbox in its own transaction (`bot/storage/hearbacks.py`);
`HearbackRunner` sends what is owed, as `DeliveryRunner` sends the daily tips:

- One message per hear-back, the intro and the story together (`compose`): an intro alone
  ("your team lead picked this story:") with nothing after it cannot happen.
- A chat's hear-backs go out one message at a time: those owed while one waits are gathered
  into the next, one message listing them all, so a lead teaching 50 questions of a group
  costs that group a handful of messages of its 20 a minute, not 100. The transport sends
  them behind live answers (background priority in the rate limiter).
- Telegram's 500, 502 or a connection that never opened: not sent, tried again after a
  back-off (1 s, 2 s, 4 s ... up to a minute, MAX_ATTEMPTS tries), and after a restart.
- A 429: the rate limiter waits it out; while it waits the row is `queued` again, so a crash
  then (kill -9) resends it after the restart. Only a crash in the instant the request is on
  the wire leaves it `unknown` (at most once, as the daily tips: a doubled message in a team
  group is the more visible failure).
- The chat blocked the bot or is gone: `failed`, logged. A group that became a supergroup: the
  hear-backs follow it and are sent there.

Plain Python: the transport gives an async `send(chat_id, reply, hooks) -> message_id` and maps
its errors onto the exceptions of `bot.leads.schedule`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.chat.callbacks import callback_data
from bot.chat.markup import escape, shorten, shorten_title
from bot.chat.replies import Button, Reply
from bot.leads.schedule import (
    ChatMoved,
    ChatUnreachable,
    DeliveryNotSent,
    DeliveryRejected,
    DeliveryRetryAfter,
)
from bot.storage.hearbacks import Hearback

if TYPE_CHECKING:
    from bot.chat.replies import Replies
    from bot.storage.store import Store

log = logging.getLogger(__name__)

NOTICE_CHARS = 120  # of a question quoted back to the asker
TITLE_CHARS = 40  # of a story title on a button
BATCH = 10  # hear-backs in one message at most (well within Telegram's 4096 characters)
MAX_ATTEMPTS = 8  # tries of one hear-back before it is `failed` (about 3 minutes of back-off)
MAX_BACKOFF_SECONDS = 60.0
IDLE_SECONDS = 60.0  # a look at the outbox at least this often, whatever woke it
SEPARATOR = "\n\n"
MAX_TEXT = 4096


def backoff(attempts: int) -> float:
    """Seconds before try number `attempts + 1`: 1, 2, 4, ... at most a minute."""
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts - 1))


def compose(replies: Replies, rows: list[Hearback]) -> Reply:
    """The one message that tells the askers of `rows` (one chat's): for one question its
    intro and the story together; for several, a list of question -> story with a button per
    story. Every word from responses/ui/inbox.yaml."""
    kb, matcher = replies.kb, replies.matcher
    first = rows[0]
    lang = matcher.language(first.text, first.lang)
    if len(rows) == 1:
        lesson = next(
            (
                m.lesson
                for m in matcher.rank(first.text, chat_id=first.chat_id)
                if m.story.id == first.story_id
            ),
            0,
        )
        intro = kb.text(
            "inbox_heard_back", lang, question=escape(shorten(first.text, NOTICE_CHARS))
        )
        subjects = matcher.subjects(first.text, lang)  # its caution as the answer would show
        story_reply = replies.story(first.story_id, lang, lesson, subjects)
        text = intro + SEPARATOR + story_reply.text
        if len(text) <= MAX_TEXT:
            return Reply(text, story_reply.buttons)
    lines = [kb.text("inbox_heard_back_many", lang, count=len(rows))]
    buttons: list[tuple[Button, ...]] = []
    for row in rows:
        story = kb.by_id(row.story_id)
        title = story.title.get(lang) if story else row.story_id
        lines.append(
            kb.text(
                "inbox_heard_back_line",
                lang,
                question=escape(shorten(row.text, NOTICE_CHARS)),
                title=escape(title),
            )
        )
        data = callback_data(f"s:{row.story_id}", lang)
        if story and all(b.data != data for (b,) in buttons):
            label = kb.text("inbox_button_story", lang, title=shorten_title(title, TITLE_CHARS))
            buttons.append((Button(label, data),))
    return Reply("\n".join(lines), tuple(buttons))


@dataclass(frozen=True)
class Hooks:
    """What `send` calls as its request leaves the rate limiter (`leaving`) and when Telegram
    answered 429 and the limiter will try again (`refused`)."""

    leaving: Callable[[], Awaitable[None]]
    refused: Callable[[], Awaitable[None]]


Send = Callable[[int, Reply, Hooks], Awaitable[int]]


class HearbackRunner:
    """Sends the owed hear-backs: one task per chat with something due, one message in flight
    per chat, woken by `kick()` (a lead just taught) and at least every IDLE_SECONDS."""

    def __init__(
        self,
        store: Store,
        replies: Replies,
        send: Send,
        *,
        batch: int = BATCH,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.replies = replies
        self.send = send
        self.batch = batch
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()
        self._chats: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopped = False
        self.sent = 0  # messages, for tests and logs

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Settle what a crash left (see `Hearbacks.reconcile_hearbacks`) and start sending."""
        if self._stopped:
            return  # stopping: what is owed waits in the outbox for the next start
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._run(), name="kisah-hearbacks")

    def kick(self) -> None:
        """Something was owed just now: look at the outbox without waiting."""
        self._wake.set()
        self.start()

    async def stop(self) -> None:
        """Stop sending. Rows whose request had not left the rate limiter stay `queued`,
        which the next start resends."""
        self._stopped = True
        tasks = [t for t in (self._loop_task, *self._chats.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop_task = None
        self._chats.clear()

    async def _run(self) -> None:
        unsure = await asyncio.to_thread(self.store.reconcile_hearbacks)
        for row in unsure:
            log.warning(
                "hear-back unconfirmed after restart, not resent chat_id=%s question=%s",
                row.chat_id,
                row.question_id,
            )
        while True:
            self._wake.clear()
            wait = IDLE_SECONDS
            try:
                for chat_id in await asyncio.to_thread(self.store.hearback_chats_due):
                    if chat_id not in self._chats:
                        task = asyncio.create_task(self._send_chat(chat_id))
                        self._chats[chat_id] = task
                        task.add_done_callback(lambda _, c=chat_id: self._chat_done(c))
                due = await asyncio.to_thread(self.store.next_hearback_due)
                if due is not None:
                    wait = min(wait, max(0.05, (due - self.store.clock()).total_seconds()))
            except Exception:  # the database, briefly: the rows wait, the next look finds them
                log.exception("hear-back outbox unreadable, looking again in %.0f s", wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _chat_done(self, chat_id: int) -> None:
        self._chats.pop(chat_id, None)
        self._wake.set()  # more may have been owed to it meanwhile

    # -- one chat ---------------------------------------------------------------------------

    async def _send_chat(self, chat_id: int) -> None:
        store = self.store
        rows = await asyncio.to_thread(store.take_hearbacks, chat_id, self.batch)
        gone = [r for r in rows if self.replies.kb.by_id(r.story_id) is None]
        if gone:
            ids = [r.id for r in gone]
            await asyncio.to_thread(store.hearbacks_done, ids, "failed", "story no longer exists")
            log.warning("hear-back dropped (story gone) chat_id=%s count=%d", chat_id, len(ids))
        rows = [r for r in rows if r not in gone]
        if not rows:
            return
        ids = [r.id for r in rows]
        hooks = Hooks(
            leaving=lambda: asyncio.to_thread(store.move_hearbacks, ids, "queued", "sending"),
            refused=lambda: asyncio.to_thread(store.move_hearbacks, ids, "sending", "queued"),
        )
        try:
            message_id = await self.send(chat_id, compose(self.replies, rows), hooks)
        except asyncio.CancelledError:
            raise
        except DeliveryRetryAfter as exc:
            await self._retry(chat_id, ids, exc.seconds, f"429 retry after {exc.seconds}", False)
        except DeliveryNotSent as exc:
            attempts = max(r.attempts for r in rows) + 1
            await self._retry(chat_id, ids, backoff(attempts), str(exc) or repr(exc), True)
        except ChatMoved as exc:
            await asyncio.to_thread(store.hearbacks_moved, ids, exc.new_chat_id)
            log.info("hear-backs follow the group chat_id=%s new=%s", chat_id, exc.new_chat_id)
        except (ChatUnreachable, DeliveryRejected) as exc:
            await asyncio.to_thread(store.hearbacks_done, ids, "failed", str(exc))
            log.info("asker not told (chat unreachable) chat_id=%s: %s", chat_id, exc)
        except Exception as exc:  # timed out mid-request or unforeseen: it may have arrived
            await asyncio.to_thread(store.hearbacks_done, ids, "unknown", repr(exc))
            log.exception("hear-back outcome unknown, not resent chat_id=%s", chat_id)
        else:
            await asyncio.to_thread(store.hearbacks_sent, ids, message_id)
            self.sent += 1
            log.info(
                "asker told chat_id=%s questions=%s message_id=%s",
                chat_id,
                ",".join(str(r.question_id) for r in rows),
                message_id,
            )

    async def _retry(
        self, chat_id: int, ids: list[int], after: float, error: str, count: bool
    ) -> None:
        failed = await asyncio.to_thread(
            self.store.hearbacks_retry,
            ids,
            after=after,
            error=error,
            max_attempts=self.max_attempts,
            count=count,
        )
        log.warning(
            "hear-back not sent, retry in %.0f s chat_id=%s count=%d gave_up=%d: %s",
            after,
            chat_id,
            len(ids),
            failed,
            error,
        )
