"""What every handler needs: the services, the reply language, and best-effort recording.

Handlers get the services from `application.bot_data` (set once by `build_application`), the
python-telegram-bot way of sharing objects with callbacks, so handler modules hold no globals
and the tips/team handlers reach the same services the same way (`services_of(context)`).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import Update, User
from telegram.error import RetryAfter
from telegram.ext import ContextTypes
from telegram.warnings import PTBDeprecationWarning

if TYPE_CHECKING:
    from bot.matcher import Answer
    from bot.services import Services
    from bot.store import Store

log = logging.getLogger(__name__)

SERVICES_KEY = "kisah.services"
Context = ContextTypes.DEFAULT_TYPE
T = TypeVar("T")


class StoreCalls:
    """Runs short blocking store calls off the event loop, many calls per thread hop.

    Why: every question makes two store calls (the chat's /lang choice, then recording the
    question), and `asyncio.to_thread` per call cost more CPU than the SQLite work itself
    (a thread hand-off, a GIL switch and a loop wake-up each). Calls made while a hop is in
    flight are queued and all run in the next hop, one after the other in the same worker
    thread. Each call is still exactly the call it was (its own transaction, its own result
    or exception), so callers see no difference; a lone call costs what `to_thread` did.
    """

    def __init__(self) -> None:
        self._queue: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, function: Callable[[], T]) -> T:
        """`function()` run in a worker thread; its result, or its exception raised here."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or a new event loop (tests run several)
            self._loop, self._queue, self._flusher = loop, [], None
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((function, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                outcomes = await asyncio.to_thread(_run_each, [f for f, _ in batch])
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # the caller was cancelled meanwhile
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                batch = []
        except BaseException as exc:  # the hop itself failed: no caller may wait forever
            failed = exc if isinstance(exc, Exception) else RuntimeError("store call stopped")
            for _, future in [*batch, *self._queue]:
                if not future.done():
                    future.set_exception(failed)
            self._queue = []
            raise
        finally:
            self._flusher = None


def _run_each(functions: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
    """In the worker thread: every call, in order, each failing on its own."""
    outcomes: list[tuple[bool, Any]] = []
    for function in functions:
        try:
            outcomes.append((True, function()))
        except Exception as exc:  # noqa: BLE001 - handed back to its own caller
            outcomes.append((False, exc))
    return outcomes


# One StoreCalls per open Store, found from the Store itself, because handlers, the error
# handler and the team module all reach the store through `Services` (a frozen value they
# share) and nothing else. Weak keys: a closed, dropped Store takes its entry with it.
_STORE_CALLS: weakref.WeakKeyDictionary[Store, StoreCalls] = weakref.WeakKeyDictionary()


def store_calls(store: Store) -> StoreCalls:
    """The StoreCalls queue of this store (every handler shares it)."""
    calls = _STORE_CALLS.get(store)
    if calls is None:
        calls = _STORE_CALLS[store] = StoreCalls()
    return calls


async def in_store_thread(store: Store, function: Callable[[], T]) -> T:
    """`function()` (a short call on `store`) off the event loop, batched with others."""
    return await store_calls(store).call(function)


def services_of(context: Context) -> Services:
    return context.application.bot_data[SERVICES_KEY]


def language_from_code(code: str | None) -> str | None:
    """Telegram's IETF language_code of the user's app ("en-US", "id") as one of ours."""
    if not code:
        return None
    base = code.split("-")[0].lower()
    if base == "en":
        return "en"
    if base in {"id", "in"}:  # "in" is the pre-1989 ISO code some clients still send
        return "id"
    return None


async def chat_language(services: Services, chat_id: int | None) -> str | None:
    """The language the chat chose with /lang, if any (a short SQLite read, off the loop)."""
    if chat_id is None:
        return None
    store = services.store
    return await in_store_thread(store, lambda: store.chat_language(chat_id))


async def command_language(services: Services, chat_id: int | None, user: User | None) -> str:
    """Language for commands and buttons: the chat's /lang choice, else the user's Telegram
    app language, else BOT_LANGUAGE. (Questions follow their own language instead.)"""
    return (
        await chat_language(services, chat_id)
        or language_from_code(user.language_code if user else None)
        or services.settings.default_language
    )


async def update_language(services: Services, update: object) -> str:
    """command_language for any update, never failing (used by the error handler)."""
    if not isinstance(update, Update):
        return services.settings.default_language
    chat = update.effective_chat
    try:
        return await command_language(services, chat.id if chat else None, update.effective_user)
    except Exception:  # noqa: BLE001 - the store may be what failed; fall back quietly
        return services.settings.default_language


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked us to wait, in seconds, whichever type PTB hands out.

    `RetryAfter.retry_after` is an int (or float) today and a `timedelta` once PTB_TIMEDELTA
    is set, and in PTB's next major version. Both are handled here, so the deprecation warning
    of this one read says nothing we have not dealt with: only that warning, only around this
    read, is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*`retry_after`", category=PTBDeprecationWarning
        )
        value = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def where(update: object) -> str:
    """`update=<id> chat=<id>` for log lines (never message text: it may be private)."""
    if not isinstance(update, Update):
        return "update=- chat=-"
    chat = update.effective_chat
    return f"update={update.update_id} chat={chat.id if chat else '-'}"


async def record_question(
    services: Services,
    *,
    chat_id: int,
    user_id: int | None,
    question: str,
    answer: Answer,
    source: str,
) -> None:
    """Remember the question for /stats and reports. Best effort: the user already has the
    answer, so a storage failure is logged, not shown. The store only queues the record (its
    writer thread retries while another process locks the database), so this never holds up
    the next answer. Small talk ("halo", "makasih") is not a question and is not recorded:
    it must not show up as an unanswered one."""
    if answer.small_talk is not None:
        return
    best = answer.best
    values: dict[str, Any] = {
        "chat_id": chat_id,
        "user_id": user_id,
        "text": question,
        "lang": answer.lang,
        "anecdote_id": best.anecdote.id if best else None,
        "score": best.score if best else 0,
        "answered": best is not None,
        "source": source,
    }
    try:
        await in_store_thread(services.store, lambda: services.store.record_question(**values))
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.error("recording question failed chat=%s: %r", chat_id, exc)


async def record_feedback(
    services: Services, *, chat_id: int, user_id: int | None, anecdote_id: str, positive: bool
) -> None:
    try:
        await in_store_thread(
            services.store,
            lambda: services.store.record_feedback(
                chat_id=chat_id, user_id=user_id, anecdote_id=anecdote_id, positive=positive
            ),
        )
    except Exception as exc:  # noqa: BLE001 - best effort, like record_question
        log.error("recording feedback failed chat=%s: %r", chat_id, exc)
