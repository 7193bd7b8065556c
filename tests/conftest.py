"""Shared fixtures: a running fake Bot API server and Settings that point at it.

Generic on purpose: every e2e test file (Telegram layer, team/tips commands) builds on these
and adds its own application fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fakebot import FakeTelegram

from bot.settings import Settings


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A strict fake Bot API server on 127.0.0.1 with Telegram's flood limits on."""
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a bot talking to `fake`, with its data in a fresh temporary directory.

    Keyword arguments override any Settings field (e.g. team_lead_ids, default_language).
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
