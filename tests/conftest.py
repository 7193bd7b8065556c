"""Shared fixtures: a running fake Bot API server, Settings that point at it, and the real
Application running against it.

Generic on purpose: every e2e test file (Telegram layer, team/tips commands) builds on these.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fakebot import FakeTelegram

from bot.settings import Settings

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.chat.services import Services


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A strict fake Bot API server on 127.0.0.1 with Telegram's flood limits on."""
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a bot talking to `fake`, with its data in a fresh temporary directory.

    Keyword arguments override any Settings field (e.g. team_lead_ids, responses_dir).
    """

    def build(fake: FakeTelegram, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "token": fake.token,
            "api_base_url": fake.base_url,
            "data_dir": tmp_path / "data",
        }
        values.update(overrides)
        return Settings(**values)

    return build


@dataclass
class RunningBot:
    """The real Application (built by bot.transports.telegram.app, run by
    bot.transports.telegram.runner.serve)
    polling the fake server inside the test's event loop."""

    application: Application
    services: Services
    settings: Settings
    stop_event: asyncio.Event
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop like SIGTERM would (the store is closed too); safe to call twice."""
        self.stop_event.set()
        try:
            await asyncio.wait_for(self.task, 10)
        finally:
            self.services.close()


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def start_bot(
    fake_telegram: FakeTelegram, make_settings: Callable[..., Settings]
) -> AsyncIterator[StartBot]:
    """`await start_bot(**settings_overrides)` (or `settings=...`, `rate_limit=False`,
    `webhook=True`) starts the bot and returns once it receives updates; every bot started is
    stopped at teardown. Start again with the same settings to test a restart."""
    from bot.chat.services import build_services
    from bot.transports.telegram.app import build_application
    from bot.transports.telegram.runner import serve

    running: list[RunningBot] = []

    async def start(
        settings: Settings | None = None,
        *,
        rate_limit: bool = True,
        webhook: bool = False,
        **overrides: Any,
    ) -> RunningBot:
        settings = settings or make_settings(fake_telegram, **overrides)
        services = build_services(settings)
        application = build_application(services, rate_limit=rate_limit)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(application, settings, webhook=webhook, stop=stop))
        bot = RunningBot(application, services, settings, stop, task)
        running.append(bot)
        deadline = time.monotonic() + 10
        updater = application.updater
        while not (application.running and updater is not None and updater.running):
            if task.done():
                task.result()  # raises what start-up raised
            if time.monotonic() > deadline:
                raise TimeoutError("bot did not start within 10 s")
            await asyncio.sleep(0.01)
        return bot

    yield start
    for bot in reversed(running):
        if not bot.task.done():
            await bot.stop()
        else:
            bot.services.close()
