"""Keyboards are cached by their buttons: the cache must never change what is sent, and an
invalid button must still be logged on every send."""

from __future__ import annotations

import logging

import pytest

from bot.replies import Button, Reply
from bot.telegram import render
from bot.telegram.render import keyboard


def test_same_buttons_same_keyboard_and_different_buttons_differ() -> None:
    rows = ((Button("Full story", "f:abc@en"), Button("Next", "l:abc:1@en")),)
    first = keyboard(Reply("a", rows))
    again = keyboard(Reply("another text", rows))
    assert first is again  # built once
    assert first is not None
    assert [[b.callback_data for b in row] for row in first.inline_keyboard] == [
        ["f:abc@en", "l:abc:1@en"]
    ]
    other = keyboard(Reply("a", ((Button("Full story", "f:abc@id"),),)))
    assert other is not None and other.inline_keyboard[0][0].callback_data == "f:abc@id"


def test_invalid_buttons_are_logged_on_every_send(caplog: pytest.LogCaptureFixture) -> None:
    reply = Reply("x", ((Button(" ", "t"), Button("Topics", "t@en")),))
    with caplog.at_level(logging.ERROR, logger=render.__name__):
        for _ in range(2):
            markup = keyboard(reply)
            assert markup is not None and len(markup.inline_keyboard[0]) == 1
    assert sum("dropping invalid button" in r.message for r in caplog.records) == 2


def test_cache_stays_bounded() -> None:
    for n in range(render.MAX_CACHED_KEYBOARDS + 10):
        keyboard(Reply("x", ((Button("Story", f"s:id{n}@en"),),)))
    assert len(render._KEYBOARDS) <= render.MAX_CACHED_KEYBOARDS  # noqa: SLF001
