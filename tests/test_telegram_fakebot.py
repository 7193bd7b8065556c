"""The fake Bot API server is only useful if it is as strict as Telegram: these tests pin the
rules every e2e test relies on, driving it with python-telegram-bot's own `Bot`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fakebot import FakeTelegram, FloodLimits, parse_html
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from bot.transports.telegram.common import retry_after_seconds


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as client:
        yield client


async def send(bot: Bot, chat_id: int, text: str, **kwargs: object) -> object:
    return await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, **kwargs)


def test_html_parser_accepts_telegram_html_and_reports_entities() -> None:
    text, entities = parse_html('<b>Judul</b> &amp; <i>isi</i> <a href="https://x.id">x</a> 👍')
    assert text == "Judul & isi x 👍"
    assert [e["type"] for e in entities] == ["bold", "italic", "text_link"]
    assert entities[0] == {"type": "bold", "offset": 0, "length": 5}


@pytest.mark.parametrize(
    "html",
    ["<b>unclosed", "<b>x</i>", "<br>", "a & b", "&nbsp;", "<a>x</a>", "x < y", "</b>"],
)
def test_html_parser_rejects_what_telegram_rejects(html: str) -> None:
    with pytest.raises(Exception, match="can't parse entities"):
        parse_html(html)


async def test_get_me_and_wrong_token(fake_telegram: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "kisah_test_bot"
    wrong = Bot("123456789:WRONG-token-wrong-token-wrong-00000", base_url=fake_telegram.base_url)
    with pytest.raises(InvalidToken):
        await wrong.get_me()


async def test_send_message_rules(fake_telegram: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(1, "<b>Hai</b> &lt;ok&gt;", parse_mode=ParseMode.HTML)
    assert message.text == "Hai <ok>"
    assert fake_telegram.sent[0].bold() == ["Hai"]
    for bad in ("<b>broken", "", "x" * 4097, "AT&T"):
        with pytest.raises(BadRequest):
            await bot.send_message(2, bad, parse_mode=ParseMode.HTML)
    await bot.send_message(3, "x" * 4096)  # exactly the limit is fine
    assert len(fake_telegram.sent) == 2


async def test_button_data_limit(fake_telegram: FakeTelegram, bot: Bot) -> None:
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
    await bot.send_message(1, "a", reply_markup=ok)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(1, "b", reply_markup=too_long)


async def test_updates_long_poll_and_offsets(fake_telegram: FakeTelegram, bot: Bot) -> None:
    user = fake_telegram.user(7)
    chat = fake_telegram.private_chat(user)
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    fake_telegram.send_text(chat, user, "/start")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.message.text for u in updates] == ["/start"]
    assert updates[0].message.entities[0].type == "bot_command"
    fake_telegram.send_text(chat, user, "dua")
    again = await bot.get_updates(timeout=0)
    assert [u.message.text for u in again] == ["/start", "dua"]  # not confirmed yet
    confirmed = await bot.get_updates(offset=again[-1].update_id + 1, timeout=0)
    assert confirmed == ()


async def test_flood_limits_answer_429_with_retry_after(fake_telegram: FakeTelegram) -> None:
    fake_telegram.limits = FloodLimits(private_per_second=1, private_burst=2)
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as bot:
        await bot.send_message(10, "1")
        await bot.send_message(10, "2")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(10, "3")
        assert retry_after_seconds(caught.value) == 1
        await bot.send_message(11, "other chat is fine")
        assert fake_telegram.status_count(429) == 1


async def test_group_limit_is_20_per_minute(fake_telegram: FakeTelegram, bot: Bot) -> None:
    for i in range(20):
        await bot.send_message(-100, f"tip {i}")
    with pytest.raises(RetryAfter):
        await bot.send_message(-100, "one too many")


async def test_blocked_and_forgotten_chats(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.block(5)
    fake_telegram.forget_chat(-6)
    with pytest.raises(Forbidden, match="(?i)blocked"):
        await bot.send_message(5, "x")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(-6, "x")


async def test_injected_failures(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.fail_next("sendMessage", code=429, retry_after=3, chat_id=9)
    await bot.send_message(8, "other chat passes")
    with pytest.raises(RetryAfter):
        await bot.send_message(9, "x")
    await bot.send_message(9, "second try passes")


async def test_edit_rules(fake_telegram: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("go", callback_data="s:x")]])
    message = await bot.send_message(1, "a", reply_markup=markup)
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_reply_markup(1, message.message_id, reply_markup=markup)
    await bot.edit_message_reply_markup(1, message.message_id, reply_markup=None)
    assert "reply_markup" not in fake_telegram.message(1, message.message_id)
    with pytest.raises(BadRequest, match="(?i)not found"):
        await bot.edit_message_reply_markup(1, 999, reply_markup=markup)


async def test_a_method_the_bot_never_calls_is_not_found(bot: Bot) -> None:
    with pytest.raises(TelegramError, match="(?i)not found"):
        await bot.send_chat_action(1, "typing")


async def test_callback_and_inline_answers(fake_telegram: FakeTelegram, bot: Bot) -> None:
    user = fake_telegram.user(3)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("go", callback_data="s:x")]])
    await bot.send_message(3, "pick", reply_markup=markup)
    query_id = fake_telegram.press(fake_telegram.sent[-1], data="s:x", user=user)
    await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    inline_id = fake_telegram.inline_query(user, "marah")
    article = InlineQueryResultArticle(
        "a", "A", InputTextMessageContent("<b>A</b>", parse_mode=ParseMode.HTML)
    )
    with pytest.raises(BadRequest, match="(?i)results_too_much"):
        results = [article.__class__(str(i), "t", article.input_message_content) for i in range(51)]
        await bot.answer_inline_query(inline_id, results)
    await bot.answer_inline_query(inline_id, [article])
    answer = await fake_telegram.wait_inline_answer(inline_id)
    assert answer["results"][0]["input_message_content"]["message_text"] == "<b>A</b>"


async def test_chat_member_and_commands(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.set_member_status(-50, 4, "administrator")
    assert (await bot.get_chat_member(-50, 4)).status == "administrator"
    assert (await bot.get_chat_member(-50, 5)).status == "member"
    fake_telegram.set_member_status(-50, 6, "creator")
    assert (await bot.get_chat_member(-50, 6)).status == "creator"
    await bot.set_my_commands(
        [BotCommand("stats", "Statistik")], scope=BotCommandScopeAllChatAdministrators()
    )
    await bot.set_my_commands(
        [BotCommand("start", "Start")], scope=BotCommandScopeAllPrivateChats(), language_code="en"
    )
    assert fake_telegram.commands("all_chat_administrators")[0]["command"] == "stats"
    assert fake_telegram.commands("all_private_chats", "en")[0]["description"] == "Start"
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_webhook_blocks_polling(fake_telegram: FakeTelegram, bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


# -- polls and photos (issue 19) ------------------------------------------------------------------


async def quiz(bot: Bot, chat_id: int, **overrides: object) -> object:
    values: dict[str, object] = {
        "question": "What do you do?",
        "options": ["One", "Two", "Three"],
        "is_anonymous": False,
        "type": "quiz",
        "correct_option_ids": [1],
        "explanation": "Lesson 1.",
    }
    values.update(overrides)
    return await bot.send_poll(chat_id, **values)  # type: ignore[arg-type]


async def test_send_poll_holds_to_telegrams_quiz_limits(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    message = await quiz(bot, 501)
    assert message.poll.correct_option_ids == (1,)  # type: ignore[attr-defined]
    bad = [
        {"question": "x" * 301},
        {"options": ["Only one"]},
        {"options": [f"o{i}" for i in range(11)]},
        {"options": ["a" * 101, "b"]},
        {"correct_option_ids": [3]},
        {"correct_option_ids": None},
        {"explanation": "y" * 201},
        {"explanation": "a\nb\nc\nd"},
    ]
    for overrides in bad:
        with pytest.raises(BadRequest):
            await quiz(bot, 501, **overrides)
    fake_telegram.restrict(-100501, "polls")
    with pytest.raises(BadRequest, match="(?i)rights to send polls"):
        await quiz(bot, -100501)
    assert len([m for m in fake_telegram.sent if m.method == "sendPoll"]) == 1


async def test_poll_answers_reach_the_bot_once_per_member(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    await quiz(bot, 502)
    [sent] = [m for m in fake_telegram.sent if m.method == "sendPoll"]
    member = fake_telegram.user(77)
    fake_telegram.answer_poll(sent, member, 1)
    with pytest.raises(AssertionError, match="cannot be answered twice"):
        fake_telegram.answer_poll(sent, member, 0)
    [update] = await bot.get_updates(timeout=0)
    assert update.poll_answer is not None
    assert update.poll_answer.option_ids == (1,) and update.poll_answer.user.id == 77


async def test_send_photo_takes_real_pngs_and_jpegs_only(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    import io

    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1), dpi=100)
    figure.subplots().plot([0, 1], [1, 0])
    png, jpeg = io.BytesIO(), io.BytesIO()
    figure.savefig(png, format="png")
    figure.savefig(jpeg, format="jpg")
    message = await bot.send_photo(503, png.getvalue(), caption="<b>Week</b>", parse_mode="HTML")
    assert message.photo[-1].width == 200 and message.photo[-1].height == 100
    await bot.send_photo(503, jpeg.getvalue())
    for junk in (b"GIF89a not a photo", b"\x89PNG\r\n\x1a\n" + b"\0" * 4):
        with pytest.raises(BadRequest, match="(?i)image_process_failed"):
            await bot.send_photo(503, junk)
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_photo(503, png.getvalue(), caption="x" * 1025)
    with pytest.raises(TelegramError):
        await bot.send_photo(503, png.getvalue()[:8] + b"\0" * (10 * 1024 * 1024))
    with pytest.raises(BadRequest, match="(?i)no administrators"):
        await bot.get_chat_administrators(503)
    photos = [m for m in fake_telegram.sent if m.method == "sendPhoto"]
    assert len(photos) == 2 and photos[0].text == "Week" and photos[0].photo == png.getvalue()
