"""The Bot API connections: several small stock `HTTPXRequest` pools instead of one large one.

Why: the bot needs about 16 connections (30 messages/s at Telegram's round trip of up to half
a second), and httpx's pool re-checks every one of its connections (an "is it still open"
system call for each idle one) each time a request starts or ends: in bench/telegram_load.py
one pool of 16 cost about 40% more CPU per reply than a pool of 4. Four pools of four give
the same 16 connections for the cost of a pool of four. Only public API: PTB's `BaseRequest`
interface, and each pool is an unmodified `HTTPXRequest`, so errors, timeouts and retries
are exactly PTB's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.request import BaseRequest, HTTPXRequest


class SpreadRequest(BaseRequest):
    """`pools` HTTPXRequests of `pool_size` connections each; every request goes to the pool
    with the fewest requests in flight (the first one when idle, so unused connections of the
    others expire). At most pools * pool_size requests are in flight; the rest wait here,
    in order, rather than in an httpx queue."""

    __slots__ = ("_gate", "_in_flight", "_pools")

    def __init__(self, pools: int, pool_size: int, **httpx_request_options: Any) -> None:
        if pools < 1 or pool_size < 1:
            raise ValueError("SpreadRequest needs at least one pool of at least one connection")
        self._pools = [
            HTTPXRequest(connection_pool_size=pool_size, **httpx_request_options)
            for _ in range(pools)
        ]
        self._in_flight = [0] * pools
        self._gate = asyncio.Semaphore(pools * pool_size)

    @property
    def read_timeout(self) -> float | None:
        return self._pools[0].read_timeout

    async def initialize(self) -> None:
        for pool in self._pools:
            await pool.initialize()

    async def shutdown(self) -> None:
        for pool in self._pools:
            await pool.shutdown()

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        async with self._gate:
            in_flight = self._in_flight
            index = in_flight.index(min(in_flight))
            in_flight[index] += 1
            try:
                return await self._pools[index].do_request(*args, **kwargs)
            finally:
                in_flight[index] -= 1
