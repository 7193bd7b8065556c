"""Hear-backs end to end (issue 15 items 6 and 7): a lead teaches, the asker hears back in one
message, through Telegram's 500, 502 and 429 and a kill -9; and hear-backs never hold up a
member's live answer."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import StartBot
from fakebot import FakeTelegram, FloodLimits, Sent
from test_telegram_runner import start_run

from bot.settings import Settings
from bot.storage.store import DB_FILENAME, Store

pytestmark = pytest.mark.slow

ASKER, LEAD, ADMIN, MEMBER = 31, 32, 33, 34
GROUP = -100900900
QUESTION = "klien minta dibeliin buku ikan koi buat bosnya, gimana?"


async def eventually(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)
    return result


async def _say(fake: FakeTelegram, chat: Any, user_id: int, text: str) -> list[Sent]:
    before = len(fake.sent_to(chat.id))
    fake.send_text(chat, fake.user(user_id, language_code="en"), text)
    await fake.wait_sent(before + 1, chat_id=chat.id, timeout=20)
    await fake.settle()
    return fake.sent_to(chat.id)[before:]


def _teach_button(item: Sent, index: int = 0) -> str:
    return [data for row in item.buttons for _, data in row if data.startswith("ib:t:")][index]


def _states(data_dir: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(data_dir / "kisah.sqlite3")) as db:
        try:
            return [row[0] for row in db.execute("SELECT state FROM hearbacks ORDER BY id")]
        except sqlite3.OperationalError:
            return []


@pytest.fixture
def settings(fake_telegram: FakeTelegram, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(fake_telegram, team_lead_ids=frozenset({LEAD}))


async def _asked_and_taught(fake: FakeTelegram) -> tuple[Any, str]:
    """ASKER asks in private; LEAD (bot-wide) opens the inbox: the item and a teach button."""
    asker = fake.private_chat(fake.user(ASKER))
    await _say(fake, asker, ASKER, QUESTION)
    lead = fake.private_chat(fake.user(LEAD))
    item = (await _say(fake, lead, LEAD, "/inbox"))[0]
    return item, _teach_button(item)


async def test_a_500_and_a_502_are_retried_and_the_asker_gets_one_message(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    fake = fake_telegram
    bot = await start_bot(settings)
    item, data = await _asked_and_taught(fake)
    fake.fail_next("sendMessage", code=500, chat_id=ASKER)
    fake.fail_next("sendMessage", code=502, chat_id=ASKER)
    before = len(fake.sent_to(ASKER))
    query = fake.press(item, data=data, user=fake.user(LEAD, language_code="en"))
    await fake.wait_callback_answer(query)
    [heard] = (await fake.wait_sent(before + 1, chat_id=ASKER, timeout=15))[before:]
    failures = [c.status for c in fake.calls if c.method == "sendmessage" and c.status >= 500]
    assert failures == [500, 502]
    # The intro and the story in one message: never the intro alone.
    assert heard.text.startswith("💬 Tadi kamu bertanya") and "buku ikan koi" in heard.text
    assert "📌" in heard.text
    await fake.settle(0.5)
    assert len(fake.sent_to(ASKER)) == before + 1
    assert [h.state for h in bot.services.store.hearbacks()] == ["sent"]


async def test_kill_9_while_waiting_out_a_429_resends_after_the_restart(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings, tmp_path: Path
) -> None:
    fake = fake_telegram
    process = await start_run(
        tmp_path,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE_URL=fake.base_url,
        BOT_DATA_DIR=str(settings.data_dir),
        TEAM_LEAD_IDS=str(LEAD),
    )
    try:
        await fake.wait_until(lambda: fake.get_updates_calls > 0, timeout=20, what="polling")
        item, data = await _asked_and_taught(fake)
        before = len(fake.sent_to(ASKER))
        fake.fail_next("sendMessage", code=429, retry_after=30, chat_id=ASKER)
        fake.press(item, data=data, user=fake.user(LEAD, language_code="en"))
        await fake.wait_until(
            lambda: any(c.status == 429 for c in fake.calls), timeout=20, what="the 429"
        )
        # Waiting out the 429 inside the rate limiter: nothing left the process.
        await eventually(lambda: _states(settings.data_dir) == ["queued"], what="queued")
        process.send_signal(signal.SIGKILL)
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert len(fake.sent_to(ASKER)) == before
    bot = await start_bot(settings)
    [heard] = (await fake.wait_sent(before + 1, chat_id=ASKER, timeout=15))[before:]
    assert "buku ikan koi" in heard.text and "📌" in heard.text
    await fake.settle(0.5)
    assert len(fake.sent_to(ASKER)) == before + 1
    assert [h.state for h in bot.services.store.hearbacks()] == ["sent"]


async def test_fifty_hear_backs_in_a_group_do_not_hold_up_a_members_answer(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    """The lead teaches 50 questions of one group from their private chat; the group gets a
    few messages that list them (not 100), and a member's new question there is answered at
    once, not after the hear-backs (before: 106 s behind them)."""
    fake = fake_telegram
    # The lead taps fast in their private chat; the group keeps Telegram's 20 a minute.
    fake.limits = FloodLimits(private_per_second=50, private_burst=50)
    texts = [f"pelanggan nomor {n} minta dibeliin buku ikan koi buat bosnya" for n in range(50)]
    with Store(Path(settings.data_dir) / DB_FILENAME) as store:
        for text in texts:
            store.record_question(
                chat_id=GROUP,
                user_id=ASKER,
                text=text,
                lang="id",
                story_id=None,
                score=0,
                answered=False,
                source="group",
            )
        store.flush()
        ids = [q.id for q in store.inbox(chat_id=GROUP, limit=50)[0]]
    assert len(ids) == 50
    bot = await start_bot(settings)
    story = bot.services.kb.stories[0].id
    lead = fake.private_chat(fake.user(LEAD))
    item = (await _say(fake, lead, LEAD, "/inbox"))[0]
    user = fake.user(LEAD, language_code="en")
    # What the inbox's teach buttons carry, page after page (checked again on every press).
    queries = [fake.press_forged(item, data=f"ib:t:{qid}:{story}@en", user=user) for qid in ids]
    for query in queries:
        await fake.wait_callback_answer(query, timeout=30)
    group = fake.group_chat(GROUP)
    before = len(fake.sent_to(GROUP))
    asked = time.monotonic()
    fake.send_text(group, fake.user(MEMBER), "@kisah_test_bot customer ngancam gak mau kerjasama")
    answer = await fake.wait_until(
        lambda: [m for m in fake.sent_to(GROUP)[before:] if m.reply_to_message_id is not None],
        timeout=30,
        what="the member's answer",
    )
    assert time.monotonic() - asked < 5, "the live answer waited behind the hear-backs"
    assert answer[0].bold()
    store = bot.services.store
    await eventually(lambda: {h.state for h in store.hearbacks()} == {"sent"}, timeout=30)
    heard = [m for m in fake.sent_to(GROUP) if m.reply_to_message_id is None]
    assert len(heard) <= 50 // 10 + 1  # batched: a few messages, not 100
    quoted = [n for n in range(50) for m in heard if f"pelanggan nomor {n} " in m.text]
    assert sorted(quoted) == list(range(50))  # every asker told, once


async def test_a_members_answer_goes_before_a_hear_back_waiting_for_the_groups_budget(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    """The group's 20 messages of this minute are spent; a hear-back is owed there and
    members ask: their answers take the next free slots, the hear-back waits for room."""
    fake = fake_telegram
    bot = await start_bot(settings)
    group = fake.group_chat(GROUP)
    koi = "@kisah_test_bot klien minta dibeliin buku ikan koi buat bosnya, gimana?"
    for n in range(19):
        fake.send_text(group, fake.user(200 + n), f"@kisah_test_bot pelanggan {n} ngancam")
    fake.send_text(group, fake.user(ASKER), koi)
    await fake.wait_sent(20, chat_id=GROUP, timeout=20)
    store = bot.services.store
    store.flush()
    [koi_id] = [q.id for q in store.inbox(chat_id=GROUP, limit=50)[0] if "ikan koi" in q.text]
    lead = fake.private_chat(fake.user(LEAD))
    item = (await _say(fake, lead, LEAD, "/inbox"))[0]
    # What the koi question's teach button carries (on whichever page of the inbox it is).
    data = f"ib:t:{koi_id}:{bot.services.kb.stories[0].id}@en"
    query = fake.press_forged(item, data=data, user=fake.user(LEAD, language_code="en"))
    await fake.wait_callback_answer(query)
    await eventually(lambda: [h.state for h in store.hearbacks()] == ["queued"], what="queued")
    await asyncio.sleep(0.5)  # the hear-back is waiting for the group's budget
    for n in range(3):
        fake.send_text(group, fake.user(MEMBER), f"@kisah_test_bot customer {n} ngancam lagi")
    await fake.wait_sent(23, chat_id=GROUP, timeout=40)
    # The members' answers took the next free slots; the hear-back waits for room.
    assert all(m.reply_to_message_id is not None for m in fake.sent_to(GROUP)[20:23])
    tried = [c for c in fake.calls if "Tadi kamu bertanya" in str(c.params.get("text"))]
    assert tried == []  # not even tried before them (a 429 cannot reorder it by luck)


async def test_undo_before_the_hear_back_left_cancels_it_and_teaching_again_sends_the_new_story(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    fake = fake_telegram
    bot = await start_bot(settings)
    item, first = await _asked_and_taught(fake)
    before = len(fake.sent_to(ASKER))
    fake.fail_next("sendMessage", code=500, chat_id=ASKER)  # it waits for its retry
    user = fake.user(LEAD, language_code="en")
    before_lead = len(fake.sent_to(LEAD))
    await fake.wait_callback_answer(fake.press(item, data=first, user=user))
    store = bot.services.store
    await eventually(lambda: [h.attempts for h in store.hearbacks()] == [1], what="a retry")
    [confirmation] = (await fake.wait_sent(before_lead + 1, chat_id=LEAD))[before_lead:]
    undo = [d for row in confirmation.buttons for _, d in row if d.startswith("ib:u:")][0]
    await fake.wait_callback_answer(fake.press(confirmation, data=undo, user=user))
    await eventually(lambda: [h.state for h in store.hearbacks()] == ["cancelled"], what="x")
    await asyncio.sleep(2.5)  # past the retry's back-off: nothing goes out
    assert len(fake.sent_to(ASKER)) == before
    # Taught again, to another story: the asker hears that one, once.
    second = _teach_button(item, 1)
    await fake.wait_callback_answer(fake.press(item, data=second, user=user))
    [heard] = (await fake.wait_sent(before + 1, chat_id=ASKER, timeout=10))[before:]
    story = bot.services.kb.by_id(second.split(":")[3].split("@")[0])
    assert story is not None and f"📌 {story.title.id}" in heard.text
    await fake.settle(0.5)
    assert len(fake.sent_to(ASKER)) == before + 1
