"""The tip deck and its per-chat rotation: pure functions, no Telegram, no database.

The deck is every tip of every story, keyed "<story id>:<index>" (`kb.tips()`). Each chat
walks the whole deck in its own shuffled order, one "cycle" at a time, and sees no tip twice
within a cycle.

Why the order is a sort by hash instead of `random.shuffle`: the position of a key depends only
on (chat, cycle, key), not on the rest of the deck. So when an author adds a story, its tips
slot into the current cycle without reshuffling the others, and a removed tip simply vanishes;
the order is still reproducible from the seed (chat, cycle) alone, and nothing but the set of
already used keys has to be stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.content.model import KnowledgeBase


@dataclass(frozen=True)
class TipChoice:
    key: str
    cycle: int  # the cycle the key belongs to; larger than the one asked when the deck ran out

    def started_new_cycle(self, previous_cycle: int) -> bool:
        return self.cycle != previous_cycle


def deck(kb: KnowledgeBase) -> list[str]:
    """Every tip key in the knowledge base, in file order."""
    return [key for key, _text in kb.tips()]


def _rank(chat_id: int, cycle: int, key: str) -> bytes:
    return hashlib.sha256(f"{chat_id}:{cycle}:{key}".encode()).digest()


def cycle_order(keys: Iterable[str], chat_id: int, cycle: int) -> list[str]:
    """The deck in the shuffled order chat `chat_id` sees it during `cycle`."""
    return sorted(set(keys), key=lambda key: _rank(chat_id, cycle, key))


def next_tip(
    keys: Collection[str],
    chat_id: int,
    cycle: int,
    used: Collection[str],
    last: str | None = None,
) -> TipChoice | None:
    """The next tip for a chat that has already seen `used` during `cycle`.

    When every key of the current deck is used, a new cycle starts (cycle + 1, nothing used);
    its first tip is never the one the chat saw last, so the seam between two cycles does not
    show the same tip twice in a row. Returns None only for an empty deck.
    """
    if not keys:
        return None
    used_set = set(used)
    for key in cycle_order(keys, chat_id, cycle):
        if key not in used_set:
            return TipChoice(key, cycle)
    order = cycle_order(keys, chat_id, cycle + 1)
    if len(order) > 1 and order[0] == last:
        # Swap the seam: the chat just saw this tip at the end of the previous cycle.
        return TipChoice(order[1], cycle + 1)
    return TipChoice(order[0], cycle + 1)


@dataclass
class MemoryRotation:
    """One chat's place in the deck, kept in memory, for a terminal chat without a database.

    The same `next_tip` as the stored rotation (`Store.next_tip_key`), so the order is the
    same whether or not there is a store; only the place is forgotten at exit.
    """

    chat_id: int
    cycle: int = 0
    used: set[str] = field(default_factory=set)
    last: str | None = None

    def take(self, keys: Collection[str]) -> str | None:
        """The next tip key (and remember it as seen); None only for an empty deck."""
        choice = next_tip(keys, self.chat_id, self.cycle, self.used, self.last)
        if choice is None:
            return None
        if choice.started_new_cycle(self.cycle):
            self.cycle, self.used = choice.cycle, set()
        self.used.add(choice.key)
        self.last = choice.key
        return choice.key
