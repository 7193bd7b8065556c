"""SpreadRequest: requests go to the least busy of its HTTPXRequest pools, never more at once
than the pools have connections, and each pool is PTB's own (stubbed here at HTTPXRequest's
public `do_request`, the call SpreadRequest makes)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from telegram.request import HTTPXRequest

from bot.transports.telegram.connections import SpreadRequest

OK = (200, b'{"ok": true, "result": true}')


class StubPools:
    """Every HTTPXRequest.do_request waits for `release`; counts requests per pool."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = asyncio.Event()
        self.in_flight: Counter[int] = Counter()
        self.served: Counter[int] = Counter()
        self.peak = 0
        stub = self

        async def do_request(pool: HTTPXRequest, url: str, method: str, **_: Any) -> Any:
            stub.in_flight[id(pool)] += 1
            stub.peak = max(stub.peak, sum(stub.in_flight.values()))
            try:
                await stub.release.wait()
            finally:
                stub.in_flight[id(pool)] -= 1
            stub.served[id(pool)] += 1
            return OK

        monkeypatch.setattr(HTTPXRequest, "do_request", do_request)


async def test_a_burst_is_spread_evenly_and_the_rest_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    stub = StubPools(monkeypatch)
    request = SpreadRequest(4, 2)
    calls = [
        asyncio.create_task(request.do_request("http://api/bot/sendMessage", "POST"))
        for _ in range(20)
    ]
    for _ in range(100):
        await asyncio.sleep(0)
    assert sorted(stub.in_flight.values()) == [2, 2, 2, 2]  # 8 connections, 12 waiting
    stub.release.set()
    assert await asyncio.gather(*calls) == [OK] * 20
    assert stub.peak == 8
    assert sum(stub.served.values()) == 20


async def test_one_request_at_a_time_uses_the_first_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """So that the other pools' connections go unused and expire when the bot is quiet."""
    stub = StubPools(monkeypatch)
    stub.release.set()
    request = SpreadRequest(4, 4)
    for _ in range(5):
        assert await request.do_request("http://api/bot/getMe", "POST") == OK
    assert list(stub.served.values()) == [5]


async def test_a_failure_frees_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*_: Any, **__: Any) -> Any:
        raise RuntimeError("network down")

    monkeypatch.setattr(HTTPXRequest, "do_request", fail)
    request = SpreadRequest(1, 1)
    for _ in range(3):  # a leaked place would make the second call wait forever
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(request.do_request("http://api/bot/getMe", "POST"), 1)


async def test_lifecycle_and_defaults_are_httpx_requests() -> None:
    request = SpreadRequest(2, 3, read_timeout=7.0)
    assert request.read_timeout == 7.0
    async with request:  # initialize, then shutdown, of every pool
        pass
    with pytest.raises(ValueError):
        SpreadRequest(0, 4)
