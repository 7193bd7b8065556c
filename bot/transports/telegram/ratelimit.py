"""python-telegram-bot's AIORateLimiter, able to say when a request actually leaves it.

Why: a daily tip is recorded as `sending` (after a crash: `unknown`, never resent) the moment
its request is handed to Telegram (see `bot/leads/schedule.py`). The rate limiter may hold a request
for a minute or more first (a group's 20 messages a minute), and a crash in that time must not
cost the tip. A request that carries a `Handover` as its `rate_limit_args` (ExtBot's public
per-call channel to the rate limiter) has `leaving` awaited right before each attempt goes out
and `refused` after a 429 that the limiter is going to retry. Other requests are limited
exactly as by AIORateLimiter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True)
class Handover:
    """`rate_limit_args` for a request whose leaving the limiter must be recorded."""

    leaving: Callable[[], Awaitable[None]]  # right before the request goes to the network
    refused: Callable[[], Awaitable[None]]  # Telegram answered 429: nothing was sent


class HandoverRateLimiter(AIORateLimiter):
    """AIORateLimiter that runs a request's `Handover` hooks as the request leaves it."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | Handover | None,
    ) -> JSONResult:
        if not isinstance(rate_limit_args, Handover):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        handover = rate_limit_args

        async def handed_over(*call_args: Any, **call_kwargs: Any) -> JSONResult:
            # AIORateLimiter calls this once the group and overall limiters let it through.
            await handover.leaving()
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter:
                await handover.refused()
                raise

        return await super().process_request(handed_over, args, kwargs, endpoint, data, None)
