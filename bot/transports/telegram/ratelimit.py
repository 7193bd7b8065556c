"""python-telegram-bot's AIORateLimiter, able to say when a request actually leaves it, to put
live answers before background messages, and to let go of what waits in it at a stop.

Why: a daily tip or a hear-back is recorded as `sending` (after a crash: `unknown`, never
resent) the moment its request is handed to Telegram (see `bot/leads/schedule.py`). The rate
limiter may hold a request for a minute or more first (a group's 20 messages a minute), and a
crash in that time must not cost the message. A request that carries a `Handover` as its
`rate_limit_args` (ExtBot's public per-call channel to the rate limiter) has `leaving` awaited
right before each attempt goes out and `refused` after a 429 that the limiter is going to retry.

Priority (issue 15 item 7): AIORateLimiter serves a group's requests in arrival order, so 100
hear-backs queued in a group made a member's new question wait 106 s. A `Handover` with
`background=True` only enters the group's limiter while no live request of that chat waits
and the group's budget has BACKGROUND_RESERVE messages left over, so a live answer finds room
at once. Other requests are limited exactly as by AIORateLimiter.

Stopping (issue 15 item 9): `close()` makes every request still waiting in the limiter raise
`NotSentStopping` (nothing was sent) and refuses new ones, so a stop with 30 answers queued
behind a group's limit ends in seconds; the questions are on record as not answered yet and
are answered after the restart. Requests already on the wire are left to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import NetworkError, RetryAfter
from telegram.ext import AIORateLimiter

# Of a group's 20 messages a minute, background messages leave this many to live answers.
BACKGROUND_RESERVE = 5
# How often a background request waiting for its turn looks again.
BACKGROUND_POLL_SECONDS = 0.2

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


class NotSentStopping(NetworkError):
    """The bot is stopping: this request was still waiting in the rate limiter and was not
    sent (a NetworkError, so code that already handles "not sent" handles it too)."""

    def __init__(self) -> None:
        super().__init__("not sent: the bot is stopping")


@dataclass(frozen=True)
class Handover:
    """`rate_limit_args` for a request whose leaving the limiter must be recorded;
    `background`: it waits for live requests of its chat (a hear-back)."""

    leaving: Callable[[], Awaitable[None]]  # right before the request goes to the network
    refused: Callable[[], Awaitable[None]]  # Telegram answered 429: nothing was sent
    background: bool = False


class HandoverRateLimiter(AIORateLimiter):
    """AIORateLimiter that runs a request's `Handover` hooks as the request leaves it, serves
    live requests before background ones, and can be closed (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._live: dict[object, int] = {}  # live requests waiting, per chat
        self._waiting: set[asyncio.Timeout] = set()  # requests not yet out of the limiter
        self._closed = False

    def close(self) -> int:
        """Refuse new requests and let go of the waiting ones (`NotSentStopping`); how many
        were let go."""
        self._closed = True
        loop = asyncio.get_running_loop()
        waiting = list(self._waiting)
        for scope in waiting:
            scope.reschedule(loop.time())
        return len(waiting)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | Handover | None,
    ) -> JSONResult:
        if self._closed:
            raise NotSentStopping()
        handover = rate_limit_args if isinstance(rate_limit_args, Handover) else None
        background = handover is not None and handover.background
        chat = data.get("chat_id")
        live = not background  # counted among the chat's live requests waiting
        if live:
            self._live[chat] = self._live.get(chat, 0) + 1
        scope = asyncio.timeout(None)  # rescheduled to "now" by close() while it waits

        async def handed_over(*call_args: Any, **call_kwargs: Any) -> JSONResult:
            # AIORateLimiter calls this once the group and overall limiters let it through.
            nonlocal live
            self._waiting.discard(scope)
            scope.reschedule(None)  # on the wire now: a stop lets it finish
            if live:
                live = False
                self._unwait(chat)
            try:
                if handover is not None:
                    await handover.leaving()
                return await callback(*call_args, **call_kwargs)
            except RetryAfter:
                if handover is not None:
                    await handover.refused()
                self._waiting.add(scope)  # waits again (the limiter sleeps retry_after)
                raise

        try:
            async with scope:
                self._waiting.add(scope)
                if background:
                    await self._background_turn(chat)
                return await super().process_request(
                    handed_over,
                    args,
                    kwargs,
                    endpoint,
                    data,
                    None if handover is not None else rate_limit_args,  # type: ignore[arg-type]
                )
        except TimeoutError:
            if scope.expired():
                raise NotSentStopping() from None
            raise
        finally:
            self._waiting.discard(scope)
            if live:
                self._unwait(chat)

    def _unwait(self, chat: object) -> None:
        count = self._live.get(chat, 0) - 1
        if count > 0:
            self._live[chat] = count
        else:
            self._live.pop(chat, None)

    async def _background_turn(self, chat: object) -> None:
        """Wait until no live request of this chat waits and its group's budget (and the
        bot's) has room beyond what is kept for live answers."""
        group: object = chat
        with contextlib.suppress(TypeError, ValueError):
            group = int(chat)  # type: ignore[call-overload]
        is_group = isinstance(group, str) or (isinstance(group, int) and group < 0)
        while True:
            if self._closed:
                raise NotSentStopping()
            room = self._live.get(chat, 0) == 0
            if room and is_group and self._group_max_rate:
                limiter = self._get_group_limiter(group)  # type: ignore[arg-type]
                room = limiter.has_capacity(1 + BACKGROUND_RESERVE)
            if room and self._base_limiter is not None:
                room = self._base_limiter.has_capacity(1)
            if room:
                return
            await asyncio.sleep(BACKGROUND_POLL_SECONDS)
