"""Taught phrasings: questions a team lead pointed at a story, used by the matcher at once.

Why an overlay beside the index rather than new triggers in it: building the index takes a
fifth of a second for the real base (seconds for thousands of stories), and a team lead's tap
must change the next answer without a restart. A taught phrasing is kept as the weighted
content words the matcher already reads a question into (same normalisation, same word
weights), and a later question is compared with each phrasing that shares a word with it: a
weighted F1 of the words they share. The YAML stays the source of truth: `python -m bot
taught --export` turns these into triggers.

Copy-on-write: a question is matched in worker threads while a lead teaches in another, so
readers always see a whole, unchanging snapshot, and writers replace it under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Phrasing:
    """One taught phrasing: the story it points at (index position) and its word weights."""

    story: int
    weights: Mapping[str, float]

    @property
    def total(self) -> float:
        return sum(self.weights.values())


@dataclass(frozen=True)
class _Snapshot:
    by_key: Mapping[Hashable, Phrasing]
    by_word: Mapping[str, frozenset[Hashable]]


_EMPTY = _Snapshot(MappingProxyType({}), MappingProxyType({}))


class TaughtPhrasings:
    """The phrasings taught so far, by key (the question's id in the store)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = _EMPTY

    def __len__(self) -> int:
        return len(self._snapshot.by_key)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._snapshot.by_key

    def get(self, key: Hashable) -> Phrasing | None:
        return self._snapshot.by_key.get(key)

    def put(self, key: Hashable, phrasing: Phrasing) -> None:
        """Add a phrasing, or re-point the one under `key` (a later tap on another story)."""
        with self._lock:
            old = self._snapshot
            by_key = dict(old.by_key)
            by_word = dict(old.by_word)
            previous = by_key.get(key)
            if previous is not None:
                _unlink(by_word, key, previous)
            by_key[key] = phrasing
            for word in phrasing.weights:
                by_word[word] = by_word.get(word, frozenset()) | {key}
            self._snapshot = _Snapshot(MappingProxyType(by_key), MappingProxyType(by_word))

    def remove(self, key: Hashable) -> bool:
        with self._lock:
            old = self._snapshot
            previous = old.by_key.get(key)
            if previous is None:
                return False
            by_key = dict(old.by_key)
            by_word = dict(old.by_word)
            del by_key[key]
            _unlink(by_word, key, previous)
            self._snapshot = _Snapshot(MappingProxyType(by_key), MappingProxyType(by_word))
            return True

    def similarity(self, weights: Mapping[str, float]) -> dict[int, float]:
        """Story -> the best weighted F1 (0-1) between the question's words and a phrasing
        taught for that story. Only phrasings sharing a word with the question are read."""
        snapshot = self._snapshot
        keys: set[Hashable] = set()
        for word in weights:
            keys.update(snapshot.by_word.get(word, ()))
        question_total = sum(weights.values())
        best: dict[int, float] = {}
        for key in keys:
            phrasing = snapshot.by_key[key]
            # A word may weigh differently on the two sides (a typo is looked up by its
            # spelling): it counts at the lower weight, so F1 never exceeds 1.
            shared = sum(
                min(w, phrasing.weights[word])
                for word, w in weights.items()
                if word in phrasing.weights
            )
            total = phrasing.total
            if shared <= 0 or total <= 0 or question_total <= 0:
                continue
            precision, recall = shared / total, shared / question_total
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best.get(phrasing.story, 0.0):
                best[phrasing.story] = f1
        return best


def _unlink(by_word: dict[str, frozenset[Hashable]], key: Hashable, phrasing: Phrasing) -> None:
    for word in phrasing.weights:
        left = by_word.get(word, frozenset()) - {key}
        if left:
            by_word[word] = left
        else:
            by_word.pop(word, None)
