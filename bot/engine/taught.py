"""Taught phrasings: questions a team lead pointed at a story, used by the matcher at once.

Why an overlay beside the index rather than new triggers in it: building the index takes a
fifth of a second for the real base (seconds for thousands of stories), and a team lead's tap
must change the next answer without a restart. A taught phrasing is kept as the weighted
content words the matcher already reads a question into (same normalisation, same word
weights), and a later question is compared with each phrasing that shares a word with it: a
weighted F1 of the words they share. The YAML stays the source of truth: `python -m bot
taught --export` turns these into triggers.

Trust follows the chat: a phrasing taught by a group's admins has that group as its scope
and is read only for questions asked there; only a phrasing taught bot-wide (scope None, by a
lead listed in TEAM_LEAD_IDS from their private chat) is read for every chat. So a stranger
who creates a group and teaches in it changes nobody else's answers.

Copy-on-write: a question is matched in worker threads while a lead teaches in another, so
readers always see a whole, unchanging snapshot, and writers replace it under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

Scope = int | None  # a group's chat id, or None: every chat


@dataclass(frozen=True)
class Phrasing:
    """One taught phrasing: the story it points at (index position), its word weights,
    where it applies (`scope`) and when it was taught (`order`, a timestamp: of the same
    words taught twice in one scope, the later counts)."""

    story_index: int
    weights: Mapping[str, float]
    scope: Scope = None
    order: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.weights.values())


_Words = Mapping[str, frozenset[Hashable]]


@dataclass(frozen=True)
class _Snapshot:
    by_key: Mapping[Hashable, Phrasing]
    by_scope: Mapping[Scope, _Words]  # per scope: word -> the keys of phrasings with it


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
            by_scope = dict(old.by_scope)
            previous = by_key.get(key)
            if previous is not None:
                _unlink(by_scope, key, previous)
            by_key[key] = phrasing
            by_word = dict(by_scope.get(phrasing.scope, {}))
            for word in phrasing.weights:
                by_word[word] = by_word.get(word, frozenset()) | {key}
            by_scope[phrasing.scope] = MappingProxyType(by_word)
            self._snapshot = _Snapshot(MappingProxyType(by_key), MappingProxyType(by_scope))

    def remove(self, key: Hashable) -> bool:
        with self._lock:
            old = self._snapshot
            previous = old.by_key.get(key)
            if previous is None:
                return False
            by_key = dict(old.by_key)
            by_scope = dict(old.by_scope)
            del by_key[key]
            _unlink(by_scope, key, previous)
            self._snapshot = _Snapshot(MappingProxyType(by_key), MappingProxyType(by_scope))
            return True

    def move_scope(self, old: int, new: int) -> int:
        """The phrasings taught for group `old` apply to `new` from now on (the group became
        a supergroup with a new id); how many moved."""
        moved = [
            (key, phrasing)
            for key, phrasing in self._snapshot.by_key.items()
            if phrasing.scope == old
        ]
        for key, phrasing in moved:
            self.put(key, replace(phrasing, scope=new))
        return len(moved)

    def similarity(
        self, weights: Mapping[str, float], chat_id: int | None = None
    ) -> dict[int, float]:
        """Story -> the best weighted F1 (0-1) between the question's words and a phrasing
        taught for that story, of the phrasings that apply in `chat_id` (the bot-wide ones,
        and those taught for that chat; None: only the bot-wide ones). Only phrasings sharing
        a word with the question are read. The same words taught to different stories count
        once: the chat's own teaching before the bot-wide one, then the later."""
        snapshot = self._snapshot
        keys: set[Hashable] = set()
        scopes: tuple[Scope, ...] = (None,) if chat_id is None else (None, chat_id)
        for scope in scopes:
            by_word = snapshot.by_scope.get(scope)
            if by_word:
                for word in weights:
                    keys.update(by_word.get(word, ()))
        chosen: dict[frozenset[str], Phrasing] = {}
        for key in keys:
            phrasing = snapshot.by_key[key]
            words = frozenset(phrasing.weights)
            other = chosen.get(words)
            if other is None or _rank(phrasing, chat_id) > _rank(other, chat_id):
                chosen[words] = phrasing
        question_total = sum(weights.values())
        best: dict[int, float] = {}
        for phrasing in chosen.values():
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
            if f1 > best.get(phrasing.story_index, 0.0):
                best[phrasing.story_index] = f1
        return best


def _rank(phrasing: Phrasing, chat_id: int | None) -> tuple[bool, float]:
    return (chat_id is not None and phrasing.scope == chat_id, phrasing.order)


def _unlink(by_scope: dict[Scope, _Words], key: Hashable, phrasing: Phrasing) -> None:
    by_word = dict(by_scope.get(phrasing.scope, {}))
    for word in phrasing.weights:
        left = by_word.get(word, frozenset()) - {key}
        if left:
            by_word[word] = left
        else:
            by_word.pop(word, None)
    if by_word:
        by_scope[phrasing.scope] = MappingProxyType(by_word)
    else:
        by_scope.pop(phrasing.scope, None)
