"""Each transport carries out an `Outcome` in one function that reads every field of it.

Why a scan of the source: a field added to `Outcome` (a new kind of thing a command asks for)
that one transport forgets is silently dropped there, as `notices` and `delivery_id` once were
in Telegram's everyday handler; this fails until both `deliver` functions read it.
"""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest

from bot.chat.request import Outcome
from bot.transports import console
from bot.transports.telegram import handlers

DELIVERERS = {
    "telegram": handlers.deliver,
    "terminal": console.Console.deliver,
}


@pytest.mark.parametrize("transport", sorted(DELIVERERS))
def test_the_one_deliver_function_reads_every_field(transport: str) -> None:
    source = inspect.getsource(DELIVERERS[transport])
    unread = [f.name for f in fields(Outcome) if f"outcome.{f.name}" not in source]
    assert unread == [], f"{transport} deliver ignores {unread}"
