"""Taught phrasings (bot/engine/taught.py): what the matcher reads a team lead's teaching as."""

from __future__ import annotations

import threading

import pytest

from bot.engine.taught import Phrasing, TaughtPhrasings

KOI = {"buku": 2.0, "ikan": 3.0, "koi": 4.0, "bos": 1.0}  # total 10


def test_a_question_with_the_same_words_is_a_perfect_match() -> None:
    taught = TaughtPhrasings()
    taught.put(1, Phrasing(7, KOI))
    assert len(taught) == 1 and 1 in taught
    assert taught.similarity(KOI) == {7: pytest.approx(1.0)}
    assert taught.similarity({"kucing": 5.0, "persia": 5.0}) == {}


def test_similarity_is_the_weighted_f1_of_the_shared_words() -> None:
    taught = TaughtPhrasings()
    taught.put(1, Phrasing(7, KOI))
    # Shares koi + ikan (7 of the phrasing's 10); the question has 3 more of its own.
    question = {"koi": 4.0, "ikan": 3.0, "harga": 3.0}
    precision, recall = 7 / 10, 7 / 10
    f1 = 2 * precision * recall / (precision + recall)
    assert taught.similarity(question) == {7: pytest.approx(f1)}
    # A rare shared word counts for more than an everyday one.
    rare, everyday = {"koi": 4.0, "x": 4.0}, {"bos": 1.0, "x": 4.0}
    assert taught.similarity(rare)[7] > taught.similarity(everyday)[7]


def test_each_story_gets_its_best_phrasing() -> None:
    taught = TaughtPhrasings()
    taught.put("a", Phrasing(7, {"koi": 1.0, "kolam": 1.0}))
    taught.put("b", Phrasing(7, {"koi": 1.0}))
    taught.put("c", Phrasing(9, {"koi": 1.0, "harga": 1.0, "pasar": 1.0}))
    close = taught.similarity({"koi": 1.0})
    assert close[7] == pytest.approx(1.0)  # "b", not "a" (2/3)
    assert close[9] == pytest.approx(0.5)


def test_teaching_a_key_again_repoints_it_and_drops_its_old_words() -> None:
    taught = TaughtPhrasings()
    taught.put(1, Phrasing(7, KOI))
    taught.put(1, Phrasing(9, {"kolam": 1.0}))
    assert len(taught) == 1
    assert taught.get(1) == Phrasing(9, {"kolam": 1.0})
    assert taught.similarity(KOI) == {}  # the old phrasing's words lead nowhere now
    assert taught.similarity({"kolam": 1.0}) == {9: pytest.approx(1.0)}


def test_remove_forgets_the_phrasing_and_only_it() -> None:
    taught = TaughtPhrasings()
    taught.put(1, Phrasing(7, KOI))
    taught.put(2, Phrasing(9, {"koi": 4.0}))  # a word weighs the same in every phrasing
    assert taught.remove(1) is True
    assert taught.remove(1) is False
    assert 1 not in taught and taught.get(1) is None
    assert taught.similarity(KOI) == {9: pytest.approx(2 * 1 * 0.4 / (1 + 0.4))}
    assert taught.remove(2) is True
    assert taught.similarity(KOI) == {} and len(taught) == 0


def test_readers_see_whole_snapshots_while_a_writer_teaches() -> None:
    """Matching runs in worker threads while a lead teaches: a reader never sees a half-made
    phrasing (a word indexed whose phrasing is missing would raise KeyError)."""
    taught = TaughtPhrasings()
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                taught.similarity(KOI)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for key in range(2000):
        taught.put(key, Phrasing(key % 5, KOI))
        if key % 2:
            taught.remove(key - 1)
    done.set()
    reader.join()
    assert errors == []
    assert len(taught) == 1000


def test_a_groups_phrasing_applies_in_that_group_only() -> None:
    """Issue 15: what a group's admins teach changes nobody else's answers."""
    taught = TaughtPhrasings()
    taught.put(1, Phrasing(7, KOI, scope=-100))
    assert taught.similarity(KOI, -100) == {7: pytest.approx(1.0)}
    assert taught.similarity(KOI, -200) == {}
    assert taught.similarity(KOI, 42) == {}  # a private chat
    assert taught.similarity(KOI) == {}  # inline mode, `ask`
    taught.put(2, Phrasing(8, {"kucing": 1.0}))  # bot-wide: everywhere
    assert taught.similarity({"kucing": 1.0}, -200) == {8: pytest.approx(1.0)}
    assert taught.remove(1) and taught.similarity(KOI, -100) == {}


def test_the_same_words_taught_twice_count_once_the_chats_own_then_the_later() -> None:
    taught = TaughtPhrasings()
    taught.put(1, Phrasing(7, KOI, order=1.0))  # bot-wide
    taught.put(2, Phrasing(8, KOI, scope=-100, order=0.5))  # the group's own, earlier
    assert taught.similarity(KOI, -100) == {8: pytest.approx(1.0)}
    assert taught.similarity(KOI, -200) == {7: pytest.approx(1.0)}
    taught.put(3, Phrasing(9, KOI, order=2.0))  # bot-wide again, later: it wins elsewhere
    assert taught.similarity(KOI, -200) == {9: pytest.approx(1.0)}
    assert taught.similarity(KOI, -100) == {8: pytest.approx(1.0)}
