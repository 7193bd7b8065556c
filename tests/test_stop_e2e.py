"""Stopping with answers queued (issue 15 item 9): `python -m bot run` as an operator runs it,
30 group questions queued behind Telegram's 20-a-minute group limit; SIGTERM ends it within
10 s and kill -9 kills it; nothing recorded is lost, and the restarted bot answers the rest."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import StartBot
from fakebot import FakeTelegram
from test_telegram_runner import start_run

from bot.settings import Settings

pytestmark = pytest.mark.slow

GROUP = -100123123
ASKED = 30


def _counts(data_dir: Path) -> dict[str | None, int]:
    """reply_state -> questions of the group, read as an operator would (sqlite3)."""
    path = data_dir / "kisah.sqlite3"
    if not path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            rows = db.execute(
                "SELECT reply_state, COUNT(*) FROM questions WHERE chat_id = ? "
                "GROUP BY reply_state",
                (GROUP,),
            ).fetchall()
        except sqlite3.OperationalError:
            return {}
    return {state: count for state, count in rows}


async def eventually(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
async def test_thirty_queued_group_questions_survive_a_stop_and_are_answered_after_restart(
    start_bot: StartBot,
    fake_telegram: FakeTelegram,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    stop_signal: signal.Signals,
) -> None:
    fake = fake_telegram
    settings = make_settings(fake)
    process = await start_run(
        tmp_path,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE_URL=fake.base_url,
        BOT_DATA_DIR=str(settings.data_dir),
    )
    group = fake.group_chat(GROUP)
    asked: list[int] = []
    try:
        await fake.wait_until(lambda: fake.get_updates_calls > 0, timeout=20, what="polling")
        for n in range(ASKED):
            message = fake.send_text(
                group,
                fake.user(100 + n),
                f"@kisah_test_bot pelanggan {n} ngancam gak mau kerjasama",
            )
            asked.append(message["message_id"])
        # The group's 20 a minute: 20 answered at once, 10 wait in the rate limiter.
        await fake.wait_sent(20, chat_id=GROUP, timeout=20)
        await eventually(
            lambda: _counts(settings.data_dir) == {"replied": 20, "waiting": 10},
            timeout=10,
            what="30 questions recorded, 20 answered",
        )
        stopping = time.monotonic()
        process.send_signal(stop_signal)
        _, err = await asyncio.wait_for(process.communicate(), 15)
        took = time.monotonic() - stopping
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if stop_signal == signal.SIGTERM:
        assert process.returncode == 0, err.decode()
        assert took < 10, f"SIGTERM took {took:.1f} s"
        assert "Traceback" not in err.decode()
    assert len(fake.sent_to(GROUP)) == 20
    assert _counts(settings.data_dir) == {"replied": 20, "waiting": 10}

    fake.limits = None  # a minute later: the group's budget is back
    await start_bot(settings)
    await fake.wait_sent(ASKED, chat_id=GROUP, timeout=20)
    await fake.settle(0.5)
    answers = fake.sent_to(GROUP)
    assert len(answers) == ASKED
    assert sorted(m.reply_to_message_id for m in answers) == sorted(asked)  # each once
    assert all(m.bold() for m in answers)
    await eventually(
        lambda: _counts(settings.data_dir) == {"replied": ASKED}, timeout=5, what="all replied"
    )
