"""Situations: each story's circumstances as concepts, scored against a message beside its words.

A story's `situations` (YAML, both languages) state who the customer is, what went wrong or is
wanted, and what the asker decides, in plain roles and events. Read through the concept table
(bot/engine/concepts.py) each becomes a set of concepts; a message becomes one too. A message
told in other words (a jazz-record collector, a skipped Monday delivery) shares few words with
a story but many concepts with one of its situations, and that evidence goes to the confidence
model (bot/engine/confidence.py) as inputs of its own:

- `situation`: how well the message and the story's best-fitting situation cover each other
  (an F-measure over concept weights, the message's share weighed above the situation's);
- `concept_share`: the share of the message's concepts that the story's situations name;
- `uncovered`: the share of the message's concepts that no story's situation names: a subject
  next to the stories that none of them covers (a salary, a tender's documents, an allowance),
  whatever the words it is told in;
- `situation_told`: the largest share of one of the story's situations that the message tells
  (the F-measure above weighs it less): naming a situation's roles alone (a customer, a
  meeting tomorrow) is not telling it.

A concept is weighed by how few stories' situations name it (every story has a customer; one
has a personal passion), as words are in the lexical index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.engine.concepts import ConceptTable

# F-beta of a situation's fit, beta = 0.5: a short message names few of a situation's
# concepts, so how much of the message the situation explains counts more than how much of
# the situation the message tells.
BETA2 = 0.25
WORD_CACHE = 50_000  # words whose concepts are remembered (bounded: random input)


@dataclass(frozen=True)
class SituationScore:
    """One story's concept-level evidence for one message."""

    situation: float = 0.0
    concept_share: float = 0.0
    told: float = 0.0  # the largest share of one of its situations the message tells


class SituationIndex:
    """Every story's situations as weighted concept sets; built once, read per message."""

    def __init__(self, table: ConceptTable, stories: Sequence[Sequence[frozenset[str]]]) -> None:
        """`stories`: per story, the concept set of each of its situations."""
        self.table = table
        self.stories = [list(sets) for sets in stories]
        df: dict[str, int] = {}
        for sets in self.stories:
            for concept in frozenset().union(*sets) if sets else ():
                df[concept] = df.get(concept, 0) + 1
        n = max(len(self.stories), 1)
        self.weight = {c: math.log((n + 1) / (d + 0.5)) for c, d in df.items()}
        # A concept no situation names weighs as a concept of one story would: it is specific.
        self.uncovered_weight = math.log((n + 1) / 1.5)
        self.sizes = [[self._mass(s) for s in sets] for sets in self.stories]
        self.unions = [frozenset().union(*sets) if sets else frozenset() for sets in self.stories]
        self._word_cache: dict[str, frozenset[str]] = {}

    def has(self, story_index: int) -> bool:
        """Whether the story states any situation. One that does not (a base written before
        situations, a new story without them) is judged by its words alone: its concept
        evidence is read as that of a message naming no concept, not as a poor fit."""
        return story_index < len(self.stories) and bool(self.stories[story_index])

    def _mass(self, concepts: Iterable[str]) -> float:
        # fsum: a set's order follows string hashing, which changes per process; an exact sum
        # gives the same confidence in every process.
        return math.fsum(self.weight.get(c, self.uncovered_weight) for c in concepts)

    def message(self, tokens: Iterable[str]) -> frozenset[str]:
        """The concepts a message's canonical words name."""
        return self.table.concepts(tokens)

    def union(self, story_index: int) -> frozenset[str]:
        """Every concept the story's situations name (empty: it states none)."""
        return self.unions[story_index] if story_index < len(self.unions) else frozenset()

    def word_concepts(self, word: str) -> frozenset[str]:
        """The concepts one canonical word names on its own (remembered: a few thousand
        distinct words come by)."""
        found = self._word_cache.get(word)
        if found is None:
            found = self.table.concepts((word,))
            if len(self._word_cache) < WORD_CACHE:
                self._word_cache[word] = found
        return found

    def uncovered(self, concepts: frozenset[str]) -> float:
        """Share of the message's concept weight that no story's situation names."""
        total = self._mass(concepts)
        if total <= 0.0 or not self.weight:  # no situation anywhere: nothing is "uncovered"
            return 0.0
        return math.fsum(self.uncovered_weight for c in concepts if c not in self.weight) / total

    def score(self, story_index: int, concepts: frozenset[str]) -> SituationScore:
        """How the story's situations fit the message's concepts."""
        if not concepts or story_index >= len(self.stories) or not self.stories[story_index]:
            return SituationScore()
        total = self._mass(concepts)
        weight = self.weight
        best = told = 0.0
        for sit, size in zip(self.stories[story_index], self.sizes[story_index], strict=True):
            shared = math.fsum(weight[c] for c in concepts & sit)
            if shared <= 0.0 or size <= 0.0:
                continue
            precision, recall = shared / total, shared / size
            best = max(best, (1 + BETA2) * precision * recall / (BETA2 * precision + recall))
            told = max(told, recall)
        share = math.fsum(weight[c] for c in concepts & self.unions[story_index]) / total
        return SituationScore(situation=best, concept_share=share, told=told)
