"""What Kisah says: text and buttons for every situation, with no transport attached.

The Telegram handlers, the terminal chat, the CLI and the tests all call this module, so the bot
and the console give exactly the same answers. A reply is Telegram HTML (the richest format we
send); the console renders it to plain text. Every piece of content (story text, titles, the
user's own question) is escaped here, in one place, so neither a user nor a YAML author can
break the markup; the templates themselves come from `responses/ui/*.yaml` and are checked once
at start-up so a broken template fails `python -m bot check`, not a conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.chat.callbacks import (
    MAX_CALLBACK_BYTES,
    callback_data,
    full_story_action,
    lesson_in_order_action,
    next_lesson_action,
    parse_callback,
)
from bot.chat.markup import (
    MAX_MESSAGE,
    escape,
    escape_within,
    message_length,
    pack_paragraphs,
    shorten,
)
from bot.chat.uitexts import UiTexts, check_texts
from bot.content.model import KnowledgeBase, KnowledgeError, Story
from bot.content.seedtext import load_seed_text
from bot.engine.smalltalk import KINDS as SMALL_TALK_KINDS

if TYPE_CHECKING:
    from bot.engine.matcher import Answer, Match, Matcher

log = logging.getLogger(__name__)

# The echoed question in the "no story" reply is only a reminder; a pasted essay must not
# push the reply over the limit.
MAX_ECHOED_QUESTION = 120
# A keyboard with hundreds of buttons is unusable on a phone (and Telegram caps it).
MAX_TOPIC_BUTTONS = 30
MIN_STORY_WORD = 4  # letters a word needs to name a story for /story ("wayang", not "a")
# Caps on single content fields (escaped length), so that no YAML field, however long, can
# push a reply over Telegram's limit.
MAX_TITLE = 300
MAX_FIELD = 3000
# The subject of giving gifts (normalize.yaml `subjects`): a story offered after the legal
# reply, as a way to win someone over without gifts, opens on a lesson not about one.
GIFTS = "gifts"
# A question of the law naming a private company and no official or state institution is
# about a private buyer: the company's rule comes first (normalize.yaml `subjects`).
OFFICIALS = "officials"
PRIVATE = "private companies"


_CHAT_TEXTS: dict[str, frozenset[str]] = {
    "start": frozenset(),
    "help": frozenset(),
    "story": frozenset({"title", "story", "lesson"}),
    "did_you_mean": frozenset(),
    "lesson": frozenset({"number", "total", "title", "lesson"}),
    "out_of_scope": frozenset({"question"}),
    "maybe": frozenset({"title"}),
    "caution": frozenset({"caution"}),
    "legal": frozenset(),
    "legal_private": frozenset(),
    "legal_maybe": frozenset({"title"}),
    "full_retelling": frozenset({"title", "story"}),
    **{f"smalltalk_{kind}": frozenset() for kind in SMALL_TALK_KINDS},
    "button_show_story": frozenset(),
    "topics": frozenset({"count", "list"}),
    "topic_line": frozenset({"title", "id"}),
    "full_story_header": frozenset({"title", "part", "parts"}),
    "tip": frozenset({"tip", "title"}),
    "feedback_thanks_positive": frozenset(),
    "feedback_thanks_negative": frozenset(),
    "other_stories": frozenset(),
    "story_not_found": frozenset({"id"}),
    "ask_usage": frozenset(),
    "story_usage": frozenset(),
    "lang_usage": frozenset(),
    "lang_set": frozenset(),
    "unknown_command": frozenset(),
    "non_text": frozenset(),
    "error": frozenset(),
    "button_expired": frozenset(),
    "button_full_story": frozenset(),
    "button_another_lesson": frozenset(),
    "button_first_lesson": frozenset(),
    "button_helpful": frozenset(),
    "button_not_helpful": frozenset(),
    "button_did_you_mean": frozenset({"title"}),
    "button_topic": frozenset({"title"}),
    "button_read_story": frozenset(),
    "button_topics": frozenset(),
    "console_welcome": frozenset(),
    "console_choices": frozenset(),
    "console_bad_choice": frozenset({"number"}),
    "console_bye": frozenset(),
}
# Every UI text this module (and the console) uses. Texts shown on buttons are plain text
# (Telegram does not parse markup there).
UI_TEXTS = UiTexts(
    "responses/ui/chat.yaml",
    _CHAT_TEXTS,
    plain=frozenset(key for key in _CHAT_TEXTS if key.startswith("button_")),
)


@dataclass(frozen=True)
class Button:
    """An inline button; `data` is callback data, at most 64 bytes of ASCII."""

    text: str
    data: str

    def __post_init__(self) -> None:
        if len(self.data.encode("utf-8")) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {self.data!r}")


@dataclass(frozen=True)
class Reply:
    """One message: Telegram HTML text (content escaped, <= 4096 chars) and button rows."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()

    def __post_init__(self) -> None:
        if message_length(self.text) > MAX_MESSAGE:
            raise ValueError(f"reply over {MAX_MESSAGE} characters ({message_length(self.text)})")


class Replies:
    """Builds every reply from the knowledge base and the matcher; holds no per-chat state."""

    def __init__(self, kb: KnowledgeBase, matcher: Matcher, default_lang: str = "id") -> None:
        problems = check_texts(kb, UI_TEXTS)
        if problems:
            raise KnowledgeError(problems)
        self.kb = kb
        self.matcher = matcher
        self.default_lang = default_lang
        # Cleaned seeds, read on first use: the seeds do not change while the bot runs.
        self._seed_texts: dict[str, str] = {}

    # -- helpers ---------------------------------------------------------------------------

    def _t(self, key: str, lang: str, **values: object) -> str:
        return self.kb.text(key, lang, **values)

    def _button(self, key: str, lang: str, action: str, **values: object) -> Button:
        """A button labelled with UI text `key` whose press is answered in `lang`."""
        return Button(self._t(key, lang, **values), callback_data(action, lang))

    def _topic_rows(self, lang: str, but: str = "") -> tuple[tuple[Button, ...], ...]:
        """Every story as a button (the first `MAX_TOPIC_BUTTONS`), but the one with id `but`."""
        stories = [a for a in self.kb.stories if a.id != but][:MAX_TOPIC_BUTTONS]
        return tuple(
            (self._button("button_topic", lang, f"s:{a.id}", title=a.title.get(lang)),)
            for a in stories
        )

    def _story_text(
        self,
        story: Story,
        lang: str,
        extra: str = "",
        lesson_index: int = 0,
        subjects: frozenset[str] | None = None,
    ) -> str:
        """The first message: the lesson that fits the question, then the story in two or
        three sentences (its `summary`), then its caution in one line where it applies.

        A caution with `applies_to` is shown only when the question touches one of those
        subjects (`subjects`; None when there is no question: a story opened by button shows
        it); the full-story view always shows it whole. The story is shortened only if the
        message would overflow (long YAML content must never make Telegram reject it)."""
        title = escape_within(story.title.get(lang), MAX_TITLE)
        lesson = ""
        if story.lessons:
            chosen = story.lessons[lesson_index % len(story.lessons)]
            lesson = escape_within(chosen.get(lang), MAX_FIELD)
        notes = []
        if story.caution is not None and _caution_applies(story, subjects):
            short = story.caution_short or story.caution
            caution = escape_within(short.get(lang), MAX_FIELD // 3)
            notes.append(self._t("caution", lang, caution=caution))
        if extra:
            notes.append(extra)
        suffix = "".join(f"\n\n{note}" for note in notes)

        def render(retelling: str) -> str:
            return self._t("story", lang, title=title, story=retelling, lesson=lesson) + suffix

        short_retelling = story.summary or story.story
        room = MAX_MESSAGE - message_length(render(""))
        return render(escape_within(short_retelling.get(lang), max(1, room)))

    def _story_buttons(
        self, story: Story, lang: str, lesson_index: int = 0, order: Sequence[int] = ()
    ) -> list[tuple[Button, ...]]:
        first = [
            self._button("button_full_story", lang, full_story_action(story, lesson_index, order))
        ]
        if len(story.lessons) > 1:
            action = next_lesson_action(story, lesson_index, order)
            first.append(self._button("button_another_lesson", lang, action))
        return [tuple(first), self._feedback_row(story, lang)]

    def _feedback_row(self, story: Story, lang: str) -> tuple[Button, ...]:
        return (
            self._button("button_helpful", lang, f"fb:{story.id}:1"),
            self._button("button_not_helpful", lang, f"fb:{story.id}:0"),
        )

    def _story(self, story_id: str) -> Story | None:
        # "/story Wayang-Bima " typed by hand should still find "wayang-bima", and "/story 001"
        # the one story of post 001 (the number authors and the eval labels use).
        typed = story_id.strip().lower()
        found = self.kb.by_id(story_id) or self.kb.by_id(typed)
        if found is None and typed.isdigit():
            numbered = [story for story in self.kb.stories if story.seed_prefix == typed]
            found = numbered[0] if len(numbered) == 1 else None
        if found is None and len(typed) >= MIN_STORY_WORD:
            # "/story wayang", "/story cinlok": the one story whose id or title has the word
            named = [
                story
                for story in self.kb.stories
                if typed in story.id
                or any(typed in title.lower() for title in (story.title.id, story.title.en))
            ]
            found = named[0] if len(named) == 1 else None
        return found

    def _seed_text(self, story: Story) -> str:
        seed_text = self._seed_texts.get(story.id)
        if seed_text is None:
            seed_text = self._seed_texts[story.id] = load_seed_text(self.kb, story)
        return seed_text

    # -- answers ---------------------------------------------------------------------------

    def answer(
        self,
        question: str,
        lang: str | None = None,
        *,
        default_lang: str | None = None,
        chat_id: int | None = None,
    ) -> tuple[Answer, Reply]:
        """Match a question and say the best story, or honestly that there is none.

        `lang` forces the reply language; by default it follows the question, and when the
        question gives no clue, `default_lang` (e.g. the chat's /lang choice) or the bot's.
        `chat_id`: the chat asking (its team leads' taught phrasings apply there only).
        """
        reply_lang = lang or self.matcher.language(question, default_lang or self.default_lang)
        answer = self.matcher.ask(question, lang=reply_lang, chat_id=chat_id)
        reply_lang = answer.lang
        best = answer.best
        if not question.strip():
            return answer, self.ask_usage(reply_lang)
        if answer.small_talk is not None:
            return answer, self.small_talk(answer.small_talk, reply_lang)
        if best is None and answer.legal is not None:
            private = PRIVATE in answer.subjects and OFFICIALS not in answer.subjects
            return answer, self.legal(reply_lang, answer.maybe, private=private)
        if best is None and answer.maybe is not None:
            return answer, self.maybe(answer.maybe.story, reply_lang, answer.maybe.lesson)
        if best is None:
            log.debug("no story for question (lang=%s)", reply_lang)
            return answer, self.out_of_scope(question, reply_lang)
        others = [m.story for m in answer.matches[1:] if m.story.id != best.story.id]
        extra = self._t("did_you_mean", reply_lang) if others else ""
        rows = self._story_buttons(best.story, reply_lang, best.lesson, best.lessons)
        rows.extend(
            (
                self._button(
                    "button_did_you_mean",
                    reply_lang,
                    f"s:{other.id}",
                    title=other.title.get(reply_lang),
                ),
            )
            for other in others
        )
        text = self._story_text(best.story, reply_lang, extra, best.lesson, answer.subjects)
        return answer, Reply(text, tuple(rows))

    def legal(self, lang: str, maybe: Match | None = None, *, private: bool = False) -> Reply:
        """A question of the law (a bribe, a kickback, a gift to an official): what the law
        says, in a few calm lines, and no legal advice; a story that may still help (how to
        win an official over without gifts) is offered after it, never told. `private`: no
        official is named (a private buyer's cut), so the company's rule comes first."""
        text = self._t("legal_private" if private else "legal", lang)
        rows: list[tuple[Button, ...]] = []
        if maybe is not None:
            title = escape_within(maybe.story.title.get(lang), MAX_TITLE)
            text += "\n\n" + self._t("legal_maybe", lang, title=title)
            action = f"s:{maybe.story.id}:{self._lesson_without_gifts(maybe, lang)}"
            rows.append((self._button("button_show_story", lang, action),))
        return Reply(text, tuple(rows))

    def _lesson_without_gifts(self, match: Match, lang: str) -> int:
        """The lesson to open a story offered after the legal reply with: it is offered as a
        way to win someone over without gifts, so the best-fitting lesson that is not about
        giving one (`gifts` in normalize.yaml `subjects`); the best-fitting one if all are."""
        for number in match.lessons or (match.lesson,):
            lesson = match.story.lessons[number].get(lang)
            if GIFTS not in self.matcher.subjects(lesson, lang):
                return number
        return match.lesson

    def maybe(self, story: Story, lang: str, lesson: int = 0) -> Reply:
        """Plausible but unsure: name the story and let the user decide, instead of telling a
        story that may be wrong or refusing one that may be right."""
        title = escape_within(story.title.get(lang), MAX_TITLE)
        show = self._button("button_show_story", lang, f"s:{story.id}:{lesson}")
        topics = self._button("button_topics", lang, "t")
        return Reply(self._t("maybe", lang, title=title), ((show,), (topics,)))

    def small_talk(self, kind: str, lang: str) -> Reply:
        """A short friendly line with an example question; an unknown kind greets."""
        key = f"smalltalk_{kind}"
        return Reply(self._t(key if key in self.kb.ui else "smalltalk_greeting", lang))

    def out_of_scope(self, question: str, lang: str) -> Reply:
        """No confident story: say so and offer every topic instead of guessing."""
        echoed = escape(shorten(question, MAX_ECHOED_QUESTION))
        return Reply(self._t("out_of_scope", lang, question=echoed), self._topic_rows(lang))

    def story(
        self,
        story_id: str,
        lang: str,
        lesson: int = 0,
        subjects: frozenset[str] | None = None,
    ) -> Reply:
        """One story by id (from /story, a topic button, a "did you mean" or "maybe" button),
        with lesson `lesson` first (the one that fitted the question, for "maybe"). With the
        `subjects` of a question it answers (a hear-back), its caution shows only where it
        applies, as in the answer; without, it shows."""
        story = self._story(story_id)
        if story is None:
            return self.story_not_found(story_id, lang)
        rows = self._story_buttons(story, lang, lesson)
        text = self._story_text(story, lang, lesson_index=lesson, subjects=subjects)
        return Reply(text, tuple(rows))

    def story_not_found(self, story_id: str, lang: str) -> Reply:
        shown = escape(shorten(story_id, 40))
        return Reply(self._t("story_not_found", lang, id=shown), self._topic_rows(lang))

    def full_story(
        self, story_id: str, lang: str, following: int = 0, order: Sequence[int] = ()
    ) -> list[Reply]:
        """The seed, cleaned of blog debris, split on paragraphs to fit messages. "Another
        lesson" under it shows lesson `following`, going on in `order` (the lessons by fit for
        the question) when given: the one after the lesson the reader saw last."""
        story = self._story(story_id)
        if story is None:
            return [self.story_not_found(story_id, lang)]
        title = escape_within(story.title.get(lang), MAX_TITLE)
        retelling = self._full_retelling(story, lang, title)
        # Reserve room for the longest header this seed could get (part numbers grow).
        widest = self._t("full_story_header", lang, title=title, part=999, parts=999)
        body = pack_paragraphs(self._seed_text(story), MAX_MESSAGE - message_length(widest) - 2)
        if not body:
            body = [escape_within(story.story.get(lang), MAX_FIELD)]
        replies: list[Reply] = [retelling]
        for part, chunk in enumerate(body, start=1):
            header = self._t("full_story_header", lang, title=title, part=part, parts=len(body))
            replies.append(Reply(f"{header}\n\n{chunk}"))
        last_buttons: list[Button] = []
        if story.lessons:
            action = lesson_in_order_action(story, following, order)
            last_buttons.append(self._button("button_another_lesson", lang, action))
        last_buttons.append(self._button("button_topics", lang, "t"))
        replies[-1] = Reply(replies[-1].text, (tuple(last_buttons),))
        return replies

    def _full_retelling(self, story: Story, lang: str, title: str) -> Reply:
        """The complete retelling (`story`) with the whole caution, whatever was asked."""
        suffix = ""
        if story.caution is not None:
            caution = escape_within(story.caution.get(lang), MAX_FIELD // 3)
            suffix = "\n\n" + self._t("caution", lang, caution=caution)
        empty = self._t("full_retelling", lang, title=title, story="") + suffix
        room = max(1, MAX_MESSAGE - message_length(empty))
        retelling = escape_within(story.story.get(lang), room)
        return Reply(self._t("full_retelling", lang, title=title, story=retelling) + suffix)

    def lesson(self, story_id: str, index: int, lang: str, order: Sequence[int] = ()) -> Reply:
        """Lesson `index` of a story (wrapping around), with a button to the next one: next
        in `order` (the lessons by fit for the question) when given, else the next number."""
        story = self._story(story_id)
        if story is None or not story.lessons:
            return self.story_not_found(story_id, lang)
        total = len(story.lessons)
        index %= total
        valid = len(order) == total and sorted(order) == list(range(total))
        position = (order.index(index) if valid else index) + 1  # in reading order
        text = self._t(
            "lesson",
            lang,
            number=position,
            total=total,
            title=escape_within(story.title.get(lang), MAX_TITLE),
            lesson=escape_within(story.lessons[index].get(lang), MAX_FIELD),
        )
        # The answer's order (full story, then another lesson): pressing the same place
        # twice goes on to the next lesson instead of opening the story.
        row = [self._button("button_full_story", lang, full_story_action(story, index, order))]
        if total > 1:
            following = next_lesson_action(story, index, order)
            # After the last, the button goes back to the first: it says so.
            label = "button_first_lesson" if position == total else "button_another_lesson"
            row.append(self._button(label, lang, following))
        return Reply(text, (tuple(row), self._feedback_row(story, lang)))

    def tip(self, tip_key: str, lang: str) -> Reply:
        """A tip from the deck ("<story id>:<index>") with a button to its story.

        Raises KeyError for a key that is not in the deck (e.g. a tip removed from the YAML
        after it was scheduled), so the caller can skip it instead of sending an error.
        """
        story_id, _, raw_index = tip_key.rpartition(":")
        story = self._story(story_id)
        if story is None or not raw_index.isdigit() or int(raw_index) >= len(story.tips):
            raise KeyError(tip_key)
        text = self._t(
            "tip",
            lang,
            tip=escape_within(story.tips[int(raw_index)].get(lang), MAX_FIELD),
            title=escape_within(story.title.get(lang), MAX_TITLE),
        )
        button = self._button("button_read_story", lang, f"s:{story.id}")
        return Reply(text, ((button,),))

    def topics(self, lang: str) -> Reply:
        """Every story as a button, and listed with its id for /story."""
        count = len(self.kb.stories)
        room = MAX_MESSAGE - message_length(self._t("topics", lang, count=count, list="…"))
        lines: list[str] = []
        used = 0
        for story in self.kb.stories[:MAX_TOPIC_BUTTONS]:
            line = self._t(
                "topic_line",
                lang,
                title=escape_within(story.title.get(lang), MAX_TITLE),
                id=escape(story.id),
            )
            if used + message_length(line) + 1 > room:
                break
            lines.append(line)
            used += message_length(line) + 1
        if len(lines) < count:
            lines.append("…")
        text = self._t("topics", lang, count=count, list="\n".join(lines))
        return Reply(text, self._topic_rows(lang))

    def on_button(self, data: str, lang: str) -> list[Reply]:
        """The replies to a pressed button, in the language of the message it sits under
        (`lang`, the chat's language, only for buttons that do not say). Feedback is only
        thanked here: the transport records it (see `parse_callback`), because storage is not
        this module's business."""
        callback = parse_callback(data)
        if callback is not None and callback.lang:
            lang = callback.lang
        if callback is None or (callback.kind != "topics" and not callback.story_id):
            return [self.button_expired(lang)]
        story_id = callback.story_id or ""
        if callback.kind == "topics":
            return [self.topics(lang)]
        if self._story(story_id) is None:
            return [self.button_expired(lang)]
        if callback.kind == "story":
            return [self.story(story_id, lang, callback.number or 0)]
        if callback.kind == "full":
            return self.full_story(story_id, lang, callback.number or 0, callback.order)
        if callback.kind == "lesson":
            return [self.lesson(story_id, callback.number or 0, lang, callback.order)]
        positive = callback.number == 1
        thanks = self.feedback_thanks(lang, positive)
        return [thanks] if positive else [thanks, self.other_stories(story_id, lang)]

    # -- fixed texts -----------------------------------------------------------------------

    def start(self, lang: str) -> Reply:
        return Reply(self._t("start", lang), ((self._button("button_topics", lang, "t"),),))

    def help(self, lang: str) -> Reply:
        return Reply(self._t("help", lang))

    def unknown_command(self, lang: str) -> Reply:
        return Reply(self._t("unknown_command", lang))

    def non_text(self, lang: str) -> Reply:
        return Reply(self._t("non_text", lang))

    def error(self, lang: str) -> Reply:
        return Reply(self._t("error", lang))

    def button_expired(self, lang: str) -> Reply:
        return Reply(self._t("button_expired", lang))

    def feedback_thanks(self, lang: str, positive: bool) -> Reply:
        """Thanks for a 👍 or 👎 (a toast on Telegram: a few words, no buttons)."""
        key = "feedback_thanks_positive" if positive else "feedback_thanks_negative"
        return Reply(self._t(key, lang))

    def other_stories(self, story_id: str, lang: str) -> Reply:
        """After a 👎: the other stories to choose from, since the one shown did not help."""
        return Reply(self._t("other_stories", lang), self._topic_rows(lang, story_id))

    def ask_usage(self, lang: str) -> Reply:
        """/ask with nothing after it."""
        return Reply(self._t("ask_usage", lang))

    def story_usage(self, lang: str) -> Reply:
        """/story with no id: the list to pick from."""
        return Reply(self._t("story_usage", lang), self._topic_rows(lang))

    def lang_usage(self, lang: str) -> Reply:
        """/lang with no or an unknown language."""
        return Reply(self._t("lang_usage", lang))

    def lang_set(self, lang: str) -> Reply:
        """Confirmation of /lang, in the newly chosen language."""
        return Reply(self._t("lang_set", lang))


def _caution_applies(story: Story, subjects: frozenset[str] | None) -> bool:
    """Is the caution for this question? Always when it names no subjects, or when there is
    no question (a story opened by button, e.g. offered after the legal reply); else only
    when the question touches one of its subjects."""
    if not story.applies_to or subjects is None:
        return True
    return not subjects.isdisjoint(story.applies_to)


def all_buttons(replies: Iterable[Reply] | Reply) -> list[Button]:
    """Every button of one or more replies, in reading order (the console numbers them so)."""
    items: Sequence[Reply] = [replies] if isinstance(replies, Reply) else list(replies)
    return [button for reply in items for row in reply.buttons for button in row]
