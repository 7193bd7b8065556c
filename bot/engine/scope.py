"""How much a message's words sound like the situations Kisah is asked about.

Why a word model beside the stories: a salesperson tells a story's situation in words no story
uses (a jazz collector, a skipped Monday delivery), and a near-domain question (a salary, a
report template, a colleague) shares as many words with a story as such a message does. The
stories cannot say which words belong to the job Kisah is asked to do and which to the work
around it; labelled messages can. Each word a message uses weighs the log-odds that a message
using it is in scope (naive Bayes over word presence, Laplace-smoothed), fitted on the
labelled files `python -m bot calibrate` reads, and the confidence model reads the message's
sum as one more input (`Evidence.scope`). A word seen fewer than `MIN_COUNT` times is left
out: once is an accident of one writer. The log-odds are taken within each language and
averaged over the messages using the word: the share of labelled messages in scope differs
between the languages, and read across them a word weighed partly for its language.

The weights are content (`responses/scope_words.yaml`); without the file every message scores
0 and the confidence model reads nothing from it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

FILE = "scope_words.yaml"  # beside calibration.yaml
MIN_COUNT = 2  # labelled messages a word must appear in to weigh anything


class ScopeWordsError(ValueError):
    """The scope words file is malformed; the message names file:line."""


@dataclass(frozen=True)
class ScopeWords:
    """Per folded content word, the log-odds that a message using it is in scope."""

    weights: Mapping[str, float] = field(default_factory=dict)

    def score(self, words: Iterable[str]) -> float:
        """The weights of the message's distinct known words, summed and divided by the
        square root of their number: a long message is not sure of itself for its length
        alone, and one strong word in a short message still counts."""
        return mean_weight(self.weights, words)

    def to_yaml(self) -> str:
        rounded = {word: round(value, 3) for word, value in self.weights.items()}
        return yaml.safe_dump(rounded, allow_unicode=True, sort_keys=True, width=1000)

    @classmethod
    def load(cls, path: Path) -> ScopeWords:
        """The weights in `path` (a YAML mapping of words to numbers); none if absent."""
        text, data = read_yaml(path, ScopeWordsError)
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ScopeWordsError(
                f"{path}:1: must map words to numbers (python -m bot calibrate writes it)"
            )
        weights, problems = read_weights(data, lambda word: f"{path}:{_line(text, word)}: {word}")
        if problems:
            raise ScopeWordsError("\n".join(problems[:10]))
        return cls(weights)


def read_yaml(path: Path, error: type[ValueError]) -> tuple[str, object]:
    """A word model file's text and its data (None when the file is absent or empty), read
    with libyaml when present: the pure-Python parser is slow on files this long. A file
    that cannot be read raises `error` naming it (shared with the story and lesson words)."""
    if not path.is_file():
        return "", None
    try:
        text = path.read_text(encoding="utf-8")
        return text, yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read: {exc}") from exc


def read_weights(
    data: Mapping[object, object], where: Callable[[object], str]
) -> tuple[dict[str, float], list[str]]:
    """A file's word -> number entries, and a problem line ("<where(word)>: must be a
    finite number") for each entry that is not one (shared with the lesson words)."""
    weights: dict[str, float] = {}
    problems = []
    for word, value in data.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and math.isfinite(value):  # type: ignore[arg-type]
            weights[str(word)] = float(value)  # type: ignore[arg-type]
        else:
            problems.append(f"{where(word)}: must be a finite number")
    return weights, problems


def _line(text: str, word: object) -> int:
    """The line a word's entry starts on (the file is one entry per line)."""
    prefix = f"{word}:"
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(prefix) or line.lstrip("'\"").startswith(prefix):
            return number
    return 1


def fit_scope(messages: Iterable[tuple[Iterable[str], bool, str]]) -> ScopeWords:
    """The word weights fitted on (a message's folded content words, in scope or not, its
    language): the log-odds within each language, averaged over the messages using the word."""
    strata: dict[str, list[tuple[frozenset[str], bool]]] = {}
    for words, side, language in messages:
        strata.setdefault(language, []).append((frozenset(words), side))
    used: Counter[str] = Counter()
    summed: Counter[str] = Counter()
    for pairs in strata.values():
        odds = log_odds(pairs, min_count=1)
        seen = Counter(word for words, _ in pairs for word in words)
        for word, value in odds.items():
            used[word] += seen[word]
            summed[word] += seen[word] * value
    return ScopeWords({word: summed[word] / used[word] for word in used if used[word] >= MIN_COUNT})


def log_odds(
    messages: Iterable[tuple[Iterable[str], bool]], min_count: int = MIN_COUNT
) -> dict[str, float]:
    """Per word, the log-odds that a message using it is on the True side (naive Bayes over
    word presence, Laplace-smoothed; words of fewer than `min_count` messages left out).
    Shared with the lesson words (bot/engine/lesson_words.py)."""
    inside: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    n_in = n_out = 0
    for words, side in messages:
        if side:
            inside.update(set(words))
            n_in += 1
        else:
            outside.update(set(words))
            n_out += 1
    return {
        word: math.log((inside[word] + 1) / (n_in + 2))
        - math.log((outside[word] + 1) / (n_out + 2))
        for word in inside.keys() | outside.keys()
        if inside[word] + outside[word] >= min_count
    }


def mean_weight(weights: Mapping[str, float], words: Iterable[str]) -> float:
    """The weights of the distinct known words, summed and divided by the square root of
    their number (0 without any)."""
    found = [weights[w] for w in set(words) if w in weights]
    return sum(found) / math.sqrt(len(found)) if found else 0.0
