"""Which words of a message point to which story, learned from labelled messages.

Why beside the triggers and the situations: a salesperson who tells a story's situation in
words of his own trade (a warehouse clerk whose "customers" are the sales team, a florist's
skipped delivery) shares few words with the story, and the backstory of a long message
shares as many with a rival. Messages labelled with the story that answers them say which
words go with which story. Per story, each word weighs the log-odds that an in-scope message
using it is about that story rather than another (naive Bayes over word presence, as the
scope words: bot/engine/scope.py), and the confidence model reads how far a story's sum
leads the best other candidate's (`Evidence.words_lead`).

Content (`responses/story_words.yaml`, by story id), fitted with the confidence model by
`python -m bot calibrate FILE...`; without the file every story scores 0. A new story has no
weights until the labelled files name it and `calibrate` runs again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.engine.lesson_words import Where
from bot.engine.scope import log_odds, mean_weight, read_weights, read_yaml

FILE = "story_words.yaml"  # beside scope_words.yaml
# Labelled messages a story needs before its words are weighed (the shipped stories have about
# 370 each). With few, every word of those messages leans to the story and a word they happen
# to lack hardly counts against it, so its sum out-leads the old stories' on messages it has
# nothing to do with: after `calibrate`, a probe's new story with 8 labelled questions cost
# the gate 105 right answers of 3,479, and two new stories with 24 each cost 48 of 3,537
# (docs/matching.md). Below this a story is one the words do not know (`knows`): it gets no
# lead, as before its first `calibrate`.
MIN_STORY_MESSAGES = 100


class StoryWordsError(ValueError):
    """The story words file is malformed; each line of the message names file:line."""


@dataclass(frozen=True)
class StoryWords:
    """Per story id, the words' log-odds for that story."""

    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def score(self, story_id: str, words: Iterable[str]) -> float:
        """The story's weights of the message's distinct known words (`mean_weight`)."""
        return mean_weight(self.weights.get(story_id, {}), words)

    def knows(self, story_id: str) -> bool:
        """Whether labelled messages named the story when the words were fitted."""
        return story_id in self.weights

    def to_yaml(self) -> str:
        data = {
            story: {word: round(value, 3) for word, value in words.items()}
            for story, words in self.weights.items()
        }
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=True, width=100)

    @classmethod
    def load(cls, path: Path, story_ids: Iterable[str] | None = None) -> StoryWords:
        """The weights in `path` (story id -> word -> number); none if the file is absent.
        A story not in `story_ids` is left out (a base given with `--responses` and no tables
        of its own reads the project's files, whose stories are not its own)."""
        text, data = read_yaml(path, StoryWordsError)
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise StoryWordsError(f"{path}:1: must map story ids to words to numbers")
        problems: list[str] = []
        weights: dict[str, dict[str, float]] = {}
        for story, words in data.items():
            where = Where(path, text, story)
            if not isinstance(words, dict):
                problems.append(f"{where}: must map words to numbers")
                continue
            # `where` finds its line only when a problem is written
            found, bad = read_weights(words, lambda word, at=where: f"{at}: {word}")
            problems += bad
            weights[str(story)] = found
        if problems:
            raise StoryWordsError("\n".join(problems[:10]))
        if story_ids is not None:
            known = set(story_ids)
            weights = {story: words for story, words in weights.items() if story in known}
        return cls(weights)


def fit_story_words(
    messages: Iterable[tuple[Iterable[str], frozenset[str]]], story_ids: Iterable[str]
) -> StoryWords:
    """Per story, the words' log-odds of an in-scope message about it against one about
    another story, fitted on (a message's folded content words, the ids of its right
    stories); out-of-scope messages (no id) say nothing of which story and are left out.
    A story named by fewer than `MIN_STORY_MESSAGES` of them gets no weights."""
    about = [(frozenset(words), ids) for words, ids in messages if ids]
    return StoryWords(
        {
            story: log_odds((words, story in ids) for words, ids in about)
            for story in story_ids
            if sum(story in ids for _, ids in about) >= MIN_STORY_MESSAGES
        }
    )
