"""Quizzes and the weekly picture end to end (issue 19): the real Application against the
strict fake Bot API server, with a clock the test moves.

The issue's check: a lead schedules quizzes in a group, the quiz arrives once, two members
answer (one right, one wrong), the bot restarts, the lead's /stats shows one of two right for
that lesson, the wrong member's next private /quiz brings the question back the next day (not
before), a third member's forged answer to a poll the bot did not send changes nothing, and
/digest sends a PNG that decodes, with the right counts beside it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakebot import FakeTelegram, Sent
from test_team_e2e import FakeClock, eventually, full_application, running_bot, say

from bot.settings import Settings
from bot.storage.store import Store

pytestmark = pytest.mark.slow  # end to end: `make test-fast` skips these

GROUP = -100400500
ADMIN, RIGHT, WRONG, FORGER, OTHER_ADMIN = 31, 32, 33, 34, 35


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 0, 0, tzinfo=UTC))  # a Monday, 07:00 in Jakarta


@pytest.fixture
def settings(fake_telegram: FakeTelegram, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(fake_telegram)


@pytest.fixture
def group(fake_telegram: FakeTelegram) -> Any:
    chat = fake_telegram.group_chat(GROUP, "Tim Sales Makassar")
    fake_telegram.set_member_status(GROUP, ADMIN, "administrator")
    fake_telegram.set_member_status(GROUP, OTHER_ADMIN, "creator")
    for member in (RIGHT, WRONG, FORGER):
        fake_telegram.set_member_status(GROUP, member, "member")
    return chat


def polls(fake: FakeTelegram, chat_id: int) -> list[Sent]:
    return [m for m in fake.sent_to(chat_id) if m.method == "sendPoll"]


async def private_quiz(fake: FakeTelegram, store: Store, user_id: int) -> tuple[Sent, str]:
    """The user sends /quiz in their private chat; the quiz poll that comes back, and the
    question it asks (the bot records it just after Telegram answered)."""
    user = fake.user(user_id, language_code="en")
    chat = fake.private_chat(user)
    before = len(polls(fake, user_id))
    fake.send_text(chat, user, "/quiz")
    await fake.wait_until(lambda: len(polls(fake, user_id)) > before)
    sent = polls(fake, user_id)[-1]
    assert sent.poll is not None
    await eventually(lambda: store.quiz_poll(sent.poll["id"]) is not None)  # type: ignore[index]
    recorded = store.quiz_poll(sent.poll["id"])
    assert recorded is not None
    return sent, recorded.quiz_key


async def test_a_team_practises_and_the_lead_sees_it(
    settings: Settings, fake_telegram: FakeTelegram, group: Any, clock: FakeClock
) -> None:
    fake = fake_telegram
    async with running_bot(settings, clock, build=full_application) as bot:
        # The lead has started the bot in private: the weekly picture can reach them there.
        await say(fake, fake.private_chat(fake.user(ADMIN)), ADMIN, "/start")
        reply = await say(fake, group, ADMIN, "/daily 08:00 mon-fri quiz")
        assert "08:00" in reply and "quizzes" in reply

        clock.set_utc("2026-11-23 00:59")
        await bot.team.runner.tick()
        assert polls(fake, GROUP) == []
        clock.set_utc("2026-11-23 01:00")  # 08:00 in Jakarta
        await bot.team.runner.tick()
        await bot.team.runner.tick()  # at most once per schedule and day
        await fake.settle()
        [quiz] = polls(fake, GROUP)
        assert quiz.poll is not None
        assert quiz.poll["type"] == "quiz" and quiz.poll["is_anonymous"] is False
        assert [d.state for d in bot.store.deliveries(GROUP)] == ["sent"]
        story_button = quiz.button_data[0]
        assert story_button.startswith("s:")

        [correct] = quiz.poll["correct_option_ids"]
        fake.answer_poll(quiz, fake.user(RIGHT), correct)
        fake.answer_poll(quiz, fake.user(WRONG), (correct + 1) % len(quiz.poll["options"]))
        # A forged answer to a poll the bot never sent, and a repeat of a real one.
        fake.answer_poll_forged("424242", fake.user(FORGER), 0)
        fake.answer_poll_forged(quiz.poll["id"], fake.user(RIGHT), (correct + 1) % 2)
        await eventually(lambda: len(bot.store.quiz_history(WRONG)) == 1)
        await fake.settle()
        assert bot.store.quiz_history(FORGER) == []
        assert [a.right for a in bot.store.quiz_history(RIGHT)] == [True]
        recorded = bot.store.quiz_poll(quiz.poll["id"])
        assert recorded is not None and recorded.delivery_id is not None
        key = recorded.quiz_key

    # The bot restarts; what the team answered is still there.
    async with running_bot(settings, clock, build=full_application) as bot:
        story, item = bot.services.kb.quiz_item(key)  # type: ignore[misc]
        stats = await say(fake, group, ADMIN, "/stats")
        line = next(x for x in stats.splitlines() if x.startswith("• 1 of 2 right (50%)"))
        assert story.title.en in line and story.lessons[item.lesson].en[:30] in line
        assert "quizzes sent 1, answers 2, members answering 2" in stats
        assert "By lesson, weakest first:\n• 1 of 2 right" in stats  # the heading above them

        # The member who got it wrong: not yet back an hour later (a new question instead) ...
        clock.now += timedelta(hours=1)
        _, first = await private_quiz(fake, bot.store, WRONG)
        assert first != key
        # ... but back the next day, before any new question.
        clock.now += timedelta(days=1)
        again, again_key = await private_quiz(fake, bot.store, WRONG)
        assert again_key == key
        assert again.poll is not None and again.poll["question"] == item.question.en
        # The one who got it right does not see it again so soon.
        _, fresh = await private_quiz(fake, bot.store, RIGHT)
        assert fresh != key

        # /myscore: one's own figures only.
        score = await say(fake, fake.private_chat(fake.user(WRONG)), WRONG, "/myscore")
        assert "Answers: 1, 0 right (0%)" in score
        # Answered right in private this time: counted, and pushed three days out.
        fake.answer_poll(again, fake.user(WRONG), again.poll["correct_option_ids"][0])
        await eventually(lambda: len(bot.store.quiz_history(WRONG)) == 2)
        score = await say(fake, fake.private_chat(fake.user(WRONG)), WRONG, "/myscore")
        assert "Answers: 2, 1 right (50%)" in score and "streak of right answers: 1" in score
        _, later = await private_quiz(fake, bot.store, WRONG)
        assert later != key

        # The weekly picture, on demand: to the admin who started the bot in private.
        note = await say(fake, group, ADMIN, "/digest")
        assert "1 admins" in note
        [photo] = [m for m in fake.sent_to(ADMIN) if m.method == "sendPhoto"]
        assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")
        import matplotlib.image

        pixels = matplotlib.image.imread(io.BytesIO(photo.photo), format="png")
        assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 800
        assert "quiz answers right: 1 of 2" in photo.text
        assert "questions 0 (" in photo.text  # nobody asked anything in the group
        # The creator never wrote to the bot: it cannot reach them, and does not try.
        assert fake.sent_to(OTHER_ADMIN) == []


async def test_mix_alternates_and_a_group_without_poll_rights_is_logged(
    settings: Settings,
    fake_telegram: FakeTelegram,
    group: Any,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_telegram
    async with running_bot(settings, clock, build=full_application) as bot:
        assert "in turn" in await say(fake, group, ADMIN, "/daily 08:00 mix")
        kinds = []
        for day in range(23, 27):  # Monday to Thursday
            clock.set_utc(f"2026-11-{day} 01:00")
            await bot.team.runner.tick()
            await fake.settle()
            kinds.append(fake.sent_to(GROUP)[-1].method)
        assert kinds in (
            ["sendPoll", "sendMessage"] * 2,
            ["sendMessage", "sendPoll"] * 2,
        )
        # The admins took the bot's right to post polls: the quiz fails, logged, not retried.
        fake.restrict(GROUP, "polls")
        caplog.set_level(logging.ERROR)
        for day in (27, 30, 31):  # Friday, Monday, Tuesday (one of them a quiz day)
            clock.set_utc(f"2026-11-{day} 01:00" if day < 31 else "2026-12-01 01:00")
            await bot.team.runner.tick()
        await fake.settle()
        failed = [d for d in bot.store.deliveries(GROUP) if d.state == "failed"]
        assert failed and all(":q" in d.tip_key for d in failed)
        assert "not enough rights to send polls" in caplog.text.lower()
        # A lead's /quiznow in that group: refused by Telegram, marked failed, the lead told.
        refused = await say(fake, group, ADMIN, "/quiznow")
        assert "not allowed to post polls" in refused
        assert bot.store.deliveries(GROUP)[-1].state == "failed"
        # Allowed again: one quiz, one delivery.
        fake.restricted.clear()
        before = len(polls(fake, GROUP))
        fake.send_text(group, fake.user(ADMIN), "/quiznow")
        await fake.wait_until(lambda: len(polls(fake, GROUP)) == before + 1)
        await fake.settle()
        assert len(polls(fake, GROUP)) == before + 1
        assert bot.store.deliveries(GROUP)[-1].kind == "now"
        assert bot.store.deliveries(GROUP)[-1].state == "sent"


async def test_members_cannot_post_group_quizzes_and_quiz_stays_private(
    settings: Settings, fake_telegram: FakeTelegram, group: Any, clock: FakeClock
) -> None:
    fake = fake_telegram
    async with running_bot(settings, clock, build=full_application) as bot:
        assert "only a team lead" in (await say(fake, group, RIGHT, "/quiznow")).lower()
        assert "private chat" in await say(fake, group, RIGHT, "/quiz")
        assert "private chat" in await say(fake, group, RIGHT, "/myscore")
        assert polls(fake, GROUP) == []
        assert bot.store.deliveries(GROUP) == []


async def test_the_monday_digest_goes_out_once_and_not_again_after_a_restart(
    settings: Settings, fake_telegram: FakeTelegram, group: Any, clock: FakeClock
) -> None:
    """Nobody started the bot in private: the picture goes to the group, once per week; a
    team with nothing to show gets none."""
    fake = fake_telegram
    quiet = -100400999
    fake.group_chat(quiet, "Tim Diam")
    fake.set_member_status(quiet, ADMIN, "administrator")
    async with running_bot(settings, clock, build=full_application) as bot:
        await say(fake, group, ADMIN, "/daily 08:00 weekdays")
        await say(fake, fake.chats[quiet], ADMIN, "/daily 08:00 weekdays")
        await say(fake, group, RIGHT, "/ask klien marah ngancam putus kerjasama")
        clock.set_utc("2026-11-23 01:00")
        await bot.team.digests.tick()
        await bot.team.digests.tick()
    async with running_bot(settings, clock, build=full_application) as bot:
        await bot.team.digests.tick()
        await fake.settle()
        photos = [m for m in fake.sent_to(GROUP) if m.method == "sendPhoto"]
        assert len(photos) == 1 and photos[0].photo is not None
        assert "1 pertanyaan (1 terjawab" in photos[0].text  # the team's language (id)
        assert [m.method for m in fake.sent_to(quiet)] == ["sendMessage"]  # /daily's reply only
        assert bot.store.digest_states(quiet) == {"2026-11-23": "empty"}
        clock.set_utc("2026-11-24 01:00")  # Tuesday: no digest
        await bot.team.digests.tick()
        clock.set_utc("2026-11-30 01:05")  # the next Monday: the next one
        await bot.team.digests.tick()
        await fake.settle()
        assert len([m for m in fake.sent_to(GROUP) if m.method == "sendPhoto"]) == 2


async def test_a_quiz_claimed_before_a_crash_is_sent_once_after_the_restart(
    settings: Settings, fake_telegram: FakeTelegram, group: Any, clock: FakeClock
) -> None:
    """Claimed (pending) when the process died: the catch-up tick after the restart sends
    it, once; one left `sending` (may have reached Telegram) is never sent again."""
    from bot.leads.quiz import deck

    fake = fake_telegram
    async with running_bot(settings, clock, build=full_application) as bot:
        await say(fake, group, ADMIN, "/daily 08:00 quiz")
        other = -100400777
        fake.set_member_status(other, ADMIN, "administrator")
        await say(fake, fake.group_chat(other, "Tim Lain"), ADMIN, "/daily 08:00 quiz")
        clock.set_utc("2026-11-23 01:00")
        keys = deck(bot.services.kb)
        pending = bot.store.claim_daily(GROUP, clock.now.date(), keys)
        sending = bot.store.claim_daily(other, clock.now.date(), keys)
        assert pending is not None and sending is not None
        assert bot.store.start_sending(sending.id)  # the crash came mid-request
    clock.set_utc("2026-11-23 01:20")
    async with running_bot(settings, clock, jobs=True, build=full_application) as bot:
        await fake.wait_until(lambda: len(polls(fake, GROUP)) == 1, timeout=10)
        await bot.team.runner.tick()
        await fake.settle()
        assert len(polls(fake, GROUP)) == 1
        assert polls(fake, other) == []
        states = {d.chat_id: d.state for d in bot.store.deliveries()}
        assert states == {GROUP: "sent", other: "unknown"}
