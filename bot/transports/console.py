"""The terminal chat: the bot's exact replies, without Telegram.

A newcomer with no token (and every test) can talk to Kisah here. It calls the same `Replies`
the Telegram handlers call and routes commands from the same command table (`bot.chat.commands`),
team-lead commands included: the terminal is a local chat whose user is its team lead. Only
the rendering differs: HTML becomes plain text and inline buttons become numbered choices the
user presses by typing the number. It reads lines from any text stream, so it works the same
from a keyboard, a pipe or a test's `io.StringIO`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.chat import access, recording
from bot.chat.callbacks import parse_callback
from bot.chat.commands import BY_NAME, button_route
from bot.chat.markup import escape, html_to_text
from bot.chat.replies import Button, Replies, Reply, all_buttons
from bot.chat.request import CONSOLE_CHAT_ID, Env, Outcome, QuizPoll, Request
from bot.leads import quiz as practice
from bot.leads import tips
from bot.leads.schedule import daily_kind, due_date
from bot.leads.tips import MemoryRotation
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.storage.store import Store

log = logging.getLogger(__name__)

# Its user, for practice (/quiz, /myscore): answers are a person's, and this is the one here.
CONSOLE_USER_ID = 0
_PERSONAL = frozenset({"quiz", "myscore"})


class Console:
    """One interactive conversation over text streams."""

    def __init__(
        self,
        replies: Replies,
        stdin: TextIO,
        stdout: TextIO,
        *,
        lang: str | None = None,
        store: Store | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.replies = replies
        self.stdin = stdin
        self.stdout = stdout
        self.store = store
        # The language the user chose with /lang (None: not chosen). Questions are answered in
        # their own language either way; commands and buttons use the chosen or last language.
        self.chosen_lang = lang
        self.last_lang = lang or replies.default_lang
        self.buttons: list[Button] = []
        # The quiz waiting for an answer (its number typed next), with its poll id.
        self.pending: tuple[QuizPoll, str] | None = None
        self._poll_numbers = itertools.count(1)
        # Without a store the place in the tip deck lasts for this session only.
        self.env = Env(
            replies, store, settings or Settings(), rotation=MemoryRotation(CONSOLE_CHAT_ID)
        )

    @property
    def lang(self) -> str:
        return self.chosen_lang or self.last_lang

    def _interactive(self) -> bool:
        isatty = getattr(self.stdin, "isatty", None)
        return bool(isatty and isatty())

    def _read(self) -> str | None:
        """One line of input, None at the end. At a real terminal `input()` gives line editing
        and history (readline); from a pipe or a test stream there is no prompt at all."""
        if not self._interactive():
            line = self.stdin.readline()
            return line if line else None
        if self.stdin is sys.stdin and self.stdout is sys.stdout:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401  (enables editing and history for input())
            try:
                return input("> ")
            except EOFError:
                return None
        self.stdout.write("> ")
        self.stdout.flush()
        line = self.stdin.readline()
        return line if line else None

    def show(self, replies: Reply | list[Reply]) -> None:
        """Print replies; their buttons become the numbered choices for the next input.

        As in Telegram, a message's buttons sit under that message (the inbox's three
        questions each have their own), numbered on across messages; the prompt is in the
        language of the buttons, which is the language of the message they belong to."""
        items = [replies] if isinstance(replies, Reply) else replies
        buttons = all_buttons(items)
        prompted = False
        number = 0
        for reply in items:
            self.stdout.write(html_to_text(reply.text).rstrip() + "\n\n")
            row_buttons = all_buttons(reply)
            if not row_buttons:
                continue
            if not prompted:
                prompt = self.replies.kb.text("console_choices", _language_of(buttons, self.lang))
                self.stdout.write(prompt + "\n")
                prompted = True
            for button in row_buttons:
                number += 1
                self.stdout.write(f"  [{number}] {button.text}\n")
            self.stdout.write("\n")
        self.buttons = buttons
        self.stdout.flush()

    def run(self) -> int:
        """Chat until /quit or end of input; returns the exit status (0)."""
        self.stdout.write(self.replies.kb.text("console_welcome", self.lang) + "\n\n")
        self.show(self.replies.start(self.lang))
        self.catch_up()
        try:
            while True:
                line = self._read()
                if line is None:
                    break
                self.catch_up()
                if not self.handle(line.strip()):
                    break
        except KeyboardInterrupt:
            self.stdout.write("\n")
        self.stdout.write(self.replies.kb.text("console_bye", self.lang) + "\n")
        self.stdout.flush()
        return 0

    def catch_up(self) -> None:
        """The daily tip or quiz this chat is owed now (/daily), shown as the scheduler sends
        it in Telegram: claimed once for the local day, then marked sent. The terminal runs
        no clock between lines, so one that falls due while it waits for input is shown when
        the user next types (or starts the chat), never twice and never after its day."""
        store = self.store
        if store is None:
            return
        sub = store.subscription(CONSOLE_CHAT_ID)
        if sub is None:
            return
        day = due_date(sub, store.clock(), self.env.settings.timezone)
        if day is None:
            return
        kb = self.replies.kb
        quizzes = practice.deck(kb)
        kind = daily_kind(store.daily_mode(CONSOLE_CHAT_ID), day, sub.days)
        keys = quizzes if kind == "quiz" and quizzes else tips.deck(kb)
        delivery = store.claim_daily(CONSOLE_CHAT_ID, day, list(keys))
        if delivery is None or not store.start_sending(delivery.id):
            return
        lang = delivery.language or self.lang
        if practice.is_quiz_key(delivery.tip_key):
            poll = practice.poll_for(self.env, delivery.tip_key, lang)
            if poll is not None:
                self.deliver(Outcome(delivery_id=delivery.id, poll=poll))
                return
        elif delivery.tip_key in keys:
            self.deliver(
                Outcome((self.replies.tip(delivery.tip_key, lang),), delivery_id=delivery.id)
            )
            return
        store.mark_delivery(delivery.id, "failed", "no longer in the stories")

    def handle(self, line: str) -> bool:
        """Act on one line of input; False when the user wants to leave."""
        if not line:
            return True
        pending, self.pending = self.pending, None
        if pending is not None and line.isdigit():
            self.answer(pending, int(line))
            return True
        if pending is not None:
            self.stdout.write(
                self.replies.kb.text("quiz_console_skipped", pending[0].lang) + "\n\n"
            )
        if line.isdigit():
            self.press(int(line))
            return True
        if line.startswith("/"):
            return self.command(line)
        self.ask(line)
        return True

    def ask(self, question: str) -> None:
        answer, reply = self.replies.answer(
            question,
            lang=None,
            default_lang=self.chosen_lang or self.replies.default_lang,
            chat_id=CONSOLE_CHAT_ID,
        )
        self.last_lang = answer.lang
        best = answer.best
        log.debug("console question answered=%s lang=%s", best is not None, answer.lang)
        recording.record_question(
            self.store,
            chat_id=CONSOLE_CHAT_ID,
            user_id=None,
            question=question,
            answer=answer,
            source="cli",
        )
        self.show(reply)

    def press(self, number: int) -> None:
        """Press a numbered button: routed by the button table, like Telegram's presses."""
        if not 1 <= number <= len(self.buttons):
            self.stdout.write(
                self.replies.kb.text("console_bad_choice", self.lang, number=number) + "\n\n"
            )
            return
        data = self.buttons[number - 1].data
        route = button_route(data)
        if route is None or (route.team and self.store is None):
            self.show(self.replies.button_expired(self.lang))
            return
        callback = parse_callback(data)
        if callback is not None and callback.lang:
            # The button answers in the language of the reply it came with (see Replies).
            self.last_lang = callback.lang
        request = self._request()
        refused = access.refusal(self.env, route.access, request)
        self.deliver(refused or route.press(self.env, request, data))

    def command(self, line: str) -> bool:
        """Run a command of the table; False for /quit. The terminal user is the team lead of
        this local chat (and sees every chat's unanswered questions in /stats: it is their
        database), so no access rule applies. Without a store there are no team commands."""
        name, _, rest = line.partition(" ")
        name = name.lower().split("@", 1)[0]
        if name in {"/quit", "/exit", "/q"}:
            return False
        row = BY_NAME.get(name.removeprefix("/"))
        if row is None or (row.team and self.store is None):
            self.show(self.replies.unknown_command(self.lang))
            return True
        user_id = CONSOLE_USER_ID if row.name in _PERSONAL else None
        request = self._request(rest.strip(), user_id)
        self.deliver(access.refusal(self.env, row.access, request) or row.build(self.env, request))
        return True

    def _request(self, text: str = "", user_id: int | None = None) -> Request:
        # The terminal user is the bot-wide lead in their own private chat: what they teach
        # applies to every chat, as from a TEAM_LEAD_IDS user's private chat in Telegram.
        return Request(CONSOLE_CHAT_ID, user_id, text, self.lang, bot_wide_lead=True, private=True)

    # -- practice -----------------------------------------------------------------------------

    def ask_quiz(self, poll: QuizPoll, delivery_id: int | None = None) -> None:
        """A quiz as numbered choices; the next number typed is the answer. With a store the
        poll is recorded as Telegram's is, so /myscore and the repetition count it."""
        poll_id = f"console-{CONSOLE_CHAT_ID}-{next(self._poll_numbers)}"
        if self.store is not None:
            # One id per session would collide with an earlier session's: make it unique.
            poll_id = f"{poll_id}-{self.store.clock().timestamp():.6f}"
            self.store.record_poll(
                poll_id, CONSOLE_CHAT_ID, poll.key, poll.correct, delivery_id=delivery_id
            )
        lines = [poll.question, ""]
        lines += [f"  [{number}] {option}" for number, option in enumerate(poll.options, 1)]
        lines += ["", self.replies.kb.text("quiz_console_pick", poll.lang)]
        self.stdout.write("\n".join(lines) + "\n\n")
        self.stdout.flush()
        self.buttons = []
        self.pending = (poll, poll_id)

    def answer(self, pending: tuple[QuizPoll, str], number: int) -> None:
        poll, poll_id = pending
        if not 1 <= number <= len(poll.options):
            self.stdout.write(
                self.replies.kb.text("console_bad_choice", poll.lang, number=number) + "\n\n"
            )
            self.pending = pending
            return
        if self.store is not None:
            self.store.record_quiz_answer(poll_id, CONSOLE_USER_ID, number - 1)
        kb = self.replies.kb
        if number - 1 == poll.correct:
            verdict = kb.text("quiz_console_right", poll.lang)
        else:
            right = poll.options[poll.correct]
            verdict = kb.text(
                "quiz_console_wrong", poll.lang, number=poll.correct + 1, option=right
            )
        # As in Telegram: the explanation after the answer, the story a button away.
        self.show(Reply(escape(f"{verdict}\n{poll.explanation}"), poll.buttons))

    def save_picture(self, png: bytes, name: str, caption: str) -> None:
        """The weekly picture as a PNG file beside the database (or here without one), then
        its caption, as Telegram shows it under the picture."""
        folder = self.store.path.parent if self.store is not None else Path.cwd()
        path = folder / name
        path.write_bytes(png)
        saved = self.replies.kb.text("digest_saved", self.lang, path=path)
        self.stdout.write(f"{saved}\n{html_to_text(caption)}\n\n")
        self.stdout.flush()

    def deliver(self, outcome: Outcome) -> None:
        """Carry out an `Outcome` in the terminal, every field of it, for every command and
        button: the chosen language is kept for the session, a question is answered (and
        recorded), a press's toast and the replies printed, a tip's delivery marked sent
        (printed: there is no message id), a quiz asked as numbered choices, a picture saved.
        A notice for this chat (the terminal user asked the
        question) is printed after them; one for another chat (a database shared with the
        Telegram bot) cannot be delivered from here, and the user is told so."""
        if outcome.chosen_lang is not None:
            self.chosen_lang = outcome.chosen_lang
        if outcome.question is not None:
            self.ask(outcome.question)
        if outcome.delivery_id is not None and self.store is not None:
            self.store.mark_sent(outcome.delivery_id, None)
        replies = ([outcome.toast] if outcome.toast is not None else []) + list(outcome.replies)
        for notice in outcome.notices:
            if notice.chat_id == CONSOLE_CHAT_ID:
                replies.extend(notice.replies)
                if self.store is not None:  # printed: the outbox owes it no more
                    self.store.hearback_shown(notice.question_id)
            else:
                text = self.replies.kb.text(
                    "inbox_notice_elsewhere", self.lang, chat=notice.chat_id
                )
                replies.append(Reply(text))
        if replies:
            self.show(replies)
        if outcome.poll is not None:  # a quiz: numbered choices, the next number answers
            self.ask_quiz(outcome.poll, outcome.delivery_id)
        if outcome.picture is not None:
            picture = outcome.picture
            self.save_picture(picture.png, picture.name, picture.caption)


_BUTTON_LANG = re.compile(r"@(id|en)$")


def _language_of(buttons: list[Button], default: str) -> str:
    """The language the buttons answer in (their data ends "@<lang>"), else `default`."""
    for button in buttons:
        found = _BUTTON_LANG.search(button.data)
        if found:
            return found[1]
    return default


def run_console(
    replies: Replies,
    stdin: TextIO,
    stdout: TextIO,
    *,
    store: Store | None = None,
    settings: Settings | None = None,
) -> int:
    """Start a terminal chat; the chat language stored by an earlier /lang is remembered."""
    lang = store.chat_language(CONSOLE_CHAT_ID) if store is not None else None
    return Console(replies, stdin, stdout, lang=lang, store=store, settings=settings).run()
