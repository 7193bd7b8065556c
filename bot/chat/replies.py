"""What Kisah says: text and buttons for every situation, with no transport attached.

The Telegram handlers, the terminal chat, the CLI and the tests all call this module, so the bot
and the console give exactly the same answers. A reply is Telegram HTML (the richest format we
send); the console renders it to plain text. Every piece of content (story text, titles, the
user's own question) is escaped here, in one place, so neither a user nor a YAML author can
break the markup; the templates themselves come from `responses/ui/*.yaml` and are checked once
at start-up so a broken template fails `python -m bot check`, not a conversation.
"""

from __future__ import annotations

import html
import logging
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.content.knowledge import LANGUAGES, Anecdote, KnowledgeBase, KnowledgeError
from bot.content.seedtext import load_post

if TYPE_CHECKING:
    from bot.engine.matcher import Answer, Match, Matcher

log = logging.getLogger(__name__)

# Telegram's limits: 4096 characters per message (counted in UTF-16 code units, so an emoji
# counts twice: measuring that way is never too generous) and 64 bytes of callback data.
MAX_MESSAGE = 4096
MAX_CALLBACK_BYTES = 64
# The echoed question in the "no story" reply is only a reminder; a pasted essay must not
# push the reply over the limit.
MAX_ECHOED_QUESTION = 120
# A keyboard with hundreds of buttons is unusable on a phone (and Telegram caps it).
MAX_TOPIC_BUTTONS = 30
# Caps on single content fields (escaped length), so that no YAML field, however long, can
# push a reply over Telegram's limit.
MAX_TITLE = 300
MAX_FIELD = 3000


@dataclass(frozen=True)
class UiTexts:
    """The UI texts one module uses, declared next to the code that uses them.

    Why a declaration instead of a check at the point of use: a missing text or a misspelt
    placeholder must fail `python -m bot check` (and the start-up), not the one conversation
    that happens to need it. Every module that reads UI texts (these replies, the console, the
    Telegram menus and inline mode, the team commands) declares one of these, and
    `check_texts` validates them all the same way.
    """

    file: str  # where the texts live, named in every problem ("responses/ui/team.yaml")
    texts: Mapping[str, frozenset[str]]  # key -> the placeholders the code fills in
    plain: frozenset[str] = field(default_factory=frozenset)  # no markup: buttons, menus
    # Texts that are a list, split on spaces by the code (weekday names): how many words.
    words: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = (self.plain | set(self.words)) - set(self.texts)
        if unknown:
            raise ValueError(f"texts not declared: {sorted(unknown)}")


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
    "legal_maybe": frozenset({"title"}),
    "full_retelling": frozenset({"title", "story"}),
    "smalltalk_greeting": frozenset(),
    "smalltalk_thanks": frozenset(),
    "smalltalk_ack": frozenset(),
    "smalltalk_laugh": frozenset(),
    "smalltalk_bye": frozenset(),
    "smalltalk_about": frozenset(),
    "smalltalk_test": frozenset(),
    "button_show_story": frozenset(),
    "topics": frozenset({"count", "list"}),
    "topic_line": frozenset({"title", "id"}),
    "full_story_header": frozenset({"title", "part", "parts"}),
    "tip": frozenset({"tip", "title"}),
    "feedback_thanks_positive": frozenset(),
    "feedback_thanks_negative": frozenset(),
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


_TAG = re.compile(r"<[^>]+>")


def html_to_text(text: str) -> str:
    """A reply's Telegram HTML as plain text: tags dropped, entities decoded. For places that
    show no markup: the terminal chat, callback toasts, inline-result descriptions."""
    return html.unescape(_TAG.sub("", text))


def message_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


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


@dataclass(frozen=True)
class Callback:
    """Parsed callback data. kind: story | full | lesson | feedback | topics.

    `lang` is the language of the message the button sits under, so that pressing "full
    story" under an English answer replies in English even in a chat whose language is
    Indonesian. Buttons sent before the language was part of the data have none (None): they
    are answered in the chat's language, as they always were.
    """

    kind: str
    anecdote_id: str | None = None
    number: int | None = None
    lang: str | None = None
    order: tuple[int, ...] = ()  # "another lesson": the lessons in order of fit, if carried


# Callback data: "<action>" or "<action>@<lang>", the action being s:<id>[:<lesson>], f:<id>,
# l:<id>:<n>[:<order>], fb:<id>:<0|1> or t. A lesson's <order> is the story's lesson numbers
# (one digit each) in order of fit for the question, so "another lesson" goes on in that
# order. The language goes last so that a prefix still names the action (the Telegram layer
# removes the "fb:" buttons after a vote by prefix). The longest, "l:" + a 24-character id +
# ":999:" + ten digits + "@en", is 44 bytes, within Telegram's 64.
_CALLBACK = re.compile(
    r"(?:(?P<kind>s|f):(?P<id>[A-Za-z0-9_-]{1,24})(?::(?P<sn>\d{1,3}))?"
    r"|l:(?P<lid>[A-Za-z0-9_-]{1,24}):(?P<n>\d{1,3})(?::(?P<order>\d{2,10}))?"
    r"|fb:(?P<fid>[A-Za-z0-9_-]{1,24}):(?P<vote>[01])"
    r"|(?P<topics>t))"
    r"(?:@(?P<lang>id|en))?"
)
LANG_SEPARATOR = "@"


def callback_data(action: str, lang: str) -> str:
    """`action` (e.g. "s:<id>") tagged with the language of the message it sits under."""
    return f"{action}{LANG_SEPARATOR}{lang}"


def lesson_action(anecdote_id: str, index: int, position: int) -> str:
    """The "another lesson" action: lesson `index`, read as the `position`-th (1-based).

    The lesson shown first is the one that fits the question, not always the first in the
    file, so the count follows reading order ("2 of 4" after the first one shown), not the
    file's. The position is left out when it is the index's own (index + 1): the data is
    then what it always was.
    """
    action = f"l:{anecdote_id}:{index}"
    return action if position == index + 1 else f"{action}:{position}"


def parse_callback(data: str) -> Callback | None:
    """Decode callback data made by this module; None for anything else (forged, or from a
    format no longer made). Data without a language (older buttons) is still understood."""
    found = _CALLBACK.fullmatch(data)
    if not found:
        return None
    lang = found["lang"]
    if found["kind"]:
        number = int(found["sn"]) if found["sn"] else None
        return Callback("story" if found["kind"] == "s" else "full", found["id"], number, lang=lang)
    if found["lid"]:
        order = tuple(int(d) for d in found["order"] or "")
        return Callback("lesson", found["lid"], int(found["n"]), lang=lang, order=order)
    if found["fid"]:
        return Callback("feedback", found["fid"], int(found["vote"]), lang=lang)
    return Callback("topics", lang=lang)


# Tags Telegram's HTML parse mode accepts.
_ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"code", "pre", "blockquote", "tg-emoji"}
)
_BAD_ENTITY = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")
_TAG_OR_BRACKET = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>|<")


def html_problem(text: str) -> str | None:
    """Why Telegram would reject this HTML, or None. Used on templates and in tests.

    A strict scanner rather than `html.parser`, which forgives exactly the mistakes (a bare
    '<', an unclosed tag) that make Telegram answer 400.
    """
    if _BAD_ENTITY.search(text):
        return "a bare '&' (write &amp;) or an entity Telegram does not know"
    stack: list[str] = []
    for found in _TAG_OR_BRACKET.finditer(text):
        closing, name = found.group(1), (found.group(2) or "").lower()
        if not name:
            return "a bare '<' (write &lt;)"
        if name not in _ALLOWED_TAGS:
            return f"tag <{name}> is not allowed by Telegram"
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return f"</{name}> does not close the open tag"
    if stack:
        return f"<{stack[-1]}> is never closed"
    return None


def check_texts(kb: KnowledgeBase, *declared: UiTexts) -> list[str]:
    """Problems with the declared UI texts: missing, bad placeholders, bad HTML.

    Without arguments it checks this module's own texts (`UI_TEXTS`); the CLI's `check` and
    the Telegram start-up pass every module's declaration.
    """
    problems: list[str] = []
    for spec in declared or (UI_TEXTS,):
        for key, allowed in spec.texts.items():
            problems.extend(_text_problems(kb, spec, key, allowed))
    return problems


def _text_problems(
    kb: KnowledgeBase, spec: UiTexts, key: str, allowed: frozenset[str]
) -> list[str]:
    text = kb.ui.get(key)
    if text is None:
        return [f"{spec.file}: {key}: missing UI text (both id and en needed)"]
    problems: list[str] = []
    formatter = string.Formatter()
    for lang in LANGUAGES:
        template = text.get(lang)
        where = f"{spec.file}: {key}.{lang}"
        try:
            names = {name for _, name, _, _ in formatter.parse(template) if name is not None}
        except ValueError as exc:
            problems.append(f"{where}: broken {{placeholder}} ({exc}); write {{{{ for {{")
            continue
        unknown = names - allowed
        if unknown:
            known = ", ".join(sorted("{" + n + "}" for n in allowed)) or "none"
            problems.append(
                f"{where}: unknown placeholder {{{sorted(unknown)[0]}}} (allowed: {known})"
            )
            continue
        expected_words = spec.words.get(key)
        if expected_words is not None and len(template.split()) != expected_words:
            problems.append(
                f"{where}: needs exactly {expected_words} words separated by spaces, "
                f"has {len(template.split())}"
            )
            continue
        if key in spec.plain:
            continue
        problem = html_problem(template.format(**dict.fromkeys(allowed, "x")))
        if problem:
            problems.append(f"{where}: invalid Telegram HTML: {problem}")
    return problems


def escape(text: object) -> str:
    """Content (a title, a story, the user's own words) made safe for Telegram HTML."""
    return html.escape(str(text), quote=False)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _escape_within(text: str, budget: int) -> str:
    """`text` escaped, shortened (with "…") until the escaped form fits `budget`.

    Content normally fits with room to spare; this only guards against a YAML author pasting
    a whole post into one field, which must never make Telegram reject the message.
    """
    escaped = escape(text)
    size = len(text)
    while message_length(escaped) > budget and size > 1:
        size = min(size - 1, int(size * budget / message_length(escaped)))
        escaped = escape(_shorten(text, max(1, size)))
    return escaped


# Where a long text may be broken, best first: paragraphs, lines, sentences, words.
_BREAKS: tuple[tuple[str, str], ...] = (("\n\n", "\n\n"), ("\n", "\n"), (". ", " "), (" ", " "))


def _hard_cut(text: str, limit: int) -> list[str]:
    """Last resort for one enormous word: cut between characters, never inside an entity."""
    chunks: list[str] = []
    current, length = "", 0
    for char in text:
        size = message_length(escape(char))
        if current and length + size > limit:
            chunks.append(escape(current))
            current, length = "", 0
        current += char
        length += size
    if current:
        chunks.append(escape(current))
    return chunks


def _pack(text: str, limit: int, level: int = 0) -> list[str]:
    """Escaped chunks of `text`, each <= limit, broken at the best boundary that works.

    Pieces are packed greedily and re-joined with the separator they were split on, so a
    message never ends mid-paragraph when a paragraph boundary would do.
    """
    if message_length(escape(text)) <= limit:
        return [escape(text)] if text.strip() else []
    if level >= len(_BREAKS):
        return _hard_cut(text, limit)
    separator, joiner = _BREAKS[level]
    parts = text.split(separator)
    if separator == ". ":
        parts = [part + "." for part in parts[:-1]] + parts[-1:]
    if level == 0:
        parts = [part.strip() for part in parts if part.strip()]
    # Escaping works character by character and joiners are whitespace, so escaped pieces can
    # be joined directly: escape(a + joiner + b) == escape(a) + joiner + escape(b).
    chunks: list[str] = []
    current = ""
    for part in parts:
        escaped = escape(part)
        candidate = f"{current}{joiner}{escaped}" if current else escaped
        if message_length(candidate) <= limit:
            current = candidate
            continue
        if message_length(escaped) <= limit:
            chunks.append(current)
            current = escaped
            continue
        sub = _pack(part, limit, level + 1)
        if not sub:
            continue
        if current:
            merged = f"{current}{joiner}{sub[0]}"
            if message_length(merged) <= limit:
                sub[0] = merged
            else:
                chunks.append(current)
        chunks.extend(sub[:-1])
        current = sub[-1]
    if current:
        chunks.append(current)
    return chunks


def pack_paragraphs(text: str, limit: int) -> list[str]:
    """Escape `text` and pack it into chunks <= limit, breaking on paragraph boundaries first."""
    return _pack(text.strip(), limit)


class Replies:
    """Builds every reply from the knowledge base and the matcher; holds no per-chat state."""

    def __init__(self, kb: KnowledgeBase, matcher: Matcher, default_lang: str = "id") -> None:
        problems = check_texts(kb)
        if problems:
            raise KnowledgeError(problems)
        self.kb = kb
        self.matcher = matcher
        self.default_lang = default_lang
        # Cleaned posts, read on first use: the seeds do not change while the bot runs.
        self._posts: dict[str, str] = {}

    # -- helpers ---------------------------------------------------------------------------

    def _t(self, key: str, lang: str, **values: object) -> str:
        return self.kb.text(key, lang, **values)

    def _button(self, key: str, lang: str, action: str, **values: object) -> Button:
        """A button labelled with UI text `key` whose press is answered in `lang`."""
        return Button(self._t(key, lang, **values), callback_data(action, lang))

    def _topic_rows(self, lang: str) -> tuple[tuple[Button, ...], ...]:
        return tuple(
            (self._button("button_topic", lang, f"s:{a.id}", title=a.title.get(lang)),)
            for a in self.kb.anecdotes[:MAX_TOPIC_BUTTONS]
        )

    def _story_text(
        self,
        anecdote: Anecdote,
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
        title = _escape_within(anecdote.title.get(lang), MAX_TITLE)
        lesson = ""
        if anecdote.lessons:
            chosen = anecdote.lessons[lesson_index % len(anecdote.lessons)]
            lesson = _escape_within(chosen.get(lang), MAX_FIELD)
        notes = []
        if anecdote.caution is not None and _caution_applies(anecdote, subjects):
            short = anecdote.caution_short or anecdote.caution
            caution = _escape_within(short.get(lang), MAX_FIELD // 3)
            notes.append(self._t("caution", lang, caution=caution))
        if extra:
            notes.append(extra)
        suffix = "".join(f"\n\n{note}" for note in notes)

        def render(story: str) -> str:
            return self._t("story", lang, title=title, story=story, lesson=lesson) + suffix

        short_story = anecdote.summary or anecdote.story
        room = MAX_MESSAGE - message_length(render(""))
        return render(_escape_within(short_story.get(lang), max(1, room)))

    def _story_buttons(
        self, anecdote: Anecdote, lang: str, lesson_index: int = 0, order: Sequence[int] = ()
    ) -> list[tuple[Button, ...]]:
        first = [self._button("button_full_story", lang, f"f:{anecdote.id}")]
        if len(anecdote.lessons) > 1:
            action = _next_lesson(anecdote, lesson_index, order)
            first.append(self._button("button_another_lesson", lang, action))
        feedback = (
            self._button("button_helpful", lang, f"fb:{anecdote.id}:1"),
            self._button("button_not_helpful", lang, f"fb:{anecdote.id}:0"),
        )
        return [tuple(first), feedback]

    def _anecdote(self, anecdote_id: str) -> Anecdote | None:
        # "/story Wayang-Bima " typed by hand should still find "wayang-bima".
        return self.kb.by_id(anecdote_id) or self.kb.by_id(anecdote_id.strip().lower())

    def _post(self, anecdote: Anecdote) -> str:
        post = self._posts.get(anecdote.id)
        if post is None:
            post = self._posts[anecdote.id] = load_post(self.kb, anecdote)
        return post

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
            return answer, self.legal(reply_lang, answer.maybe)
        if best is None and answer.maybe is not None:
            return answer, self.maybe(answer.maybe.anecdote, reply_lang, answer.maybe.lesson)
        if best is None:
            log.debug("no story for question (lang=%s)", reply_lang)
            return answer, self.out_of_scope(question, reply_lang)
        others = [m.anecdote for m in answer.matches[1:] if m.anecdote.id != best.anecdote.id]
        extra = self._t("did_you_mean", reply_lang) if others else ""
        rows = self._story_buttons(best.anecdote, reply_lang, best.lesson, best.lessons)
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
        text = self._story_text(best.anecdote, reply_lang, extra, best.lesson, answer.subjects)
        return answer, Reply(text, tuple(rows))

    def legal(self, lang: str, maybe: Match | None = None) -> Reply:
        """A question of the law (a bribe, a kickback, a gift to an official): what the law
        says, in a few calm lines, and no legal advice; a story that may still help (how to
        win an official over without gifts) is offered after it, never told."""
        text = self._t("legal", lang)
        rows: list[tuple[Button, ...]] = []
        if maybe is not None:
            title = _escape_within(maybe.anecdote.title.get(lang), MAX_TITLE)
            text += "\n\n" + self._t("legal_maybe", lang, title=title)
            action = f"s:{maybe.anecdote.id}:{maybe.lesson}"
            rows.append((self._button("button_show_story", lang, action),))
        return Reply(text, tuple(rows))

    def maybe(self, anecdote: Anecdote, lang: str, lesson: int = 0) -> Reply:
        """Plausible but unsure: name the story and let the user decide, instead of telling a
        story that may be wrong or refusing one that may be right."""
        title = _escape_within(anecdote.title.get(lang), MAX_TITLE)
        show = self._button("button_show_story", lang, f"s:{anecdote.id}:{lesson}")
        topics = self._button("button_topics", lang, "t")
        return Reply(self._t("maybe", lang, title=title), ((show,), (topics,)))

    def small_talk(self, kind: str, lang: str) -> Reply:
        """A short friendly line with an example question; an unknown kind greets."""
        key = f"smalltalk_{kind}"
        return Reply(self._t(key if key in self.kb.ui else "smalltalk_greeting", lang))

    def out_of_scope(self, question: str, lang: str) -> Reply:
        """No confident story: say so and offer every topic instead of guessing."""
        echoed = escape(_shorten(question, MAX_ECHOED_QUESTION))
        return Reply(self._t("out_of_scope", lang, question=echoed), self._topic_rows(lang))

    def story(self, anecdote_id: str, lang: str, lesson: int = 0) -> Reply:
        """One story by id (from /story, a topic button, a "did you mean" or "maybe" button),
        with lesson `lesson` first (the one that fitted the question, for "maybe")."""
        anecdote = self._anecdote(anecdote_id)
        if anecdote is None:
            return self.story_not_found(anecdote_id, lang)
        rows = self._story_buttons(anecdote, lang, lesson)
        return Reply(self._story_text(anecdote, lang, lesson_index=lesson), tuple(rows))

    def story_not_found(self, anecdote_id: str, lang: str) -> Reply:
        shown = escape(_shorten(anecdote_id, 40))
        return Reply(self._t("story_not_found", lang, id=shown), self._topic_rows(lang))

    def full_story(self, anecdote_id: str, lang: str) -> list[Reply]:
        """The original post, cleaned of blog debris, split on paragraphs to fit messages."""
        anecdote = self._anecdote(anecdote_id)
        if anecdote is None:
            return [self.story_not_found(anecdote_id, lang)]
        title = _escape_within(anecdote.title.get(lang), MAX_TITLE)
        retelling = self._full_retelling(anecdote, lang, title)
        # Reserve room for the longest header this post could get (part numbers grow).
        widest = self._t("full_story_header", lang, title=title, part=999, parts=999)
        body = pack_paragraphs(self._post(anecdote), MAX_MESSAGE - message_length(widest) - 2)
        if not body:
            body = [_escape_within(anecdote.story.get(lang), MAX_FIELD)]
        replies: list[Reply] = [retelling]
        for part, chunk in enumerate(body, start=1):
            header = self._t("full_story_header", lang, title=title, part=part, parts=len(body))
            replies.append(Reply(f"{header}\n\n{chunk}"))
        last_buttons: list[Button] = []
        if anecdote.lessons:
            last_buttons.append(self._button("button_another_lesson", lang, f"l:{anecdote.id}:0"))
        last_buttons.append(self._button("button_topics", lang, "t"))
        replies[-1] = Reply(replies[-1].text, (tuple(last_buttons),))
        return replies

    def _full_retelling(self, anecdote: Anecdote, lang: str, title: str) -> Reply:
        """The complete retelling (`story`) with the whole caution, whatever was asked."""
        suffix = ""
        if anecdote.caution is not None:
            caution = _escape_within(anecdote.caution.get(lang), MAX_FIELD // 3)
            suffix = "\n\n" + self._t("caution", lang, caution=caution)
        empty = self._t("full_retelling", lang, title=title, story="") + suffix
        room = max(1, MAX_MESSAGE - message_length(empty))
        story = _escape_within(anecdote.story.get(lang), room)
        return Reply(self._t("full_retelling", lang, title=title, story=story) + suffix)

    def lesson(self, anecdote_id: str, index: int, lang: str, order: Sequence[int] = ()) -> Reply:
        """Lesson `index` of a story (wrapping around), with a button to the next one: next
        in `order` (the lessons by fit for the question) when given, else the next number."""
        anecdote = self._anecdote(anecdote_id)
        if anecdote is None or not anecdote.lessons:
            return self.story_not_found(anecdote_id, lang)
        total = len(anecdote.lessons)
        index %= total
        valid = len(order) == total and sorted(order) == list(range(total))
        position = (order.index(index) if valid else index) + 1  # in reading order
        text = self._t(
            "lesson",
            lang,
            number=position,
            total=total,
            title=_escape_within(anecdote.title.get(lang), MAX_TITLE),
            lesson=_escape_within(anecdote.lessons[index].get(lang), MAX_FIELD),
        )
        row: list[Button] = []
        if total > 1:
            following = _next_lesson(anecdote, index, order)
            row.append(self._button("button_another_lesson", lang, following))
        row.append(self._button("button_full_story", lang, f"f:{anecdote.id}"))
        return Reply(text, (tuple(row),))

    def tip(self, tip_key: str, lang: str) -> Reply:
        """A tip from the deck ("<anecdote id>:<index>") with a button to its story.

        Raises KeyError for a key that is not in the deck (e.g. a tip removed from the YAML
        after it was scheduled), so the caller can skip it instead of sending an error.
        """
        anecdote_id, _, raw_index = tip_key.rpartition(":")
        anecdote = self._anecdote(anecdote_id)
        if anecdote is None or not raw_index.isdigit() or int(raw_index) >= len(anecdote.tips):
            raise KeyError(tip_key)
        text = self._t(
            "tip",
            lang,
            tip=_escape_within(anecdote.tips[int(raw_index)].get(lang), MAX_FIELD),
            title=_escape_within(anecdote.title.get(lang), MAX_TITLE),
        )
        button = self._button("button_read_story", lang, f"s:{anecdote.id}")
        return Reply(text, ((button,),))

    def topics(self, lang: str) -> Reply:
        """Every story as a button, and listed with its id for /story."""
        count = len(self.kb.anecdotes)
        room = MAX_MESSAGE - message_length(self._t("topics", lang, count=count, list="…"))
        lines: list[str] = []
        used = 0
        for anecdote in self.kb.anecdotes[:MAX_TOPIC_BUTTONS]:
            line = self._t(
                "topic_line",
                lang,
                title=_escape_within(anecdote.title.get(lang), MAX_TITLE),
                id=escape(anecdote.id),
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
        if callback is None or (callback.kind != "topics" and not callback.anecdote_id):
            return [self.button_expired(lang)]
        anecdote_id = callback.anecdote_id or ""
        if callback.kind == "topics":
            return [self.topics(lang)]
        if self._anecdote(anecdote_id) is None:
            return [self.button_expired(lang)]
        if callback.kind == "story":
            return [self.story(anecdote_id, lang, callback.number or 0)]
        if callback.kind == "full":
            return self.full_story(anecdote_id, lang)
        if callback.kind == "lesson":
            return [self.lesson(anecdote_id, callback.number or 0, lang, callback.order)]
        return [self.feedback_thanks(lang, positive=callback.number == 1)]

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
        key = "feedback_thanks_positive" if positive else "feedback_thanks_negative"
        return Reply(self._t(key, lang))

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


def _caution_applies(anecdote: Anecdote, subjects: frozenset[str] | None) -> bool:
    """Is the caution for this question? Always when it names no subjects, or when there is
    no question (a story opened by button, e.g. offered after the legal reply); else only
    when the question touches one of its subjects."""
    if not anecdote.applies_to or subjects is None:
        return True
    return not subjects.isdisjoint(anecdote.applies_to)


def _next_lesson(anecdote: Anecdote, index: int, order: Sequence[int]) -> str:
    """The "another lesson" action after lesson `index`: the next in `order` (the lessons by
    fit for the question, carried in the button), else the next by number."""
    total = len(anecdote.lessons)
    carried = "".join(str(n) for n in order)
    if total <= 10 and len(order) == total and sorted(order) == list(range(total)):
        following = order[(order.index(index % total) + 1) % total]
        return f"l:{anecdote.id}:{following}:{carried}"
    return f"l:{anecdote.id}:{(index + 1) % total}"


def all_buttons(replies: Iterable[Reply] | Reply) -> list[Button]:
    """Every button of one or more replies, in reading order (the console numbers them so)."""
    items: Sequence[Reply] = [replies] if isinstance(replies, Reply) else list(replies)
    return [button for reply in items for row in reply.buttons for button in row]
