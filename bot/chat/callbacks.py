"""Callback data, the text a button carries back when pressed: how it is encoded and parsed.

One module owns the format, so the buttons the replies and team-lead features make and the
parser every transport uses to route a press cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.content.model import Story

# Telegram's limit on callback data.
MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True)
class Callback:
    """Parsed callback data. kind: story | full | lesson | feedback | topics.

    `lang` is the language of the message the button sits under, so that pressing "full
    story" under an English answer replies in English even in a chat whose language is
    Indonesian. Buttons sent before the language was part of the data have none (None): they
    are answered in the chat's language, as they always were.
    """

    kind: str
    story_id: str | None = None
    number: int | None = None
    lang: str | None = None
    order: tuple[int, ...] = ()  # "another lesson": the lessons in order of fit, if carried


# Callback data: "<action>" or "<action>@<lang>", the action being s:<id>[:<lesson>],
# f:<id>[:<n>[:<order>]], l:<id>:<n>[:<order>], fb:<id>:<0|1> or t. A full story carries the
# lesson "another lesson" goes on to under it (<n>, and <order> as below), so reading the
# whole story does not send the reader back to the first lesson. A lesson's <order> is the
# story's lesson numbers (one digit each) in order of fit for the question, so "another
# lesson" goes on in that order. The language goes last so that a prefix still names the
# action (the Telegram layer removes the "fb:" buttons after a vote by prefix). The longest,
# "l:" or "f:" + a 24-character id + ":999:" + ten digits + "@en", is 44 bytes, within
# Telegram's 64.
_CALLBACK = re.compile(
    r"(?:(?P<kind>s|f):(?P<id>[A-Za-z0-9_-]{1,24})(?::(?P<sn>\d{1,3})(?::(?P<sorder>\d{2,10}))?)?"
    r"|l:(?P<lid>[A-Za-z0-9_-]{1,24}):(?P<n>\d{1,3})(?::(?P<order>\d{2,10}))?"
    r"|fb:(?P<fid>[A-Za-z0-9_-]{1,24}):(?P<vote>[01])"
    r"|(?P<topics>t))"
    r"(?:@(?P<lang>id|en))?"
)
LANG_SEPARATOR = "@"


def callback_data(action: str, lang: str) -> str:
    """`action` (e.g. "s:<id>") tagged with the language of the message it sits under."""
    return f"{action}{LANG_SEPARATOR}{lang}"


def lesson_action(story_id: str, index: int, position: int) -> str:
    """The "another lesson" action: lesson `index`, read as the `position`-th (1-based).

    The lesson shown first is the one that fits the question, not always the first in the
    file, so the count follows reading order ("2 of 4" after the first one shown), not the
    file's. The position is left out when it is the index's own (index + 1): the data is
    then what it always was.
    """
    action = f"l:{story_id}:{index}"
    return action if position == index + 1 else f"{action}:{position}"


def parse_callback(data: str) -> Callback | None:
    """Decode callback data made by this module; None for anything else (forged, or from a
    format no longer made). Data without a language (older buttons) is still understood."""
    found = _CALLBACK.fullmatch(data)
    if not found:
        return None
    lang = found["lang"]
    if found["kind"]:
        number = int(found["sn"]) if found["sn"] else None
        kind = "story" if found["kind"] == "s" else "full"
        order = tuple(int(d) for d in found["sorder"] or "")
        return Callback(kind, found["id"], number, lang=lang, order=order)
    if found["lid"]:
        order = tuple(int(d) for d in found["order"] or "")
        return Callback("lesson", found["lid"], int(found["n"]), lang=lang, order=order)
    if found["fid"]:
        return Callback("feedback", found["fid"], int(found["vote"]), lang=lang)
    return Callback("topics", lang=lang)


def _carried(story: Story, order: Sequence[int]) -> str:
    """`order` as a button carries it (one digit per lesson), or "" when it is not an order
    of the story's lessons that fits."""
    total = len(story.lessons)
    if total <= 10 and len(order) == total and sorted(order) == list(range(total)):
        return "".join(str(n) for n in order)
    return ""


def lesson_in_order_action(story: Story, index: int, order: Sequence[int]) -> str:
    """The action showing lesson `index`, going on in `order` when it is one."""
    carried = _carried(story, order)
    action = f"l:{story.id}:{index % len(story.lessons)}"
    return f"{action}:{carried}" if carried else action


def next_lesson_action(story: Story, index: int, order: Sequence[int]) -> str:
    """The "another lesson" action after lesson `index`: the next in `order` (the lessons by
    fit for the question, carried in the button), else the next by number."""
    total = len(story.lessons)
    if _carried(story, order):
        return lesson_in_order_action(story, order[(order.index(index % total) + 1) % total], order)
    return f"l:{story.id}:{(index + 1) % total}"


def full_story_action(story: Story, index: int, order: Sequence[int]) -> str:
    """The "full story" action under lesson `index`: it carries where "another lesson" goes
    on to under the full story (`next_lesson_action`)."""
    if len(story.lessons) < 2:
        return f"f:{story.id}"
    return "f:" + next_lesson_action(story, index, order).removeprefix("l:")
