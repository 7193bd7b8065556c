"""The command table and the button table: every command and button Kisah knows, declared once.

Like errbot's `@botcmd`, one row says everything a transport needs: the name, where it is
offered (Telegram's per-scope command menus), who may run it (decided in `bot.chat.access`),
the plain-Python function that builds the reply, the UI text that describes it in the menu and
its line in /help (made from the table). The Telegram bot registers its command handlers, its
menus and its button handlers from these tables, and the terminal chat routes from them, so a
new command is one row, one builder and its texts, not edits in six places.

Builders take `(Env, Request)` and return an `Outcome` (bot/chat/request.py); they import nothing
from Telegram. The team-lead builders live in `bot.leads.team`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from bot.chat import recording
from bot.chat.access import Access
from bot.chat.callbacks import parse_callback
from bot.chat.replies import Reply
from bot.chat.request import Env, Outcome, Request
from bot.chat.uitexts import UiTexts
from bot.content.model import LANGUAGES
from bot.leads import digest, inbox, quiz, team

log = logging.getLogger(__name__)


class Scope(Enum):
    """Where a command is offered in Telegram's menu (it answers wherever it is sent)."""

    DEFAULT = "default"  # the fallback list, before Telegram knows the chat's kind
    PRIVATE = "private"
    GROUP = "group"  # every member of a group (administrators included)
    GROUP_ADMINS = "group_admins"  # only administrators of a group: the team leads


Builder = Callable[[Env, Request], Outcome]


@dataclass(frozen=True)
class Command:
    """One command. `team`: a team-lead feature (daily tips, stats): it needs the store and
    its menu description lives in team.yaml. `group_after`: in group menus, list it after that
    command instead of in table order."""

    name: str
    build: Builder
    scopes: frozenset[Scope]
    menu_key: str
    access: Access = Access.ANYONE
    team: bool = False
    group_after: str | None = None

    @property
    def help_key(self) -> str:
        """Its line in /help: the UI text after "/<name> " (usage and what it does)."""
        return f"help_{self.name}"


# -- the everyday builders ----------------------------------------------------------------------


def _say(*replies: Reply) -> Outcome:
    return Outcome(replies=replies)


def start(env: Env, req: Request) -> Outcome:
    return _say(env.replies.start(req.lang))


# "/help lead": the team-lead commands in full.
LEAD_HELP_WORDS = frozenset({"lead", "leads", "team", "tim"})


def help_text(env: Env, lang: str, *, lead: bool = False) -> Reply:
    """/help, made from the table: how to ask and one line per everyday command, then the
    team-lead commands named on one line (most readers are salespeople, on a phone); with
    `lead` ("/help lead") those commands in full under their heading. A command's line is
    "/<name> " and its `help_<name>` text, so a new row is listed without editing a help text
    kept beside the table."""

    def lines(rows: Sequence[Command]) -> str:
        return "\n".join(f"/{row.name} {env.kb.text(row.help_key, lang)}" for row in rows)

    team = [row for row in COMMANDS if row.team]
    if lead:
        return Reply(f"{env.kb.text('team_help', lang)}\n{lines(team)}")
    intro = env.replies.help(lang)
    everyday = lines([row for row in COMMANDS if not row.team])
    named = " ".join(f"/{row.name}" for row in team)
    short = env.kb.text("team_help_short", lang, commands=named)
    return replace(intro, text=f"{intro.text}\n\n{everyday}\n\n{short}")


def help_(env: Env, req: Request) -> Outcome:
    lead = bool(req.args) and req.args[0].lower() in LEAD_HELP_WORDS
    return _say(help_text(env, req.lang, lead=lead))


def ask(env: Env, req: Request) -> Outcome:
    """/ask <question>: the way to ask in a group without mentioning the bot."""
    question = req.text.strip()
    if not question:
        return _say(env.replies.ask_usage(req.lang))
    return Outcome(question=question)


def topics(env: Env, req: Request) -> Outcome:
    return _say(env.replies.topics(req.lang))


def story(env: Env, req: Request) -> Outcome:
    """/story <id>; without an id, the list to pick from."""
    if not req.args:
        return _say(env.replies.story_usage(req.lang))
    return _say(env.replies.story(req.args[0], req.lang))


def tip(env: Env, req: Request) -> Outcome:
    """/tip: the chat's next tip. The rotation is the chat's one stored rotation, shared with
    /tipnow and the daily tip, so it continues where it was after a restart; /tip writes no
    delivery record, it is an answer."""
    key = env.next_tip_key(req.chat_id)
    if key is None:  # an empty deck cannot pass the knowledge-base check; be safe anyway
        return _say(help_text(env, req.lang))
    log.info("tip chat_id=%s update_id=%s tip=%s", req.chat_id, req.update_id, key)
    return _say(env.replies.tip(key, req.lang))


def lang(env: Env, req: Request) -> Outcome:
    """/lang id|en: this chat's language for commands and buttons (and the fallback when a
    question does not show its language)."""
    choice = req.text.strip().lower()
    if choice not in LANGUAGES:
        return _say(env.replies.lang_usage(req.lang))
    if env.store is not None:
        env.store.set_chat_language(req.chat_id, choice)
    log.info("language set chat_id=%s update_id=%s lang=%s", req.chat_id, req.update_id, choice)
    return Outcome(replies=(env.replies.lang_set(choice),), chosen_lang=choice)


# -- the table ----------------------------------------------------------------------------------

_EVERYWHERE = frozenset({Scope.DEFAULT, Scope.PRIVATE, Scope.GROUP})
_LEAD_TOOLS = frozenset({Scope.PRIVATE, Scope.GROUP_ADMINS})  # in private: your own chat
_ADMINS = frozenset({Scope.GROUP_ADMINS})
_PRIVATE = frozenset({Scope.DEFAULT, Scope.PRIVATE})
_CHANGE = Access.LEAD_TO_CHANGE

# Table order is menu order. Handlers do not depend on it: each name is matched exactly.
COMMANDS: tuple[Command, ...] = (
    Command("start", start, frozenset({Scope.DEFAULT, Scope.PRIVATE}), "tg_cmd_start"),
    # In groups members come to ask, not to read help: it is listed after /tip there.
    Command("help", help_, _EVERYWHERE, "tg_cmd_help", group_after="tip"),
    Command("ask", ask, _EVERYWHERE, "tg_cmd_ask"),
    Command("topics", topics, _EVERYWHERE, "tg_cmd_topics"),
    Command("story", story, _EVERYWHERE, "tg_cmd_story"),
    Command("tip", tip, _EVERYWHERE, "tg_cmd_tip"),
    Command("lang", lang, _EVERYWHERE, "tg_cmd_lang"),
    # Practice is personal: offered in private chats (in a group they say so and point to
    # /quiznow), so that no member's answers or score show up in front of the team.
    Command("quiz", quiz.quiz, _PRIVATE, "tg_cmd_quiz"),
    Command("myscore", quiz.myscore, _PRIVATE, "tg_cmd_myscore"),
    Command("daily", team.daily, _LEAD_TOOLS, "team_cmd_daily", _CHANGE, team=True),
    Command("timezone", team.timezone, _LEAD_TOOLS, "team_cmd_timezone", _CHANGE, team=True),
    Command("tipnow", team.tipnow, _ADMINS, "team_cmd_tipnow", Access.LEAD, team=True),
    Command("stats", team.stats, _ADMINS, "team_cmd_stats", Access.LEAD, team=True),
    Command("inbox", inbox.inbox, _ADMINS, "team_cmd_inbox", Access.LEAD, team=True),
    Command("quiznow", quiz.quiznow, _ADMINS, "team_cmd_quiznow", Access.LEAD, team=True),
    Command("digest", digest.digest, _LEAD_TOOLS, "team_cmd_digest", Access.LEAD, team=True),
)
BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}


# -- the buttons --------------------------------------------------------------------------------

ButtonBuilder = Callable[[Env, Request, str], Outcome]


@dataclass(frozen=True)
class ButtonRoute:
    """One kind of inline button, beside the commands: the callback data it claims (`pattern`,
    a regular expression matched at the start), the plain-Python function that answers a
    press, who may press it and which presses decide something (`deciding`: Telegram then
    asks afresh whether the presser may, rather than trusting a cached answer)."""

    name: str
    pattern: str
    press: ButtonBuilder
    access: Access = Access.ANYONE
    deciding: Callable[[str], bool] = lambda data: False
    team: bool = False  # answered like a team command (no quote), needs the store


def story_button(env: Env, req: Request, data: str) -> Outcome:
    """A button under an answer (story, lesson, full seed, topics, 👍/👎). A vote is recorded
    here, for a story that exists, and thanked in a toast (a forged or outdated vote is told
    the button expired); after a 👎 in a private chat the other stories follow."""
    callback = parse_callback(data)
    if callback is not None and callback.kind == "feedback" and callback.story_id:
        lang = callback.lang or req.lang
        if env.kb.by_id(callback.story_id) is None:
            return Outcome(toast=env.replies.button_expired(lang))
        positive = callback.number == 1
        recording.record_vote(
            env.store,
            chat_id=req.chat_id,
            user_id=req.user_id,
            story_id=callback.story_id,
            positive=positive,
            message_id=req.message_id,
        )
        thanks = env.replies.feedback_thanks(lang, positive)
        if positive or not req.private:
            return Outcome(toast=thanks)
        # The story did not help: the others, to pick from. Only in a private chat: in a
        # group the list would be posted to everyone, once per press.
        return Outcome(toast=thanks, replies=(env.replies.other_stories(callback.story_id, lang),))
    return Outcome(replies=tuple(env.replies.on_button(data, req.lang)))


def _inbox_decides(data: str) -> bool:
    press = inbox.parse(data)
    return press is not None and press.action != "page"


# Matched in order; data no route claims (forged, or a format no longer made) is answered with
# "this button has expired".
BUTTONS: tuple[ButtonRoute, ...] = (
    # bot.chat.callbacks' format: s: f: l: fb:, and "t" (topics) alone or as "t@<lang>".
    ButtonRoute("story", r"^(s:|f:|l:|fb:|t$|t@)", story_button),
    # The inbox's buttons (bot/leads/inbox.py): checked like its command, on every press.
    ButtonRoute(
        "inbox", inbox.PATTERN, inbox.on_button, Access.LEAD, deciding=_inbox_decides, team=True
    ),
)


def button_route(data: str) -> ButtonRoute | None:
    """The route that claims this callback data, or None."""
    return next((route for route in BUTTONS if re.match(route.pattern, data)), None)


def menu(scope: Scope) -> tuple[Command, ...]:
    """The commands Telegram lists for `scope`, in order. Administrators are members too, so
    their list is the group's followed by the lead-only commands."""
    wanted = {scope, Scope.GROUP} if scope is Scope.GROUP_ADMINS else {scope}
    listed = [c for c in COMMANDS if c.scopes & wanted]
    if scope in (Scope.GROUP, Scope.GROUP_ADMINS):
        for command in [c for c in listed if c.group_after]:
            anchor = next((c for c in listed if c.name == command.group_after), None)
            if anchor is not None:
                listed.remove(command)
                listed.insert(listed.index(anchor) + 1, command)
    return tuple(listed)


def _menu_texts(file: str, commands: Sequence[Command]) -> UiTexts:
    keys = {c.menu_key: frozenset[str]() for c in commands}
    return UiTexts(file, keys, plain=frozenset(keys))  # menus show no markup


def _help_texts(file: str, commands: Sequence[Command]) -> UiTexts:
    return UiTexts(file, {c.help_key: frozenset[str]() for c in commands})


# The menu descriptions (the everyday ones in telegram.yaml, the team's beside their texts)
# and the /help lines.
UI_TEXTS: tuple[UiTexts, ...] = (
    _menu_texts("responses/ui/telegram.yaml", [c for c in COMMANDS if not c.team]),
    _menu_texts("responses/ui/team.yaml", [c for c in COMMANDS if c.team]),
    # Each command's line in /help: the everyday ones beside the help text, the team's with theirs.
    _help_texts("responses/ui/chat.yaml", [c for c in COMMANDS if not c.team]),
    _help_texts("responses/ui/team.yaml", [c for c in COMMANDS if c.team]),
)
