"""Small talk: greetings, thanks, "ok", laughter, "who are you", "test", emoji. Not questions
about customers.

Why apart from the matcher: "halo" or "makasih ya" must never get "I have no story for that"
or land among the unanswered questions a content author reviews. The phrases are content
(`responses/smalltalk.yaml`); recognising them is a strict whole-message match after setting
filler words aside, so a real question that starts with "halo" is still a question.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

FILE = "smalltalk.yaml"
# The kinds of small talk, each answered by its text `smalltalk_<kind>` (responses/ui/chat.yaml).
KINDS = ("greeting", "thanks", "ack", "laugh", "bye", "about", "test", "unhelpful", "followup")
MAX_WORDS = 8  # longer messages are questions, whatever they start with
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STRETCHED = re.compile(r"(.)\1{2,}")  # "haloooo" -> "halo", "makasiiih" -> "makasih"
# Laughter is a syllable said again and again: "wkwkwk", "hahahah" are written as "wkwk", "haha".
_REPEATED = re.compile(r"([a-z]{2})\1+[a-z]?")
# Where a message's clauses meet: sentence ends, commas and line breaks (kept, with the
# spaces after them, so the clauses between the edges are given back as written).
_EDGES = re.compile(r"([.?!,;:]+(?:\s+|$)|\s*\n+\s*)")
# Modifiers that only change how an emoji looks (skin tone, text or emoji presentation).
_EMOJI_MODIFIERS = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\u200d]")


class SmallTalkError(ValueError):
    """The small-talk file is malformed; the message names the file and the key."""


def _word(raw: str) -> str:
    word = _STRETCHED.sub(r"\1", raw)
    repeated = _REPEATED.fullmatch(word)
    return repeated[1] * 2 if repeated else word


def _words(text: str) -> list[str]:
    return [_word(w) for w in _WORD.findall(text.lower())]


def _emoji(text: str) -> list[str]:
    """The symbols of a message without words ("👍", "🙏🏽"), skin tones set aside."""
    return [c for c in _EMOJI_MODIFIERS.sub("", text) if not c.isspace()]


@dataclass(frozen=True)
class SmallTalk:
    phrases: Mapping[tuple[str, ...], str]  # words of a phrase -> its kind
    filler: frozenset[str]
    emoji: Mapping[str, str] = field(default_factory=dict)  # "👍" -> its kind
    # Said around a question, never the question ("mohon sarannya", "maaf kalau panjang"):
    # set aside at a message's edges, as small talk is, but no small talk on their own.
    asides: frozenset[tuple[str, ...]] = frozenset()

    @classmethod
    def load(cls, path: Path) -> SmallTalk:
        """Read the file; an absent file means no small talk is recognised but emoji."""
        if not path.is_file():
            return cls({}, frozenset())
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SmallTalkError(f"{path}: cannot read: {exc}") from exc
        if not isinstance(data, dict):
            raise SmallTalkError(f"{path}: must map kinds (greeting, thanks, ...) to lists")
        phrases: dict[tuple[str, ...], str] = {}
        emoji: dict[str, str] = {}
        filler: set[str] = set()
        asides: list[tuple[str, ...]] = []
        for kind, items in data.items():
            if kind not in ("filler", "asides") and kind not in KINDS:  # a misspelt kind
                close = difflib.get_close_matches(str(kind), KINDS, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise SmallTalkError(
                    f"{path}: {kind}: unknown kind; {hint}known: {', '.join(KINDS)}, filler, asides"
                )
            if not isinstance(items, list) or not all(isinstance(i, str | int) for i in items):
                raise SmallTalkError(f"{path}: {kind}: must be a list of texts")
            if kind == "filler":
                filler.update(_word(str(i).lower()) for i in items)
                continue
            if kind == "asides":
                asides.extend(tuple(_words(str(i))) for i in items)
                continue
            for item in items:
                words = tuple(_words(str(item)))
                if words:
                    phrases.setdefault(words, str(kind))
                else:  # a phrase of symbols only: an emoji of its own ("👍" is an "ok")
                    for symbol in _emoji(str(item)):
                        emoji.setdefault(symbol, str(kind))
        # A message is read without its filler words, so a phrase is too: "kamu bot" (the bot's
        # name is filler) must meet "kamu bot ya?". A phrase of filler alone stays whole.
        read = {}
        for words, kind in phrases.items():
            kept = tuple(w for w in words if w not in filler) or words
            read.setdefault(kept, kind)
        kept_asides = frozenset(
            tuple(w for w in words if w not in filler) or words for words in asides if words
        )
        return cls(read, frozenset(filler), emoji, kept_asides)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.phrases.values())

    def kind(self, message: str) -> str | None:
        """The small-talk kind of `message`, or None when it is (or may be) a question."""
        words = _words(message)
        if not words:
            # Nothing but emoji or punctuation: a known one says what it means ("👍" is an
            # "ok", "😂" a laugh; the last one sets the tone), any other is a friendly nod.
            kinds = [self.emoji[c] for c in _emoji(message) if c in self.emoji]
            return kinds[-1] if kinds else ("greeting" if message.strip() else None)
        if len(words) > MAX_WORDS:
            return None
        kept = tuple(w for w in words if w not in self.filler)
        if not kept:
            # Filler alone: a laugh ("wkwk", "haha ya") is still a laugh, else a nod.
            kinds = [self.phrases[(w,)] for w in words if (w,) in self.phrases]
            if kinds:
                return kinds[-1]
            return "greeting" if any(not w.isdigit() for w in words) else "test"
        found = self.phrases.get(kept)
        if found is not None:
            return found
        return self._pleasantries(kept)

    def situation(self, message: str) -> str:
        """The message without the pleasantries around it: a greeting before, thanks or "maaf
        kalau panjang" after ("Halo kak, ... Makasih sebelumnya."). They say nothing of the
        situation, yet their words ("maaf", "saran") are a story's; the whole message if
        nothing else is left."""
        pieces = _EDGES.split(message)
        clauses = pieces[0::2]  # the text between the punctuation (which is kept for the rest)
        start, end = 0, len(clauses)
        while start < end and self._aside(clauses[start]):
            start += 1
        while end > start and self._aside(clauses[end - 1]):
            end -= 1
        if start == end or (start == 0 and end == len(clauses)):
            return message  # nothing but pleasantries, or none to set aside
        return "".join(pieces[2 * start : 2 * end]).strip()

    def _aside(self, clause: str) -> bool:
        """A clause that is small talk or an aside, not part of the situation."""
        words = _words(clause)
        if not words:
            return True  # emoji alone, or nothing after the last full stop
        kept = tuple(w for w in words if w not in self.filler)
        return not kept or kept in self.asides or self.kind(clause) is not None

    def _pleasantries(self, words: tuple[str, ...]) -> str | None:
        """The kind of a message made of several pleasantries ("halo, makasih ya", "haha iya
        oke sip"): the last one sets the tone. None when any word is not part of one."""
        if not words:
            return None
        for cut in range(len(words) - 1, 0, -1):
            tail = self.phrases.get(words[cut:])
            if tail is not None and (
                self.phrases.get(words[:cut]) is not None or self._pleasantries(words[:cut])
            ):
                return tail
        return None
