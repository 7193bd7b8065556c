"""The team leads' inbox: unanswered and 👎 questions, taught to a story in one tap.

Why in the chat: team leads live in Telegram and know which story fits; a question taught
there is answered from the next message on (the matcher's taught phrasings, bot/engine/taught.py),
and the salesperson who asked hears back. Content authors keep the YAML as the source of
truth (`python -m bot taught --export`), and "no story fits" feeds the list of content gaps
(`python -m bot report`).

Plain Python like every command builder: `/inbox` is a row of the command table, its buttons
a route of the button table that comes back here through `on_button`, and the Telegram bot and
the terminal chat send what this module returns. Who may use it is decided by the table's rule
in the core (`bot.chat.access`: a group's administrators and the users in TEAM_LEAD_IDS), and
here a private chat is left to the latter only, since teaching there changes the answers of
every chat; which questions a lead may see and decide is decided here, on every press, so a
forged or replayed button changes nothing it should not.

Trust follows the chat: in a group every lead, TEAM_LEAD_IDS included, sees and decides that
group's questions only, and what is taught there applies there only (every member reads what
the bot says in a group). The bot-wide view and bot-wide teaching belong to a TEAM_LEAD_IDS
user's private chat.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.chat.callbacks import callback_data
from bot.chat.markup import escape, shorten, shorten_title
from bot.chat.replies import Button, Reply
from bot.chat.request import Notice, Outcome
from bot.chat.uitexts import UiTexts
from bot.leads import when
from bot.leads.hearback import NOTICE_CHARS, TITLE_CHARS, compose
from bot.storage.hearbacks import Hearback
from bot.storage.inboxrecords import (
    GAP,
    OPEN,
    SKIP,
    TAUGHT,
    Change,
    Decision,
    Question,
    parse_state,
    state_of,
)

if TYPE_CHECKING:
    from bot.chat.request import Env, Request
    from bot.content.model import Story
    from bot.engine.matcher import Matcher
    from bot.storage.store import Store

log = logging.getLogger(__name__)

PAGE = 3  # questions per page: with the page line, one phone screen
STORY_CHOICES = 3  # best-ranked stories offered per question
OTHERS_PAGE = 5  # stories per page of "another story" (the ones after the first three)
MAX_TEACH_CHARS = 1000  # a longer message is not a phrasing worth keeping
DAILY_TEACH_LIMIT = 100  # taught phrasings per deciding chat per 24 hours
QUESTION_CHARS = 300  # of a question shown in the inbox

# Button data: "ib:" + t:<question>:<story> (teach), g:<question> (no story fits),
# k:<question> (skip), u:<question>:<state> (undo; t:<story>, g or k), m:<offset> (a page),
# o:<question>:<offset> (a page of the other stories), then "@<lang>" as on every button.
# At most 48 bytes, within Telegram's 64.
PATTERN = r"^ib:"
_DATA = re.compile(
    r"ib:(?:t:(?P<tq>\d{1,12}):(?P<ts>[A-Za-z0-9_-]{1,24})"
    r"|(?P<kind>[gk]):(?P<q>\d{1,12})"
    r"|u:(?P<uq>\d{1,12}):(?P<us>t:[A-Za-z0-9_-]{1,24}|g|k)"
    r"|m:(?P<offset>\d{1,6})"
    r"|o:(?P<oq>\d{1,12}):(?P<oo>\d{1,6}))"
    r"(?:@(?P<lang>id|en))?"
)

UI_TEXTS = UiTexts(
    "responses/ui/inbox.yaml",
    {
        "inbox_empty": frozenset(),
        "inbox_private_texts": frozenset(),
        "inbox_leads_only": frozenset(),
        "inbox_item": frozenset({"question", "when", "why"}),
        "inbox_why_unanswered": frozenset(),
        "inbox_why_thumbs_down": frozenset({"title"}),
        "inbox_chat": frozenset({"chat"}),
        "inbox_this_chat": frozenset(),
        "inbox_page": frozenset({"first", "last", "total"}),
        "inbox_button_story": frozenset({"title"}),
        "inbox_button_gap": frozenset(),
        "inbox_button_skip": frozenset(),
        "inbox_button_more": frozenset(),
        "inbox_button_back": frozenset(),
        "inbox_button_others": frozenset(),
        "inbox_others": frozenset({"question", "first", "last", "total"}),
        "inbox_button_undo": frozenset(),
        "inbox_button_open": frozenset(),
        "inbox_taught": frozenset({"question", "title"}),
        "inbox_taught_again": frozenset({"question", "title"}),
        "inbox_asker_told": frozenset(),
        "inbox_asker_had": frozenset({"title"}),
        "inbox_gap": frozenset({"question"}),
        "inbox_skipped": frozenset({"question"}),
        "inbox_undone_open": frozenset({"question"}),
        "inbox_undone_to": frozenset({"question", "state"}),
        "inbox_state_gap": frozenset(),
        "inbox_state_skip": frozenset(),
        "inbox_stale": frozenset(),
        "inbox_missing": frozenset(),
        "inbox_not_yours": frozenset(),
        "inbox_story_gone": frozenset(),
        "inbox_too_long": frozenset({"limit"}),
        "inbox_no_words": frozenset(),
        "inbox_limit": frozenset({"limit"}),
        "inbox_heard_back": frozenset({"question"}),
        "inbox_heard_back_many": frozenset({"count"}),
        "inbox_heard_back_line": frozenset({"question", "title"}),
        "inbox_scope_group": frozenset(),
        "inbox_scope_all": frozenset(),
        "inbox_decided_bot_wide": frozenset(),
        "inbox_merged": frozenset(),
        "inbox_notice_elsewhere": frozenset({"chat"}),
    },
    plain=frozenset(
        {
            "inbox_button_story",
            "inbox_button_gap",
            "inbox_button_skip",
            "inbox_button_more",
            "inbox_button_back",
            "inbox_button_others",
            "inbox_button_undo",
            "inbox_button_open",
            "inbox_state_gap",
            "inbox_state_skip",
        }
    ),
)


@dataclass(frozen=True)
class Press:
    """A decoded inbox button."""

    action: str  # teach | gap | skip | undo | page | others
    question_id: int = 0
    story_id: str | None = None
    state: str | None = None  # undo: the decision it undoes (a `state_of` string)
    offset: int = 0
    lang: str | None = None


def parse(data: str) -> Press | None:
    """The inbox button `data` stands for; None for anything else (forged, or another's)."""
    found = _DATA.fullmatch(data)
    if found is None:
        return None
    lang = found["lang"]
    if found["tq"]:
        return Press("teach", int(found["tq"]), story_id=found["ts"], lang=lang)
    if found["kind"]:
        action = "gap" if found["kind"] == "g" else "skip"
        return Press(action, int(found["q"]), lang=lang)
    if found["uq"]:
        code = found["us"]
        state = state_of(TAUGHT, code[2:]) if code.startswith("t:") else _CODES[code]
        return Press("undo", int(found["uq"]), state=state, lang=lang)
    if found["oq"]:
        return Press("others", int(found["oq"]), offset=int(found["oo"]), lang=lang)
    return Press("page", offset=int(found["offset"]), lang=lang)


_CODES = {"g": GAP, "k": SKIP}


def _undo_code(state: str) -> str:
    decision, story_id = parse_state(state)
    return f"t:{story_id}" if decision == TAUGHT else {GAP: "g", SKIP: "k"}[decision]


def _unwanted(question: Question) -> str | None:
    """The story a 👎 said does not fit, never offered again. An answered question waits
    only after a 👎 (a press reads the question without the vote, so `answered` says it)."""
    return question.story_id if question.thumbs_down or question.answered else None


class Inbox:
    """The inbox of one environment (the bot's, or the terminal's)."""

    def __init__(self, env: Env) -> None:
        if env.store is None:
            raise ValueError("the inbox needs a store")
        self.env = env
        self.store: Store = env.store
        self.kb = env.kb
        self.matcher: Matcher = env.replies.matcher

    def _t(self, key: str, lang: str, **values: object) -> str:
        return self.kb.text(key, lang, **values)

    def _button(self, key: str, lang: str, action: str, **values: object) -> Button:
        return Button(self._t(key, lang, **values), callback_data(f"ib:{action}", lang))

    def _say(self, key: str, lang: str, *rows: tuple[Button, ...], **values: object) -> Outcome:
        return Outcome(replies=(Reply(self._t(key, lang, **values), tuple(rows)),))

    @staticmethod
    def _bot_wide(req: Request) -> bool:
        """A lead listed in TEAM_LEAD_IDS (or the terminal user) in their private chat: the
        one place where other chats' questions are shown and teaching applies everywhere."""
        return req.bot_wide_lead and req.private

    def _scope(self, req: Request) -> int | None:
        """Whose questions this lead may see and where their decisions apply: every chat
        (None) for TEAM_LEAD_IDS in their private chat, else only the chat they are in."""
        return None if self._bot_wide(req) else req.chat_id

    def refusal(self, req: Request) -> Outcome | None:
        """Why this request gets no inbox, or None. A private chat is nobody's team: there
        only TEAM_LEAD_IDS may teach, because a taught phrasing changes every chat's answers."""
        if req.private and not req.bot_wide_lead:
            return self._say("inbox_leads_only", req.lang)
        if not self.env.settings.log_questions:
            return self._say("inbox_private_texts", req.lang)
        return None

    # -- the list -------------------------------------------------------------------------

    def show(self, req: Request, offset: int = 0) -> Outcome:
        """One page: a message per waiting question, then where we are, "back" and "more"."""
        refused = self.refusal(req)
        if refused is not None:
            return refused
        lang = req.lang
        waiting, total = self.store.inbox(chat_id=self._scope(req), limit=PAGE, offset=offset)
        if not waiting:
            if offset and total:  # paged past the end (questions were decided meanwhile)
                return self.show(req, 0)
            return self._say("inbox_empty", lang)
        replies = [
            self._item(question, lang, show_chat=self._bot_wide(req), chat_id=req.chat_id)
            for question in waiting
        ]
        last = offset + len(waiting)
        paging = []
        if offset:
            paging.append(self._button("inbox_button_back", lang, f"m:{max(0, offset - PAGE)}"))
        if last < total:
            paging.append(self._button("inbox_button_more", lang, f"m:{last}"))
        rows = [tuple(paging)] if paging else []
        page = self._t("inbox_page", lang, first=offset + 1, last=last, total=total)
        replies.append(Reply(page, tuple(rows)))
        log.info(
            "inbox shown chat_id=%s update_id=%s offset=%s total=%s",
            req.chat_id,
            req.update_id,
            offset,
            total,
        )
        return Outcome(replies=tuple(replies))

    def _item(self, question: Question, lang: str, *, show_chat: bool, chat_id: int) -> Reply:
        """One waiting question with its choices; a bot-wide lead is told which chat asked
        ("this chat" for the one they are in)."""
        if question.thumbs_down and question.story_id:
            story = self.kb.by_id(question.story_id)
            title = story.title.get(lang) if story else question.story_id
            why = self._t(
                "inbox_why_thumbs_down", lang, title=escape(shorten_title(title, TITLE_CHARS))
            )
        else:
            why = self._t("inbox_why_unanswered", lang)
        if show_chat:
            chat = (
                self._t("inbox_this_chat", lang)
                if question.chat_id == chat_id
                else self._t("inbox_chat", lang, chat=question.chat_id)
            )
            why = f"{why} · {chat}"
        text = self._t(
            "inbox_item",
            lang,
            question=escape(shorten(question.text, QUESTION_CHARS)),
            when=escape(self._when(question, lang)),
            why=why,
        )
        rows = [(self._teach_button(question, story, lang),) for story in self._choices(question)]
        if len(self.kb.stories) > STORY_CHOICES:
            rows.append((self._button("inbox_button_others", lang, f"o:{question.id}:0"),))
        rows.append(
            (
                self._button("inbox_button_gap", lang, f"g:{question.id}"),
                self._button("inbox_button_skip", lang, f"k:{question.id}"),
            )
        )
        return Reply(text, tuple(rows))

    def _teach_button(self, question: Question, story: Story, lang: str) -> Button:
        return self._button(
            "inbox_button_story",
            lang,
            f"t:{question.id}:{story.id}",
            title=shorten_title(story.title.get(lang), TITLE_CHARS),
        )

    def _choices(self, question: Question, count: int = STORY_CHOICES) -> list[Story]:
        """The first `count` stories to offer for a question: the best-ranked, without the
        one a 👎 said did not fit, filled up in the base's order when the words point to
        fewer (a question of words no story uses still gets stories to pick from)."""
        unwanted = _unwanted(question)
        ranked = [
            m.story for m in self.matcher.rank(question.text, count + 1, chat_id=question.chat_id)
        ]
        chosen = [a for a in ranked if a.id != unwanted][:count]
        for story in self.kb.stories:
            if len(chosen) >= count:
                break
            if story.id != unwanted and story not in chosen:
                chosen.append(story)
        return chosen

    def _others(self, question: Question, offset: int, lang: str) -> Outcome:
        """A page of the stories after the first three, in the same order of fit: the lead
        who knows the story that fits finds it even when the words pointed elsewhere. The
        story a 👎 said did not fit comes last: the lead may judge the 👎 mistaken."""
        total = len(self.kb.stories) - STORY_CHOICES
        if total <= 0:
            return self._say("inbox_stale", lang)
        offset = min(offset, (total - 1) // OTHERS_PAGE * OTHERS_PAGE)
        end = STORY_CHOICES + offset + OTHERS_PAGE
        unwanted = self.kb.by_id(_unwanted(question) or "")
        fitting = len(self.kb.stories) - (1 if unwanted else 0)
        order = self._choices(question, min(end, fitting))
        if unwanted is not None and end > fitting:
            order.append(unwanted)
        page = order[STORY_CHOICES + offset : end]
        rows: list[tuple[Button, ...]] = [
            (self._teach_button(question, story, lang),) for story in page
        ]
        paging = []
        if offset:
            back = max(0, offset - OTHERS_PAGE)
            paging.append(self._button("inbox_button_back", lang, f"o:{question.id}:{back}"))
        if offset + len(page) < total:
            more = offset + OTHERS_PAGE
            paging.append(self._button("inbox_button_more", lang, f"o:{question.id}:{more}"))
        if paging:
            rows.append(tuple(paging))
        rows.append(
            (
                self._button("inbox_button_gap", lang, f"g:{question.id}"),
                self._button("inbox_button_skip", lang, f"k:{question.id}"),
            )
        )
        text = self._t(
            "inbox_others",
            lang,
            question=escape(shorten(question.text, NOTICE_CHARS)),
            first=STORY_CHOICES + offset + 1,
            last=STORY_CHOICES + offset + len(page),
            total=STORY_CHOICES + total,
        )
        return Outcome(replies=(Reply(text, tuple(rows)),))

    def _when(self, question: Question, lang: str) -> str:
        """When it was asked, in the asking chat's time zone (as /daily shows times)."""
        zone_name = when.zone_name(self.store, question.chat_id, self.env.settings.timezone)
        return when.when_text(self.kb, question.asked_at, zone_name, lang)

    # -- the buttons ----------------------------------------------------------------------

    def on_button(self, req: Request, data: str) -> Outcome:
        """What a pressed inbox button does. The transport has checked that the presser is
        a team lead where the button sits; here every press is checked again against what
        this lead may decide (a forged question id of another chat changes nothing)."""
        press = parse(data)
        lang = (press.lang if press else None) or req.lang
        req_lang = replace(req, lang=lang)
        if press is None:
            return Outcome(replies=(self.env.replies.button_expired(lang),))
        refused = self.refusal(req_lang)
        if refused is not None:
            return refused
        if press.action == "page":
            return self.show(req_lang, press.offset)
        question = self.store.question(press.question_id)
        if question is None:
            return self._say("inbox_missing", lang)
        scope = self._scope(req)
        if scope is not None and question.chat_id != scope:
            log.warning(
                "inbox press refused (question of another chat) chat_id=%s user_id=%s "
                "question=%s update_id=%s",
                req.chat_id,
                req.user_id,
                question.id,
                req.update_id,
            )
            return self._say("inbox_not_yours", lang)
        if press.action == "teach":
            return self._teach(req, question, press.story_id or "", lang)
        if press.action == "undo":
            return self._undo(req, question, press.state or "", lang)
        if press.action == "others":
            return self._others(question, press.offset, lang)
        return self._set_aside(req, question, GAP if press.action == "gap" else SKIP, lang)

    def _teach(self, req: Request, question: Question, story_id: str, lang: str) -> Outcome:
        story = self.kb.by_id(story_id)
        if story is None:
            return self._say("inbox_story_gone", lang)
        if len(question.text) > MAX_TEACH_CHARS:
            return self._say("inbox_too_long", lang, limit=MAX_TEACH_CHARS)
        scope = self._scope(req)
        phrasing = self.matcher.phrasing(story.id, question.text, scope=scope)
        if phrasing is None:  # only stopwords or symbols: nothing a later question could match
            return self._say("inbox_no_words", lang)
        change = self.store.decide(
            question.id,
            TAUGHT,
            story_id=story.id,
            by=req.user_id,
            decided_in=req.chat_id,
            daily_limit=DAILY_TEACH_LIMIT,
            scope=scope,
        )
        refused = self._refused_change(change, lang)
        if refused is not None:
            return refused
        assert change.decision is not None
        # Re-pointed (or taught again after an undo) before the hear-back left: it tells
        # this story now, and is owed again if the undo had cancelled it.
        owed = change.notify or self.store.repoint_hearback(question.id, story.id)
        order = change.decision.decided_at.timestamp()
        self.matcher.taught.put(question.id, replace(phrasing, order=order))
        log.info(
            "question taught chat_id=%s user_id=%s question=%s story=%s update_id=%s",
            req.chat_id,
            req.user_id,
            question.id,
            story.id,
            req.update_id,
        )
        quoted = escape(shorten(question.text, NOTICE_CHARS))
        title = escape(story.title.get(lang))
        key = "inbox_taught_again" if change.outcome == "unchanged" else "inbox_taught"
        text = self._t(key, lang, question=quoted, title=title)
        text += "\n" + self._t("inbox_scope_all" if scope is None else "inbox_scope_group", lang)
        if owed:
            text += "\n" + self._t("inbox_asker_told", lang)
        else:
            earlier = self.store.hearback_of(question.id)
            if earlier is not None and earlier.state == "sent" and earlier.story_id != story.id:
                # one message per question: the lead should know the asker keeps the first
                told = self.kb.by_id(earlier.story_id)
                told_title = told.title.get(lang) if told else earlier.story_id
                text += "\n" + self._t("inbox_asker_had", lang, title=escape(told_title))
        rows = self._undo_rows(question, change, lang)
        notices = self._notices(question, story.id) if owed else ()
        return Outcome(replies=(Reply(text, rows),), notices=notices)

    def _set_aside(self, req: Request, question: Question, decision: str, lang: str) -> Outcome:
        change = self.store.decide(
            question.id,
            decision,
            by=req.user_id,
            decided_in=req.chat_id,
            daily_limit=DAILY_TEACH_LIMIT,
            scope=self._scope(req),
        )
        refused = self._refused_change(change, lang)
        if refused is not None:
            return refused
        self.matcher.forget(question.id)  # it may have been taught before
        self.store.repoint_hearback(question.id, None)  # and its hear-back not sent yet
        log.info(
            "question set aside chat_id=%s user_id=%s question=%s decision=%s update_id=%s",
            req.chat_id,
            req.user_id,
            question.id,
            decision,
            req.update_id,
        )
        key = "inbox_gap" if decision == GAP else "inbox_skipped"
        text = self._t(key, lang, question=escape(shorten(question.text, NOTICE_CHARS)))
        return Outcome(replies=(Reply(text, self._undo_rows(question, change, lang)),))

    def _refused_change(self, change: Change, lang: str) -> Outcome | None:
        """What the lead is told when the store did not change the decision, or None."""
        if change.outcome == "missing":
            return self._say("inbox_missing", lang)
        if change.outcome == "limit":
            return self._say("inbox_limit", lang, limit=DAILY_TEACH_LIMIT)
        if change.outcome == "bot_wide":
            return self._say("inbox_decided_bot_wide", lang)
        if change.outcome == "merged":
            return self._say("inbox_merged", lang)
        return None

    def _undo_rows(
        self, question: Question, change: Change, lang: str
    ) -> tuple[tuple[Button, ...], ...]:
        if change.decision is None or change.decision.previous is None:
            return ()
        code = _undo_code(change.decision.state)
        return ((self._button("inbox_button_undo", lang, f"u:{question.id}:{code}"),),)

    def _undo(self, req: Request, question: Question, state: str, lang: str) -> Outcome:
        change = self.store.undo(
            question.id,
            state,
            by=req.user_id,
            decided_in=req.chat_id,
            daily_limit=DAILY_TEACH_LIMIT,
            scope=self._scope(req),
        )
        if change.outcome in ("limit", "bot_wide"):
            refused = self._refused_change(change, lang)
            assert refused is not None
            return refused
        if change.outcome != "changed" or change.decision is None:
            return self._say("inbox_stale", lang)
        restored = change.decision
        if restored.decision == TAUGHT and restored.story_id:
            if not self.matcher.teach(
                question.id,
                restored.story_id,
                question.text,
                scope=restored.scope,
                order=restored.decided_at.timestamp(),
            ):
                log.warning(
                    "undo restored a phrasing of a story no longer in the base question=%s "
                    "story=%s",
                    question.id,
                    restored.story_id,
                )
        else:
            self.matcher.forget(question.id)
        # A hear-back not sent yet follows: the story restored, or none.
        taught = restored.story_id if restored.decision == TAUGHT else None
        self.store.repoint_hearback(question.id, taught)
        log.info(
            "inbox undo chat_id=%s user_id=%s question=%s now=%s update_id=%s",
            req.chat_id,
            req.user_id,
            question.id,
            restored.state,
            req.update_id,
        )
        quoted = escape(shorten(question.text, NOTICE_CHARS))
        if restored.decision == OPEN:
            return self._say("inbox_undone_open", lang, question=quoted)
        return self._say(
            "inbox_undone_to", lang, question=quoted, state=escape(self._state_text(restored, lang))
        )

    def _state_text(self, decision: Decision, lang: str) -> str:
        if decision.decision == TAUGHT and decision.story_id:
            story = self.kb.by_id(decision.story_id)
            return story.title.get(lang) if story else decision.story_id
        return self._t("inbox_state_gap" if decision.decision == GAP else "inbox_state_skip", lang)

    # -- the asker hears back ---------------------------------------------------------------

    def _notices(self, question: Question, story_id: str) -> tuple[Notice, ...]:
        """The asker's "earlier you asked" with the story, in one message, once per question.
        The store owes it in the hear-back outbox (sent by `bot.leads.hearback`, which the
        notice wakes); the terminal, which has no outbox runner, prints it."""
        owed = Hearback(
            id=0,
            question_id=question.id,
            chat_id=question.chat_id,
            story_id=story_id,
            text=question.text,
            lang=question.lang,
            state="pending",
        )
        return (Notice(question.chat_id, (compose(self.env.replies, [owed]),), question.id),)


def inbox(env: Env, req: Request) -> Outcome:
    """/inbox: the command table's builder."""
    return Inbox(env).show(req)


def on_button(env: Env, req: Request, data: str) -> Outcome:
    return Inbox(env).on_button(req, data)


def stats_button(env: Env, lang: str) -> Button:
    """The "inbox" button under /stats (a page of the inbox, checked like every press)."""
    return Button(env.kb.text("inbox_button_open", lang), callback_data("ib:m:0", lang))
