"""The team leads' inbox end to end: the real Application (as `python -m bot run` builds it)
polls the fake Bot API server; members ask, a lead teaches from /inbox, the asker hears back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from conftest import StartBot
from fakebot import FakeTelegram, Sent

from bot.inboxrecords import TAUGHT
from bot.settings import Settings

pytestmark = pytest.mark.slow  # end to end: `make test-fast` skips these

GROUP = -100500600
OTHER_GROUP = -100700800
ASKER, OTHER, ADMIN, MEMBER, LEAD = 21, 22, 23, 24, 25
QUESTION = "klien minta dibeliin buku ikan koi buat bosnya, gimana?"


def _group(fake: FakeTelegram, chat_id: int = GROUP) -> Any:
    chat = fake.group_chat(chat_id, "Tim Sales Bandung")
    for user, status in [(ASKER, "member"), (OTHER, "member"), (MEMBER, "member")]:
        fake.set_member_status(chat_id, user, status)
    fake.set_member_status(chat_id, ADMIN, "administrator")
    return chat


async def _say(fake: FakeTelegram, chat: Any, user_id: int, text: str) -> list[Sent]:
    """`user_id` writes `text` in `chat`; the bot's messages in reply (once it is idle)."""
    before = len(fake.sent_to(chat.id))
    fake.send_text(chat, fake.user(user_id, language_code="en"), text)
    await fake.wait_sent(before + 1, chat_id=chat.id)
    await fake.settle()
    return fake.sent_to(chat.id)[before:]


async def _press(
    fake: FakeTelegram, sent: Sent, user_id: int, *, data: str | None = None, text: str = ""
) -> tuple[dict[str, Any], list[Sent]]:
    """`user_id` taps a button on `sent`; the callback answer and every message sent after."""
    before = len(fake.sent)
    query = fake.press(
        sent, data=data, text=text or None, user=fake.user(user_id, language_code="en")
    )
    answer = await fake.wait_callback_answer(query)
    await fake.settle()
    return answer, fake.sent[before:]


def _story_button(item: Sent, title: str) -> str:
    for row in item.buttons:
        for label, data in row:
            if data.startswith("ib:t:") and title[:30] in label:
                return data
    raise AssertionError(f"no teach button for {title!r} in {item.buttons}")


@pytest.fixture
def settings(fake_telegram: FakeTelegram, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(fake_telegram, team_lead_ids=frozenset({LEAD}))


async def test_teach_answer_restart_and_undo(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    fake = fake_telegram
    group = _group(fake)
    bot = await start_bot(settings)
    wayang = bot.services.kb.by_id("wayang-bima")
    assert wayang is not None

    # A member's situation gets no story.
    (refusal,) = await _say(fake, group, ASKER, f"/ask {QUESTION}")
    assert wayang.title.id not in refusal.text and "belum punya kisah" in refusal.text

    # The admin opens the inbox: one message for the question, then the page line.
    item, page = await _say(fake, group, ADMIN, "/inbox")
    assert "buku ikan koi" in item.text and "unanswered" in item.text
    labels = [label for row in item.buttons for label, _ in row]
    assert len(labels) == 5 and "🚫 No story fits" in labels and "⏭ Skip" in labels
    assert "1–1 of 1" in page.text

    # A plain member taps a story button (forged or replayed): refused, nothing changes.
    answer, sent = await _press(fake, item, MEMBER, data=_story_button(item, wayang.title.en))
    assert "only a team lead" in answer.get("text", "").lower() and sent == []
    assert bot.services.store.decisions(TAUGHT) == []

    # The admin teaches it: a confirmation with undo, and the asker hears back in the group.
    answer, sent = await _press(fake, item, ADMIN, data=_story_button(item, wayang.title.en))
    confirmation, heard, story = sent
    assert "Taught" in confirmation.text and wayang.title.en in confirmation.text
    undo = [data for row in confirmation.buttons for _, data in row if data.startswith("ib:u:")]
    assert len(undo) == 1
    # (in the question's language: it was asked in Indonesian)
    assert heard.text.startswith("💬 Tadi kamu bertanya") and "buku ikan koi" in heard.text
    assert {heard.chat_id, story.chat_id} == {GROUP}
    assert f"📌 {wayang.title.id}" in story.text

    # Another member asking the same now gets the story.
    (answered,) = await _say(fake, group, OTHER, f"/ask {QUESTION}")
    assert f"📌 {wayang.title.id}" in answered.text

    # A restart keeps it.
    await bot.stop()
    bot = await start_bot(settings)
    (answered,) = await _say(fake, group, OTHER, f"/ask {QUESTION}")
    assert f"📌 {wayang.title.id}" in answered.text

    # Undo (from the confirmation sent before the restart): unanswered again, back in inbox.
    answer, sent = await _press(fake, confirmation, ADMIN, data=undo[0])
    assert "back in the inbox" in sent[0].text
    (refusal,) = await _say(fake, group, OTHER, f"/ask {QUESTION}")
    assert "belum punya kisah" in refusal.text
    inbox = await _say(fake, group, ADMIN, "/inbox")
    assert any("buku ikan koi" in message.text for message in inbox)

    # The first question taught again after the undo: its asker is not told a second time.
    first_item = item
    _, sent = await _press(fake, first_item, ADMIN, data=_story_button(item, wayang.title.en))
    assert len(sent) == 1 and "Taught" in sent[0].text


async def test_admins_see_their_group_leads_see_all_and_private_users_none(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    fake = fake_telegram
    group, other = _group(fake), _group(fake, OTHER_GROUP)
    await start_bot(settings)
    await _say(fake, group, ASKER, "/ask cara merawat ikan koi di kolam kantor")
    await _say(fake, other, ASKER, "/ask rahasia tim lain soal harga kompetitor")

    admin_view = await _say(fake, group, ADMIN, "/inbox")
    assert any("ikan koi" in m.text for m in admin_view)
    assert not any("rahasia tim lain" in m.text for m in admin_view)

    private = fake.private_chat(fake.user(LEAD))
    lead_view = await _say(fake, private, LEAD, "/inbox")
    texts = " ".join(m.text for m in lead_view)
    assert "ikan koi" in texts and "rahasia tim lain" in texts

    stranger = fake.private_chat(fake.user(MEMBER))
    (refusal,) = await _say(fake, stranger, MEMBER, "/inbox")
    assert "TEAM_LEAD_IDS" in refusal.text and "koi" not in refusal.text

    # The inbox button under /stats opens the same inbox.
    (stats,) = await _say(fake, group, ADMIN, "/stats")
    _, sent = await _press(fake, stats, ADMIN, text="📥 Question inbox")
    assert any("ikan koi" in m.text for m in sent)


async def test_a_blocked_asker_is_logged_and_nothing_breaks(
    start_bot: StartBot,
    fake_telegram: FakeTelegram,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_telegram
    asker_chat = fake.private_chat(fake.user(ASKER))
    bot = await start_bot(settings)
    await _say(fake, asker_chat, ASKER, QUESTION)
    fake.block(asker_chat.id)
    lead_chat = fake.private_chat(fake.user(LEAD))
    item, _ = await _say(fake, lead_chat, LEAD, "/inbox")
    wayang = bot.services.kb.by_id("wayang-bima")
    assert wayang is not None
    with caplog.at_level(logging.INFO, logger="bot.telegram.team"):
        _, sent = await _press(fake, item, LEAD, data=_story_button(item, wayang.title.en))
    assert [m.chat_id for m in sent] == [lead_chat.id] and "Taught" in sent[0].text
    assert "asker not told" in caplog.text
    # The bot still answers.
    (answered,) = await _say(fake, lead_chat, LEAD, QUESTION)
    assert f"📌 {wayang.title.id}" in answered.text


async def test_without_question_texts_there_is_no_inbox(
    start_bot: StartBot, fake_telegram: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    fake = fake_telegram
    group = _group(fake)
    await start_bot(make_settings(fake, log_questions=False))
    await _say(fake, group, ASKER, f"/ask {QUESTION}")
    (reply,) = await _say(fake, group, ADMIN, "/inbox")
    assert "BOT_LOG_QUESTIONS=false" in reply.text and "koi" not in reply.text
