"""The team leads' inbox end to end: the real Application (as `python -m bot run` builds it)
polls the fake Bot API server; members ask, a lead teaches from /inbox, the asker hears back.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import StartBot
from fakebot import FakeTelegram, Sent
from kbfixture import PROJECT, call_cli

from bot.settings import Settings
from bot.storage.inboxrecords import TAUGHT

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
            if data.startswith("ib:t:") and title.startswith(label[2:].rstrip("…")):
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
    assert wayang.title.id not in refusal.text and "belum punya cerita" in refusal.text

    # The admin opens the inbox: one message for the question, then the page line.
    item, page = await _say(fake, group, ADMIN, "/inbox")
    assert "buku ikan koi" in item.text and "unanswered" in item.text
    labels = [label for row in item.buttons for label, _ in row]
    assert len(labels) == 6 and "🚫 No story fits" in labels and "⏭ Skip" in labels
    assert "1–1 of 1" in page.text

    # "Another story…" sends the two stories not among the first three, as teach buttons.
    others = next(d for row in item.buttons for _, d in row if d.startswith("ib:o:"))
    _, sent = await _press(fake, item, ADMIN, data=others)
    (more,) = sent
    assert "Other stories for" in more.text and "stories 4–5 of 5" in more.text
    first = {d for row in item.buttons for _, d in row if d.startswith("ib:t:")}
    rest = {d for row in more.buttons for _, d in row if d.startswith("ib:t:")}
    assert len(rest) == 2 and not first & rest

    # A plain member taps a story button (forged or replayed): refused, nothing changes.
    answer, sent = await _press(fake, item, MEMBER, data=_story_button(item, wayang.title.en))
    assert "only a team lead" in answer.get("text", "").lower() and sent == []
    assert bot.services.store.decisions(TAUGHT) == []

    # The admin teaches it: a confirmation with undo, and the asker hears back in the group.
    answer, sent = await _press(fake, item, ADMIN, data=_story_button(item, wayang.title.en))
    confirmation, heard = sent
    assert "Taught" in confirmation.text and wayang.title.en in confirmation.text
    assert "queued for the person who asked" in confirmation.text
    undo = [data for row in confirmation.buttons for _, data in row if data.startswith("ib:u:")]
    assert len(undo) == 1
    # One message, the intro and the story together (in the question's language: Indonesian).
    assert heard.text.startswith("💬 Tadi kamu bertanya") and "buku ikan koi" in heard.text
    assert heard.chat_id == GROUP and f"📌 {wayang.title.id}" in heard.text
    assert "gratifikasi" not in heard.text  # no official asked about: no caution, as in answers
    assert [h.state for h in bot.services.store.hearbacks()] == ["sent"]

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
    assert "belum punya cerita" in refusal.text
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
    named = ("ditunjuk pengelola bot", "named by whoever runs the bot")
    assert any(n in refusal.text for n in named) and "koi" not in refusal.text

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
    with caplog.at_level(logging.INFO, logger="bot.leads.hearback"):
        _, sent = await _press(fake, item, LEAD, data=_story_button(item, wayang.title.en))
        store = bot.services.store
        await fake.wait_until(
            lambda: [h.state for h in store.hearbacks()] == ["failed"], what="hear-back failed"
        )
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


# -- issue 15: trust follows the chat --------------------------------------------------------

EVIL_GROUP = -100900900
ATTACKER = 26


def _button(item: Sent, prefix: str) -> str:
    found = [data for row in item.buttons for _, data in row if data.startswith(prefix)]
    assert found, f"no {prefix!r} button in {item.buttons}"
    return found[0]


async def _inbox(fake: FakeTelegram, chat: Any, user_id: int) -> list[Sent]:
    """/inbox by `user_id` in `chat`: every message up to the page line (a private chat's
    messages wait in the rate limiter, so idleness alone does not say it is complete)."""
    before = len(fake.sent_to(chat.id))
    fake.send_text(chat, fake.user(user_id, language_code="en"), "/inbox")

    def done() -> list[Sent] | None:
        sent = fake.sent_to(chat.id)[before:]
        last = sent[-1].text if sent else ""
        return sent if "newest first" in last or "inbox is empty" in last else None

    return await fake.wait_until(done, 5.0, "the inbox")


async def _press_for_reply(fake: FakeTelegram, sent: Sent, user_id: int, data: str) -> Sent:
    """`user_id` taps `data` on `sent`; the first message the bot then sends to that chat."""
    before = len(fake.sent_to(sent.chat_id))
    query = fake.press(sent, data=data, user=fake.user(user_id, language_code="en"))
    await fake.wait_callback_answer(query)
    return (await fake.wait_sent(before + 1, chat_id=sent.chat_id))[before]


async def _vote_down(fake: FakeTelegram, answer: Sent, user_id: int) -> None:
    down = next(d for d in answer.button_data if d.startswith("fb:") and ":0@" in d)
    query = fake.press(answer, data=down, user=fake.user(user_id, language_code="en"))
    await fake.wait_callback_answer(query)
    await fake.settle()


async def test_a_bot_wide_lead_in_a_group_sees_and_decides_that_groups_questions_only(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    """Every member of a group reads what the bot says there: a lead listed in TEAM_LEAD_IDS
    gets that group's questions there, and every chat's only in their private chat."""
    fake = fake_telegram
    group, other = _group(fake), _group(fake, OTHER_GROUP)
    bot = await start_bot(settings)
    await _say(fake, group, ASKER, "/ask cara merawat ikan koi di kolam kantor")
    await _say(fake, other, ASKER, "/ask rahasia tim lain soal harga kompetitor")
    await _say(fake, fake.private_chat(fake.user(MEMBER)), MEMBER, "resep nasi goreng kampung")

    in_group = await _say(fake, group, LEAD, "/inbox")
    shown = " ".join(m.text for m in in_group)
    assert "ikan koi" in shown and "1–1 of 1" in shown
    assert "rahasia tim lain" not in shown and "nasi goreng" not in shown
    assert str(OTHER_GROUP) not in shown
    (stats,) = await _say(fake, group, LEAD, "/stats")
    assert "ikan koi" in stats.text
    assert "rahasia tim lain" not in stats.text and "nasi goreng" not in stats.text

    # A press there on another chat's question (an inbox message of before, or forged) is
    # refused without quoting it.
    store = bot.services.store
    [elsewhere], _ = store.inbox(chat_id=OTHER_GROUP, limit=5)
    before = len(fake.sent)
    query = fake.press_forged(
        in_group[0], data=f"ib:k:{elsewhere.id}@en", user=fake.user(LEAD, language_code="en")
    )
    await fake.wait_callback_answer(query)
    await fake.settle()
    said = " ".join(m.text for m in fake.sent[before:])
    assert "from another chat" in said and "rahasia" not in said and "Skipped" not in said
    assert store.decision(elsewhere.id) is None

    # In the lead's private chat: every chat's questions, with where they were asked.
    lead_chat = fake.private_chat(fake.user(LEAD))
    everywhere = " ".join(m.text for m in await _inbox(fake, lead_chat, LEAD))
    assert all(t in everywhere for t in ("ikan koi", "rahasia tim lain", "nasi goreng"))
    assert f"chat {OTHER_GROUP}" in everywhere
    (stats,) = await _say(fake, lead_chat, LEAD, "/stats")
    assert "rahasia tim lain" in stats.text


async def test_what_a_groups_admins_teach_applies_in_that_group_only(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    """Anyone can create a group and be its admin: teaching there must not change the
    answers of other groups or private chats. Only TEAM_LEAD_IDS teach every chat."""
    fake = fake_telegram
    group = _group(fake)
    evil = fake.group_chat(EVIL_GROUP, "Grup Iseng")
    fake.set_member_status(EVIL_GROUP, ATTACKER, "administrator")
    bot = await start_bot(settings)
    wayang = bot.services.kb.by_id("wayang-bima")
    assert wayang is not None

    await _say(fake, evil, ATTACKER, f"/ask {QUESTION}")
    item, _ = await _say(fake, evil, ATTACKER, "/inbox")
    _, sent = await _press(fake, item, ATTACKER, data=_story_button(item, wayang.title.en))
    assert "Taught" in sent[0].text and "applies in this group only" in sent[0].text
    assert "named by whoever runs the bot" in sent[0].text
    (answered,) = await _say(fake, evil, ATTACKER, f"/ask {QUESTION}")
    assert f"📌 {wayang.title.id}" in answered.text

    # Nowhere else: a member's private chat, another group.
    asker_chat = fake.private_chat(fake.user(ASKER))
    (reply,) = await _say(fake, asker_chat, ASKER, QUESTION)
    assert "belum punya cerita" in reply.text
    (reply,) = await _say(fake, group, OTHER, f"/ask {QUESTION}")
    assert "belum punya cerita" in reply.text

    # A lead listed in TEAM_LEAD_IDS, from their private chat, teaches every chat.
    lead_chat = fake.private_chat(fake.user(LEAD))
    await _say(fake, lead_chat, LEAD, QUESTION)
    listed = await _inbox(fake, lead_chat, LEAD)
    item = next(m for m in listed if "buku ikan koi" in m.text)
    confirmation = await _press_for_reply(fake, item, LEAD, _story_button(item, wayang.title.en))
    assert "Taught" in confirmation.text and "applies in every chat" in confirmation.text
    (reply,) = await _say(fake, asker_chat, ASKER, QUESTION)
    assert f"📌 {wayang.title.id}" in reply.text
    (reply,) = await _say(fake, group, OTHER, f"/ask {QUESTION}")
    assert f"📌 {wayang.title.id}" in reply.text


async def test_a_thumbs_down_on_a_taught_answer_brings_the_question_back(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    """A wrong (or poisoned) teaching is fixed from the chat: the group's 👎 puts the question
    back in its inbox and the bot-wide lead's; what the admin teaches then wins there."""
    fake = fake_telegram
    group = _group(fake)
    bot = await start_bot(settings)
    wayang = bot.services.kb.by_id("wayang-bima")
    assert wayang is not None
    lead_chat = fake.private_chat(fake.user(LEAD))
    await _say(fake, lead_chat, LEAD, QUESTION)
    item, _ = await _inbox(fake, lead_chat, LEAD)
    await _press_for_reply(fake, item, LEAD, _story_button(item, wayang.title.en))

    (answer,) = await _say(fake, group, ASKER, f"/ask {QUESTION}")
    assert f"📌 {wayang.title.id}" in answer.text
    await _vote_down(fake, answer, ASKER)

    view = await _say(fake, group, ADMIN, "/inbox")
    item = next(m for m in view if "buku ikan koi" in m.text)
    assert "👎 on the answer" in item.text
    lead_view = await _inbox(fake, lead_chat, LEAD)
    assert any("buku ikan koi" in m.text and "👎" in m.text for m in lead_view)

    # The admin teaches the group another story: so it is answered there from now on.
    _, sent = await _press(fake, item, ADMIN, data=_button(item, "ib:t:"))
    assert "Taught" in sent[0].text
    (again,) = await _say(fake, group, OTHER, f"/ask {QUESTION}")
    assert again.text.startswith("💡") and f"📌 {wayang.title.id}" not in again.text
    (elsewhere,) = await _say(fake, lead_chat, LEAD, QUESTION)
    assert f"📌 {wayang.title.id}" in elsewhere.text


async def test_another_groups_skip_does_not_hide_a_question_where_it_was_asked(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    fake = fake_telegram
    group, other = _group(fake), _group(fake, OTHER_GROUP)
    fake.set_member_status(OTHER_GROUP, ATTACKER, "administrator")
    await start_bot(settings)
    await _say(fake, group, ASKER, f"/ask {QUESTION}")
    await _say(fake, other, OTHER, f"/ask {QUESTION}")
    item, _ = await _say(fake, other, ATTACKER, "/inbox")
    _, sent = await _press(fake, item, ATTACKER, data=_button(item, "ib:k:"))
    assert "Skipped" in sent[0].text
    assert "inbox is empty" in (await _say(fake, other, ATTACKER, "/inbox"))[0].text

    view = await _say(fake, group, ADMIN, "/inbox")
    assert any("buku ikan koi" in m.text for m in view)
    lead_chat = fake.private_chat(fake.user(LEAD))
    lead_view = await _inbox(fake, lead_chat, LEAD)
    assert any("buku ikan koi" in m.text and f"chat {GROUP}" in m.text for m in lead_view)


async def test_a_button_press_is_judged_by_the_presser_not_the_message(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    """A callback whose message carries the group as `sender_chat` (real bot messages never
    do) is not an anonymous admin's: the member pressing is refused."""
    fake = fake_telegram
    group = _group(fake)
    bot = await start_bot(settings)
    await _say(fake, group, ASKER, f"/ask {QUESTION}")
    item, _ = await _say(fake, group, ADMIN, "/inbox")
    skip = _button(item, "ib:k:")
    before = len(fake.sent)
    query = fake.press_forged(
        item, data=skip, user=fake.user(MEMBER, language_code="en"), sender_chat=group
    )
    answer = await fake.wait_callback_answer(query)
    await fake.settle()
    assert "only a team lead" in answer.get("text", "").lower() and fake.sent[before:] == []
    [waiting], _ = bot.services.store.inbox(chat_id=GROUP, limit=5)
    assert bot.services.store.decision(waiting.id) is None


async def test_an_admin_demoted_a_moment_ago_cannot_decide(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    fake = fake_telegram
    group = _group(fake)
    bot = await start_bot(settings)
    await _say(fake, group, ASKER, f"/ask {QUESTION}")
    item, _ = await _say(fake, group, ADMIN, "/inbox")  # an admin: remembered for a minute
    fake.set_member_status(GROUP, ADMIN, "member")
    answer, sent = await _press(fake, item, ADMIN, data=_button(item, "ib:k:"))
    assert "only a team lead" in answer.get("text", "").lower() and sent == []
    [waiting], _ = bot.services.store.inbox(chat_id=GROUP, limit=5)
    assert bot.services.store.decision(waiting.id) is None


# -- issue 15: a phrasing merged into the YAML stays settled ---------------------------------


async def test_a_question_merged_into_the_yaml_and_pruned_stays_settled(
    start_bot: StartBot,
    fake_telegram: FakeTelegram,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    """An author exports what leads taught, merges it and runs `taught --prune`: the question
    does not come back to /inbox, a replayed button neither tells the asker a second time nor
    teaches it over the YAML trigger, and the YAML's answer stands."""
    fake = fake_telegram
    shutil.copytree(PROJECT / "responses", tmp_path / "responses")
    shutil.copytree(PROJECT / "seeds", tmp_path / "seeds")
    settings = make_settings(
        fake, responses_dir=tmp_path / "responses", seeds_dir=tmp_path / "seeds"
    )
    group = _group(fake)
    bot = await start_bot(settings)
    wayang = bot.services.kb.by_id("wayang-bima")
    assert wayang is not None
    await _say(fake, group, ASKER, f"/ask {QUESTION}")
    item, _ = await _say(fake, group, ADMIN, "/inbox")
    teach = _story_button(item, wayang.title.en)
    _, sent = await _press(fake, item, ADMIN, data=teach)
    assert "Taught" in sent[0].text
    heard_back = [m for m in fake.sent_to(GROUP) if m.text.startswith("💬 Tadi kamu bertanya")]
    assert len(heard_back) == 1
    await bot.stop()

    export = tmp_path / "export"
    status, out, err = call_cli(["taught", "--export", str(export)], settings)
    assert status == 0 and "wrote" in out, err
    for path in export.iterdir():
        shutil.copy(path, tmp_path / "responses" / "anecdotes" / path.name)
    status, out, err = call_cli(["taught", "--prune"], settings)
    assert status == 0 and out.startswith("pruned 1 "), err

    await start_bot(settings)
    (empty,) = await _say(fake, group, ADMIN, "/inbox")
    assert "inbox is empty" in empty.text

    # The old inbox message's buttons, replayed: the same story, another story, skip.
    other = next(
        data
        for row in item.buttons
        for _, data in row
        if data.startswith("ib:t:") and data != teach
    )
    for data in (teach, other, _button(item, "ib:k:")):
        _, sent = await _press(fake, item, ADMIN, data=data)
        assert len(sent) == 1 and "trigger of its story" in sent[0].text
    heard_back = [m for m in fake.sent_to(GROUP) if m.text.startswith("💬 Tadi kamu bertanya")]
    assert len(heard_back) == 1
    (answered,) = await _say(fake, group, OTHER, f"/ask {QUESTION}")
    assert f"📌 {wayang.title.id}" in answered.text
    assert "inbox is empty" in (await _say(fake, group, ADMIN, "/inbox"))[0].text


# -- issue 15: one vote per user, message and story --------------------------------------------


async def test_a_vote_pressed_again_or_forged_counts_once(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    """50 forged presses of the same 👎 are one vote (they stalled every answer before); a
    vote of another member on the same answer is theirs, and the question is in the inbox."""
    fake = fake_telegram
    group = _group(fake)
    await start_bot(settings)
    (answer,) = await _say(fake, group, ASKER, "/ask pesanan pelanggan ketinggalan, lupa dikirim")
    down = next(d for d in answer.button_data if d.startswith("fb:") and ":0@" in d)
    await _vote_down(fake, answer, ASKER)
    for _ in range(50):
        query = fake.press_forged(answer, data=down, user=fake.user(ASKER, language_code="en"))
        await fake.wait_callback_answer(query)
    (stats,) = await _say(fake, group, ADMIN, "/stats")
    assert "👎 1\n" in stats.text + "\n"
    # the other stories are offered in a private chat only: not posted to the group per press
    assert not any("cerita lain lebih cocok" in m.text for m in fake.sent_to(GROUP))
    query = fake.press_forged(answer, data=down, user=fake.user(OTHER, language_code="en"))
    await fake.wait_callback_answer(query)
    await fake.settle()
    (stats,) = await _say(fake, group, ADMIN, "/stats")
    assert "👎 2" in stats.text
    item, page = await _say(fake, group, ADMIN, "/inbox")
    assert "lupa dikirim" in item.text and "👎 on the answer" in item.text
    assert "1–1 of 1" in page.text


# -- issue 15: a group that becomes a supergroup takes its inbox along ------------------------

BASIC_GROUP = -4005006
SUPERGROUP = -1004005006
KOI_POND = "cara merawat ikan koi di kolam kantor"


def _basic_group(fake: FakeTelegram) -> Any:
    chat = fake.group_chat(BASIC_GROUP, "Tim Sales Bandung", chat_type="group")
    for user in (ASKER, OTHER):
        fake.set_member_status(BASIC_GROUP, user, "member")
    fake.set_member_status(BASIC_GROUP, ADMIN, "administrator")
    return chat


async def test_a_group_becoming_a_supergroup_takes_its_questions_and_teaching_along(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    fake = fake_telegram
    old = _basic_group(fake)
    bot = await start_bot(settings)
    wayang = bot.services.kb.by_id("wayang-bima")
    assert wayang is not None
    await _say(fake, old, ASKER, f"/ask {QUESTION}")
    item, _ = await _say(fake, old, ADMIN, "/inbox")
    _, sent = await _press(fake, item, ADMIN, data=_story_button(item, wayang.title.en))
    assert "applies in this group only" in sent[0].text
    await _say(fake, old, OTHER, f"/ask {KOI_POND}")

    new = fake.migrate_group(BASIC_GROUP, SUPERGROUP, "Tim Sales Bandung")
    fake.enqueue(
        {
            "message": {
                "message_id": 990,
                "date": 0,
                "chat": old.to_dict(),
                "from": fake.user(ADMIN).to_dict(),
                "migrate_to_chat_id": SUPERGROUP,
            }
        }
    )
    store = bot.services.store
    for _ in range(250):  # the service message is handled in the background
        if store.inbox(chat_id=SUPERGROUP, limit=1)[1]:
            break
        await asyncio.sleep(0.02)

    # The supergroup's admin finds the question waiting, and the asker hears back there.
    item, page = await _say(fake, new, ADMIN, "/inbox")
    assert "ikan koi" in item.text and "1–1 of 1" in page.text
    before = len(fake.sent_to(SUPERGROUP))
    _, sent = await _press(fake, item, ADMIN, data=_button(item, "ib:t:"))
    assert "Taught" in sent[0].text
    heard = (await fake.wait_sent(before + 2, chat_id=SUPERGROUP))[before:]
    assert any(m.text.startswith("💬") and "ikan koi" in m.text for m in heard)
    # What its admins taught before still applies there, and only there.
    (answered,) = await _say(fake, new, OTHER, f"/ask {QUESTION}")
    assert f"📌 {wayang.title.id}" in answered.text
    asker_chat = fake.private_chat(fake.user(ASKER))
    (reply,) = await _say(fake, asker_chat, ASKER, QUESTION)
    assert "belum punya cerita" in reply.text
    assert store.inbox(chat_id=BASIC_GROUP, limit=5) == ([], 0)


async def test_a_hear_back_to_a_group_that_became_a_supergroup_unannounced_reaches_it(
    start_bot: StartBot, fake_telegram: FakeTelegram, settings: Settings
) -> None:
    """The service message was missed: the hear-back's "group migrated" answer is followed
    to the new id instead of losing it."""
    fake = fake_telegram
    old = _basic_group(fake)
    bot = await start_bot(settings)
    wayang = bot.services.kb.by_id("wayang-bima")
    assert wayang is not None
    await _say(fake, old, ASKER, f"/ask {QUESTION}")
    new = fake.migrate_group(BASIC_GROUP, SUPERGROUP, "Tim Sales Bandung")

    lead_chat = fake.private_chat(fake.user(LEAD))
    listed = await _inbox(fake, lead_chat, LEAD)
    item = next(m for m in listed if "buku ikan koi" in m.text)
    confirmation = await _press_for_reply(fake, item, LEAD, _story_button(item, wayang.title.en))
    assert "Taught" in confirmation.text
    (heard, *_) = await fake.wait_sent(1, chat_id=SUPERGROUP)
    assert heard.text.startswith("💬 Tadi kamu bertanya") and "buku ikan koi" in heard.text
    await fake.settle()
    # The question moved with it: the supergroup's admin finds it decided, not waiting.
    assert "inbox is empty" in (await _say(fake, new, ADMIN, "/inbox"))[0].text
