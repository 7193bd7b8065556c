"""The Telegram border in isolation: size limits, keyboards, language codes, menus.

Everything here is also exercised end to end; these tests pin the edge cases that content
rarely hits (a reply over 4096 characters, a bad button) but that would lose a message.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import RetryAfter

from bot.chat.replies import Button, Reply
from bot.transports.telegram.common import language_from_code, retry_after_seconds
from bot.transports.telegram.menu import menus
from bot.transports.telegram.render import keyboard, plain, without_buttons


def test_keyboard_rows_and_invalid_buttons_dropped() -> None:
    reply = Reply("x", ((Button("A", "s:a"), Button("B", "s:b")), (Button("C", "t"),)))
    markup = keyboard(reply)
    assert markup is not None
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [
        ["s:a", "s:b"],
        ["t"],
    ]
    assert keyboard(Reply("no buttons")) is None
    assert keyboard(Reply("x", ((Button(" ", "t"),),))) is None  # empty label: dropped


def test_without_buttons_removes_feedback_row_only() -> None:
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Full", callback_data="f:a")],
            [
                InlineKeyboardButton("👍", callback_data="fb:a:1"),
                InlineKeyboardButton("👎", callback_data="fb:a:0"),
            ],
        ]
    )
    left = without_buttons(markup, "fb:")
    assert left is not None
    assert [[b.callback_data for b in row] for row in left.inline_keyboard] == [["f:a"]]
    only_feedback = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="fb:a:1")]])
    assert without_buttons(only_feedback, "fb:") is None


def test_plain_strips_markup_for_toasts() -> None:
    assert plain("🙏 <b>Terima kasih</b> &amp; sampai jumpa") == "🙏 Terima kasih & sampai jumpa"
    assert plain("x" * 300, 200) == "x" * 199 + "…"


@pytest.mark.parametrize(
    ("code", "lang"),
    [("en", "en"), ("en-US", "en"), ("id", "id"), ("in", "id"), ("de", None), (None, None)],
)
def test_language_from_telegram_code(code: str | None, lang: str | None) -> None:
    assert language_from_code(code) == lang


def test_menus_show_team_commands_only_to_admins_and_private_chats() -> None:
    """The menus users see, pinned: they are derived from the command table now."""
    private = ("start", "help", "ask", "topics", "story", "tip", "lang", "quiz", "myscore")
    group = ("ask", "topics", "story", "tip", "help", "lang")
    scopes = {scope.type: names for scope, names in menus()}
    assert scopes == {
        "default": private,
        "all_private_chats": (*private, "daily", "timezone", "digest"),
        "all_group_chats": group,
        "all_chat_administrators": (
            *group,
            *("daily", "timezone", "tipnow", "stats", "inbox", "quiznow", "digest"),
        ),
    }


@pytest.mark.parametrize("opt_in", ["", "1"])
def test_retry_after_is_read_as_int_or_timedelta_without_a_warning(
    opt_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PTB_TIMEDELTA unset: `retry_after` is an int; set (and in PTB's next major version):
    a timedelta. Both give seconds, and our read leaves no deprecation warning behind."""
    monkeypatch.setenv("PTB_TIMEDELTA", opt_in)
    errors = [RetryAfter(3), RetryAfter(timedelta(seconds=1.5))]  # PTB itself may warn here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seconds = [retry_after_seconds(error) for error in errors]
    assert seconds == [3.0, 1.5]
    assert caught == []


def test_a_reply_over_telegrams_limit_cannot_be_built() -> None:
    """Why render sends a reply as one message: it is never over 4096 UTF-16 units."""
    Reply("🙏" * 2048)  # 4096 units: fits
    with pytest.raises(ValueError, match="over 4096"):
        Reply("🙏" * 2049)  # an emoji counts twice, as Telegram counts it
