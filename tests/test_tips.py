"""Tip rotation: the whole deck before any repeat, per-chat order, new tips join, old ones go."""

from __future__ import annotations

from pathlib import Path

from bot.content.knowledge import load_knowledge
from bot.leads.tips import cycle_order, deck, next_tip
from bot.settings import PROJECT_ROOT
from bot.storage.store import DB_FILENAME, Store

DECK = [f"story{s}:{i}" for s in range(4) for i in range(3)]  # 12 tips


def walk(keys: list[str], chat_id: int, count: int) -> list[str]:
    """Draw `count` tips the way the store does, keeping only (cycle, used, last)."""
    cycle, used, last, drawn = 0, set[str](), None, []
    for _ in range(count):
        choice = next_tip(keys, chat_id, cycle, used, last)
        assert choice is not None
        if choice.cycle != cycle:
            cycle, used = choice.cycle, set()
        used.add(choice.key)
        last = choice.key
        drawn.append(choice.key)
    return drawn


def test_a_cycle_is_the_whole_deck_without_repeats() -> None:
    drawn = walk(DECK, chat_id=-100123, count=len(DECK) * 3)
    for start in range(0, len(drawn), len(DECK)):
        assert sorted(drawn[start : start + len(DECK)]) == sorted(DECK)


def test_no_tip_twice_in_a_row_across_the_seam_between_cycles() -> None:
    for chat_id in range(200):
        drawn = walk(DECK, chat_id, count=len(DECK) * 2 + 1)
        assert all(a != b for a, b in zip(drawn, drawn[1:], strict=False)), chat_id


def test_order_is_shuffled_per_chat_and_cycle_and_reproducible() -> None:
    first = cycle_order(DECK, 1, 0)
    assert first == cycle_order(list(reversed(DECK)), 1, 0)  # input order does not matter
    assert first != sorted(DECK)
    assert first != cycle_order(DECK, 2, 0)
    assert first != cycle_order(DECK, 1, 1)
    assert walk(DECK, 5, 30) == walk(DECK, 5, 30)


def test_new_tips_join_the_current_cycle_and_removed_ones_vanish() -> None:
    cycle, used = 0, set[str]()
    for _ in range(5):
        choice = next_tip(DECK, 9, cycle, used)
        assert choice is not None and choice.cycle == 0
        used.add(choice.key)
    new = ["fresh:0", "fresh:1", "fresh:2"]
    bigger = [key for key in DECK if key != "story0:0"] + new
    rest = []
    while True:
        choice = next_tip(bigger, 9, cycle, used)
        assert choice is not None
        if choice.cycle != cycle:
            break
        used.add(choice.key)
        rest.append(choice.key)
    assert set(new) <= set(rest)
    assert "story0:0" not in rest
    assert sorted(set(rest) | (used & set(bigger))) == sorted(bigger)
    assert len(rest) == len(set(rest))


def test_adding_tips_keeps_the_relative_order_of_the_others() -> None:
    before = cycle_order(DECK, 77, 3)
    after = cycle_order([*DECK, "fresh:0"], 77, 3)
    assert [key for key in after if key != "fresh:0"] == before


def test_empty_and_single_tip_decks() -> None:
    assert next_tip([], 1, 0, set()) is None
    assert walk(["only:0"], 1, 3) == ["only:0"] * 3


def test_store_rotation_persists_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    drawn = []
    for _ in range(3):  # reopen between draws: the place in the deck is in the database
        with Store(path) as store:
            for _ in range(8):
                delivery = store.take_tip(42, DECK)
                assert delivery is not None
                drawn.append(delivery.tip_key)
    assert drawn == walk(DECK, 42, 24)


def test_the_real_deck_has_every_tip_of_every_story() -> None:
    kb = load_knowledge(PROJECT_ROOT / "responses", PROJECT_ROOT / "seeds")
    keys = deck(kb)
    assert len(keys) == len(set(keys)) == sum(len(a.tips) for a in kb.stories)
    assert all(kb.by_id(key.split(":")[0]) is not None for key in keys)
