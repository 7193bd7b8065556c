"""StoreCalls: store calls batched per thread hop must behave exactly like one to_thread each:
own result, own exception, off the event loop, and nobody left waiting."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.telegram.common import StoreCalls


async def test_concurrent_calls_share_thread_hops_and_keep_their_results() -> None:
    calls = StoreCalls()
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def work(n: int) -> int:
        threads.append(threading.get_ident())
        return n * n

    results = await asyncio.gather(*(calls.call(lambda n=n: work(n)) for n in range(50)))
    assert results == [n * n for n in range(50)]
    assert loop_thread not in threads  # never on the event loop
    # 50 calls made at once: the first hop takes one, the second all the others.
    assert len(threads) == 50


async def test_batching_reduces_hops(monkeypatch: pytest.MonkeyPatch) -> None:
    hops: list[int] = []
    real = asyncio.to_thread

    async def counting(function, *args):  # type: ignore[no-untyped-def]
        hops.append(len(args[0]))
        return await real(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    calls = StoreCalls()
    await asyncio.gather(*(calls.call(lambda: 1) for _ in range(40)))
    assert sum(hops) == 40
    assert len(hops) < 40


async def test_a_failing_call_fails_alone() -> None:
    calls = StoreCalls()

    def boom() -> int:
        raise ValueError("bad row")

    results = await asyncio.gather(
        calls.call(lambda: 1), calls.call(boom), calls.call(lambda: 3), return_exceptions=True
    )
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], ValueError)
    assert await calls.call(lambda: "still working") == "still working"


def test_works_across_event_loops() -> None:
    """Each test (and each run_bot) has its own loop; the queue must follow."""
    calls = StoreCalls()
    assert asyncio.run(calls.call(lambda: 1)) == 1
    assert asyncio.run(calls.call(lambda: 2)) == 2
