"""What the store keeps about the team leads' inbox: a question waiting there, and a decision.

Plain records shared by the inbox (which decides what to show and do, `bot/leads/inbox.py`), the
store (which keeps them) and the matcher's taught phrasings, in a module of their own so that
none has to import another to know their shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TAUGHT = "taught"
GAP = "gap"  # "no story fits": a candidate for a new story
SKIP = "skip"
OPEN = "open"  # undone: the question is back in the inbox
# Taught, then merged into the YAML by an author (`taught --prune`): settled for good, and
# teaching nothing more (the story's trigger answers it). Never a lead's choice in the inbox.
MERGED = "merged"
DECISIONS = frozenset({TAUGHT, GAP, SKIP, OPEN})


@dataclass(frozen=True)
class Question:
    """One recorded question, as the inbox shows it. `thumbs_down`: it was answered, and a
    member then voted 👎 on that answer."""

    id: int
    asked_at: datetime
    chat_id: int
    user_id: int | None
    text: str
    lang: str
    answered: bool
    story_id: str | None
    thumbs_down: bool = False


@dataclass(frozen=True)
class Decision:
    """What a team lead decided about one question. For 'taught' the question's text is a
    taught phrasing of `story_id`."""

    question_id: int
    decision: str
    story_id: str | None
    previous: str | None  # the state an undo restores (see `state`), None: nothing to undo
    text: str
    lang: str
    chat_id: int  # where the question was asked
    decided_by: int | None
    decided_at: datetime
    notified_at: datetime | None = None
    scope: int | None = None  # where it applies: a group's chat id, None every chat

    @property
    def state(self) -> str:
        return state_of(self.decision, self.story_id)


def text_key(text: str) -> str:
    """Questions with the same key are the same question asked again ("Klien  marah" and
    "klien marah"): the inbox shows them once, and one decision settles them all."""
    return " ".join(text.lower().split())


def state_of(decision: str, story_id: str | None = None) -> str:
    """A decision as one string ('taught:<story id>', 'gap', 'skip', 'open'): what undo
    compares and restores."""
    return f"{TAUGHT}:{story_id}" if decision == TAUGHT else decision


def parse_state(state: str) -> tuple[str, str | None]:
    """(decision, story id) of a `state_of` string."""
    decision, _, story_id = state.partition(":")
    return decision, (story_id or None)


@dataclass(frozen=True)
class Change:
    """The result of a decision or an undo. `outcome`: 'changed', 'unchanged' (it was already
    so), 'missing' (no such question, or its text was not kept), 'limit' (the chat's daily
    teaching limit is reached), 'stale' (undo: the question was decided again since),
    'bot_wide' (decided for every chat: not a group's lead's to change), 'merged' (now a
    trigger in the YAML: an author's to change, not the inbox's).
    `notify`: the asker should now hear back (first teaching of this question)."""

    outcome: str
    decision: Decision | None = None
    notify: bool = False
