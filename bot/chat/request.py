"""What a command's reply builder gets and gives back, with no transport attached.

Why a module of its own: the command table (`bot.chat.commands`) names the builders and the
team-lead builders (`bot.leads.team`) are among them, so the types both need live below both. A
builder is plain Python: it reads a `Request`, may call the store (the Telegram layer runs it
in a worker thread, so SQLite never blocks the event loop) and returns an `Outcome`, which
each transport sends its own way (Bot API requests, or lines in the terminal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.leads.tips import MemoryRotation, deck

if TYPE_CHECKING:
    from bot.chat.replies import Button, Replies, Reply
    from bot.content.model import KnowledgeBase
    from bot.settings import Settings
    from bot.storage.store import Store

# The terminal chat is one conversation; it is logged in the store as this chat id (Telegram
# gives no chat the id 0), so the tools that read the store can name it.
CONSOLE_CHAT_ID = 0


@dataclass(frozen=True)
class Request:
    """One command as sent: where, by whom, what came after the command, in which language.

    `text` is everything after "/command" (line breaks kept); `lang` is the command language
    the transport decided (the chat's /lang, the user's app language, BOT_LANGUAGE).
    `bot_wide_lead` is true for a lead listed in TEAM_LEAD_IDS (and the terminal user): in
    their `private` chat they may see what other chats asked and teach for every chat (in a
    group they act for that group only). `group_admin`: the sender administers this group (as
    Telegram says, or posting anonymously as the group); the transport finds it out only when
    the access rule needs it (`bot.chat.access`). `update_id` only goes into log lines.
    """

    chat_id: int
    user_id: int | None
    text: str
    lang: str
    bot_wide_lead: bool = False
    update_id: int | None = None
    private: bool = False  # a one-to-one chat with the bot (not a group)
    group_admin: bool = False
    # The message the command or press came with (a pressed button's message: one vote per
    # user, message and story), when the transport has one.
    message_id: int | None = None

    @property
    def args(self) -> list[str]:
        """The words after the command, as python-telegram-bot's `context.args` splits them."""
        return self.text.split()


@dataclass(frozen=True)
class Outcome:
    """What a command asks the transport to do.

    Most commands only say something (`replies`). Two need the transport's own machinery:
    `question` (/ask) is answered through the transport's question path, which records it
    with its source and retries a lost answer; `delivery_id` (/tipnow) says the first reply is
    that tip delivery, to be marked sent with the id of the message that carried it.
    `chosen_lang` tells a transport that keeps the language in memory (the terminal) that the
    chat chose one (/lang); the store already has it. `notices` go to other chats. `toast` is
    a short word about a button press itself (a vote thanked, a press refused or expired):
    Telegram shows it over the chat as the press's answer, the terminal prints it.
    """

    replies: tuple[Reply, ...] = ()
    question: str | None = None
    delivery_id: int | None = None
    chosen_lang: str | None = None
    notices: tuple[Notice, ...] = ()
    toast: Reply | None = None
    # A quiz to send after the replies (/quiz, /quiznow): with `delivery_id`, that delivery.
    poll: QuizPoll | None = None
    # The weekly picture (/digest): where it goes is the transport's to find out.
    picture: Picture | None = None


@dataclass(frozen=True)
class QuizPoll:
    """One quiz question as sent: Telegram makes it a quiz poll (its explanation shown after
    the answer), the terminal numbered choices. `buttons` go under it (the story behind it).
    The transport records the poll it sent, so that answers to it count (bot/leads/quiz.py)."""

    key: str
    question: str  # plain text (polls show no markup)
    options: tuple[str, ...]
    correct: int  # 0-based
    explanation: str
    lang: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True)
class Picture:
    """A PNG for the team's leads (bot/leads/digest.py), with its caption (Telegram HTML).
    `team_chat_id`: the group it describes (None: every chat, for a bot-wide lead)."""

    png: bytes
    caption: str
    team_chat_id: int | None
    name: str  # a file name for it ("kisah-digest-2026-12-07.png")


@dataclass(frozen=True)
class Notice:
    """Messages for another chat than the one the command came from: the salesperson who
    asked a question hears that a team lead picked a story for it (bot/leads/inbox.py). A transport
    that cannot reach the chat (blocked, left) logs it and goes on."""

    chat_id: int
    replies: tuple[Reply, ...]
    question_id: int


@dataclass
class Env:
    """What builders may use: the replies (and through them the knowledge base), the store
    (None for a terminal chat without a database: team commands are then unavailable) and the
    settings (default time zone, whether question texts are kept)."""

    replies: Replies
    store: Store | None
    settings: Settings
    # The tip rotation of a chat without a store (the terminal's), kept for the session only.
    rotation: MemoryRotation | None = field(default=None)

    @property
    def kb(self) -> KnowledgeBase:
        return self.replies.kb

    def next_tip_key(self, chat_id: int) -> str | None:
        """The chat's next tip from its stored rotation (shared with /tipnow and the daily
        tip), or from the one in memory when there is no store. None only for an empty deck."""
        keys = deck(self.kb)
        if self.store is not None:
            return self.store.next_tip_key(chat_id, keys)
        if self.rotation is None or self.rotation.chat_id != chat_id:
            self.rotation = MemoryRotation(chat_id)
        return self.rotation.take(keys)
