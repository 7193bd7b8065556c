"""Holes found by probing, closed: forged and unknown buttons, a failing sendMessage. Driven
through the fake Bot API like the other end-to-end tests."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from conftest import RunningBot
from fakebot import FakeTelegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from test_telegram_e2e import THREAT_ID_Q, kisah, responses, say  # noqa: F401 - fixtures

from bot.transports.telegram import handlers

pytestmark = pytest.mark.slow  # end to end: `make test-fast` skips these


async def message_with_button(bot: RunningBot, fake: FakeTelegram, chat_id: int, data: str):
    """A message carrying a button with any callback data, as a forger would craft."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=data)]])
    await bot.application.bot.send_message(chat_id, "crafted", reply_markup=markup)
    return fake.sent_to(chat_id)[-1]


async def eventually(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.02)
    return check()


def votes(bot: RunningBot) -> list[str]:
    return [vote.story_id for vote in bot.services.store.feedback_log()]


async def test_a_forged_vote_for_a_story_that_does_not_exist_is_not_stored(
    kisah: RunningBot,  # noqa: F811
    fake_telegram: FakeTelegram,
) -> None:
    user = fake_telegram.user(7001)
    chat = fake_telegram.private_chat(user)
    crafted = await message_with_button(kisah, fake_telegram, chat.id, "fb:no-such-story:1@id")
    query = fake_telegram.press(crafted, data="fb:no-such-story:1@id", user=user)
    toast = await fake_telegram.wait_callback_answer(query)
    assert toast["text"] == kisah.services.replies.button_expired("id").text
    assert "no-such-story" not in votes(kisah)


async def test_an_unknown_button_is_still_answered(
    kisah: RunningBot,  # noqa: F811
    fake_telegram: FakeTelegram,
) -> None:
    user = fake_telegram.user(7002)
    chat = fake_telegram.private_chat(user)
    crafted = await message_with_button(kisah, fake_telegram, chat.id, "zz:whatever")
    query = fake_telegram.press(crafted, data="zz:whatever", user=user)
    toast = await fake_telegram.wait_callback_answer(query)  # the spinner stops
    assert toast["text"] == kisah.services.replies.button_expired("id").text


async def test_an_answer_failing_with_500_is_retried_once_and_the_question_recorded(
    kisah: RunningBot,  # noqa: F811
    fake_telegram: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(handlers, "ANSWER_RETRY_SECONDS", 0.05)
    user = fake_telegram.user(7003)
    chat = fake_telegram.private_chat(user)
    fake_telegram.fail_next("sendMessage", code=500, chat_id=chat.id)
    with caplog.at_level(logging.WARNING, logger="bot.transports.telegram.handlers"):
        [reply] = await say(fake_telegram, chat, user, THREAT_ID_Q)
    assert reply.bold()
    statuses = [c.status for c in fake_telegram.calls if c.method == "sendmessage"]
    assert statuses[-2:] == [500, 200]
    assert any("retrying once" in r.getMessage() for r in caplog.records)

    def recorded() -> bool:
        return THREAT_ID_Q in [q.text for q in kisah.services.store.question_log()]

    assert await eventually(recorded)
