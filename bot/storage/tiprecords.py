"""What the store keeps about daily tips: a chat's subscription and a delivery-log row.

Plain records shared by the schedule (which decides) and the store (which keeps them), in a
module of their own so neither has to import the other to know their shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time


@dataclass(frozen=True)
class Subscription:
    """One chat's daily tip, joined with what deciding "is it due?" needs."""

    chat_id: int
    at: time  # local wall-clock time in the chat's zone
    days: int  # day mask (EVERY_DAY, WEEKDAYS, ...)
    since: datetime  # UTC; set or last changed: an earlier slot is not owed
    timezone: str | None = None  # the chat's zone; None = the bot's default
    language: str | None = None
    last_date: date | None = None  # latest local date a daily tip was claimed for

    def zone_name(self, default: str) -> str:
        return self.timezone or default


@dataclass(frozen=True)
class Delivery:
    """One row of the delivery log, with the chat's zone and language joined in."""

    id: int
    chat_id: int
    kind: str  # 'daily' | 'now'
    local_date: date | None
    tip_key: str
    state: str
    timezone: str | None = None
    language: str | None = None
