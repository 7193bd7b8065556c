"""Run a slow pure function over many items in forked worker processes, when that pays.

A first start with no cache parses and analyses every story on one core; on a machine with
several, forked workers share that work. Forked (not spawned) workers inherit what the parent
has loaded (the word table, the files' bytes), so only item numbers go out and only the
results (bytes) come back.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkContext

log = logging.getLogger(__name__)

MIN_ITEMS = 200  # below this, starting the workers costs more than it saves
CHUNK = 50  # items per task: few enough round trips, small enough to share out evenly

_work: Callable[[int], bytes] | None = None  # set before forking; the workers inherit it


def _run(span: tuple[int, int]) -> list[bytes]:
    assert _work is not None
    return [_work(n) for n in range(*span)]


def workers() -> int:
    """How many processes may share the work: the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _fork_context() -> ForkContext | None:
    """The fork context, or None where forking would not pay or is not safe: one core, no
    fork on this system, or other threads running (forking a threaded process can deadlock
    it). multiprocessing is imported here only: a start with a full cache forks nothing."""
    if workers() < 2 or threading.active_count() > 1:
        return None
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def map_forked(work: Callable[[int], bytes], count: int) -> list[bytes] | None:
    """`[work(n) for n in range(count)]` computed in forked workers, or None when that would
    not pay or is not safe (few items, one core, no fork, or other threads running: forking a
    threaded process can deadlock it); the caller then runs the loop itself."""
    global _work
    context = _fork_context() if count >= MIN_ITEMS else None
    if context is None:
        return None
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    spans = [(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
    _work = work
    processes = min(workers(), len(spans))
    try:
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            results: list[bytes] = []
            for chunk in pool.map(_run, spans):
                results.extend(chunk)
            return results
    except (OSError, BrokenProcessPool) as exc:  # no processes to be had, or one was killed
        log.info("cannot fork workers (%s); working in one process", exc)
        return None
    finally:
        _work = None


def start_forked(work: Callable[[], None]) -> Callable[[], None]:
    """Start `work` in a forked process while this one goes on, and return the function that
    waits for it to end. Where that would not pay or is not safe (one core, no fork, other
    threads running), `work` runs here, now, and the function returned does nothing."""
    context = _fork_context()
    if context is None:
        work()
        return lambda: None
    process = context.Process(target=_quietly, args=(work,))
    try:
        process.start()
    except OSError as exc:
        log.info("cannot fork a worker (%s); working in this process", exc)
        work()
        return lambda: None
    return process.join


def _quietly(work: Callable[[], None]) -> None:
    """`work` in a forked process: a failure is logged, never a traceback on the terminal."""
    try:
        work()
    except Exception as exc:  # noqa: BLE001 - the parent goes on without it
        log.info("forked work failed: %s: %s", type(exc).__name__, exc)


def forked_result(work: Callable[[], bytes]) -> Callable[[], bytes]:
    """Start `work` in a forked process while this one goes on, and return the function that
    waits for its result. Where that would not pay or is not safe (one core, no fork, other
    threads running), or the process fails, `work` runs here when its result is asked for."""
    context = _fork_context()
    if context is None:
        return work
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_send, args=(work, sender))
    try:
        process.start()
    except OSError as exc:
        log.info("cannot fork a worker (%s); working in this process", exc)
        receiver.close()
        sender.close()
        return work
    sender.close()  # the child's end: reading ends when the child closes its copy

    def result() -> bytes:
        try:
            return receiver.recv_bytes()
        except (EOFError, OSError):  # the child failed (logged there) or was killed
            return work()
        finally:
            receiver.close()
            process.join()

    return result


def _send(work: Callable[[], bytes], sender: Connection) -> None:
    """`work` in a forked process, its result sent back; a failure is logged and sends
    nothing (the parent then works it out itself)."""
    try:
        sender.send_bytes(work())
    except Exception as exc:  # noqa: BLE001 - the parent goes on without it
        log.info("forked work failed: %s: %s", type(exc).__name__, exc)
    finally:
        sender.close()
