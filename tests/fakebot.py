"""A fake Telegram Bot API server for end-to-end tests and benchmarks.

Telegram cannot be reached from CI, and a mock at the python level would test our assumptions
instead of Telegram's rules. So this is a real HTTP server (aiohttp, 127.0.0.1, random port)
speaking the Bot API wire format at ``/bot<token>/<method>``: the real python-telegram-bot
``Application`` talks to it through ``base_url`` exactly as it talks to api.telegram.org.
It is deliberately as strict as Telegram, so that a bug which Telegram would reject fails here.

Usage (inside an async test; the server shares the test's event loop; tests/conftest.py has
the fixtures ``fake_telegram``, ``make_settings`` and ``start_bot``, which runs the real bot)::

    async with FakeTelegram() as fake:              # or: await fake.start() / await fake.stop()
        settings = Settings(token=fake.token, api_base_url=fake.base_url, ...)
        user = fake.user(1001, language_code="en")
        fake.send_text(fake.private_chat(user), user, "customer angry")
        [reply] = await fake.wait_sent(1, chat_id=user.id)
        query_id = fake.press(reply, data="fb:kerjasama:1", user=user)
        await fake.wait_callback_answer(query_id)

Methods served (JSON, form-urlencoded and multipart bodies, values JSON-encoded as PTB sends):
    getMe, getUpdates (long poll with ``timeout``; ``offset`` confirms and drops earlier
    updates; ``allowed_updates`` remembered and applied), sendMessage, sendPoll, sendPhoto,
    editMessageReplyMarkup, answerCallbackQuery, answerInlineQuery, getChatMember,
    getChatAdministrators, setMyCommands, setWebhook,
    deleteWebhook (``drop_pending_updates``): the methods the bot calls, and no others (any
    other method is a 404, as Telegram answers an unknown one).
    Any other method answers 404 "Not Found", as Telegram does.

Strictness (status and description as Telegram sends them):
    * 401 "Unauthorized" for a wrong token.
    * 400 "can't parse entities" for HTML Telegram cannot parse: unknown or unclosed tags,
      mismatched end tags, ``<a>`` without href, a bare ``&`` or an unknown named entity
      (only ``&lt; &gt; &amp; &quot;`` and numeric ones exist). Stricter than Telegram on a
      bare ``&``, which it sometimes tolerates: escaped content never contains one.
    * 400 "message text is empty" / "message is too long" (> 4096 characters after parsing).
    * 400 "BUTTON_DATA_INVALID" for callback_data over 64 bytes (UTF-8) or empty,
      400 for buttons without text or without exactly one action.
    * 400 "RESULTS_TOO_MUCH" for more than 50 inline results; duplicate or over-long ids.
    * sendPoll: question 1-300 characters, 2-10 options of 1-100, a quiz needs valid
      ``correct_option_ids`` (Bot API 9.6; the older ``correct_option_id`` too), an
      explanation of at most 200 characters and two line feeds; 400 "not enough rights to
      send polls" in a chat passed to :meth:`FakeTelegram.restrict` with "polls".
    * sendPhoto: an uploaded file that is a real PNG or JPEG (magic bytes and, for PNG, the
      IHDR size), at most 10 MB, width + height at most 10000, sides at most 20:1; caption
      at most 1024 characters after parsing; 400 "not enough rights to send photos" after
      :meth:`FakeTelegram.restrict` with "photos".
    * 400 "message is not modified" when an edit changes nothing; "message to edit not found".
    * 400 "query is too old..." for answering an unknown or already answered callback/inline
      query.
    * 429 with ``parameters.retry_after`` when a chat exceeds the flood limits in ``limits``
      (token buckets: private chat 1 msg/s with a burst of 3, group 20/min, all chats 30/s;
      pass ``limits=None`` to switch flood control off, e.g. for benchmarks). Only sends count
      (send*, copyMessage, forwardMessage); edits and chat actions do not.
    * 403 "Forbidden: bot was blocked by the user" (private) or "bot was kicked from the
      supergroup chat" for chats passed to :meth:`FakeTelegram.block`.
    * 400 "chat not found" for chats passed to :meth:`FakeTelegram.forget_chat`, or for every
      unknown chat when ``strict_chats=True`` (by default unknown chats are created on first
      use: positive ids private, negative ids supergroups).
    * 409 Conflict for getUpdates while a webhook is set. With a webhook set, injected updates
      are POSTed to it (with the ``X-Telegram-Bot-Api-Secret-Token`` header) instead.

Test helpers:
    * people and chats: :meth:`user`, :meth:`private_chat`, :meth:`group_chat` (``forum=True``
      for a supergroup with topics)
    * inject updates: :meth:`send_text` (entities for ``/commands`` and ``@mentions`` are added
      as Telegram does; ``reply_to=`` a sent message makes it a reply; ``thread_id=`` posts in
      a forum topic, and a reply to it lands there too), :meth:`send_sticker`,
      :meth:`send_photo`, :meth:`send_voice`, :meth:`edit_text` (edited_message),
      :meth:`press` (callback_query on a button of a sent message), :meth:`inline_query`,
      :meth:`choose_inline_result`, :meth:`answer_poll` (a poll_answer to a poll the bot
      sent), :meth:`answer_poll_forged` (to any poll id), :meth:`enqueue` (any raw update)
    * wait: :meth:`wait_sent`, :meth:`wait_edits`, :meth:`wait_callback_answer`,
      :meth:`wait_inline_answer`, :meth:`wait_until` (any predicate over the fake),
      :meth:`settle` (the bot made no request for a moment: assert what did NOT happen)
    * inspect: ``sent`` (every message the bot sent, as :class:`Sent`: html as sent, text and
      entities as parsed, buttons, quote, topic, time), :meth:`sent_to`,
      ``edits``, ``calls`` (every request with its status; e.g. count the 429s),
      ``callback_answers``, ``inline_answers``, :meth:`commands` (menus per scope/language),
      :meth:`message` (a message's current state after edits)
    * configure: :meth:`set_member_status` (getChatMember per chat/user), :meth:`block`,
      :meth:`unblock`, :meth:`forget_chat`, :meth:`fail_next` (inject any error once or n
      times, e.g. a 429 with retry_after or a 500), ``limits``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

DEFAULT_TOKEN = "123456789:TEST-fake-token_for_the_kisah_tests_0000"
BOT_ID = 123456789
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_INLINE_RESULTS = 50
MAX_CALLBACK_ANSWER = 200
MAX_POLL_QUESTION = 300
MAX_POLL_OPTION = 100
POLL_OPTIONS = (2, 10)
MAX_POLL_EXPLANATION = 200
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
# Update types Telegram sends when allowed_updates was never set (it excludes these three).
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
COUNTED_SENDS = frozenset({"copymessage", "forwardmessage"})
ENTITY_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
MENTION_RE = re.compile(r"@[A-Za-z0-9_]{5,32}")
BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "pay",
    "callback_game",
    "copy_text",
)


class ApiError(Exception):
    """An error answer of the Bot API: status code, description and optional parameters."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-HTML into (plain text, entities) or raise ApiError as Telegram would.

    A small hand-written scanner instead of html.parser because html.parser forgives exactly
    the mistakes (bare ``&``, unknown tags, unclosed tags) this server exists to catch.
    """
    out: list[str] = []
    out_len = 0  # UTF-16 length of the text produced so far
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(html)

    def fail(reason: str) -> ApiError:
        offset = len(html[:i].encode("utf-8"))
        return bad_request(f"can't parse entities: {reason} at byte offset {offset}")

    while i < n:
        ch = html[i]
        if ch == "<":
            end = html.find(">", i)
            if end == -1:
                raise fail("Unclosed start tag")
            body = html[i + 1 : end]
            if body.startswith("/"):
                name = body[1:].strip().lower()
                if not stack:
                    raise fail(f'Unexpected end tag "{name}"')
                open_name, start, attrs = stack.pop()
                if name != open_name:
                    raise fail(f'Unmatched end tag, expected "</{open_name}>", found "</{name}>"')
                length = out_len - start
                entity: dict[str, Any] = {
                    "type": ENTITY_TAGS[open_name],
                    "offset": start,
                    "length": length,
                }
                if open_name == "a":
                    entity["url"] = attrs["href"]
                if open_name == "blockquote" and "expandable" in attrs:
                    entity["type"] = "expandable_blockquote"
                if length:
                    entities.append(entity)
            else:
                match = re.match(r"\s*([A-Za-z][A-Za-z0-9-]*)(.*)$", body, re.S)
                if not match:
                    raise fail("Unsupported start tag")
                name = match.group(1).lower()
                if name not in ENTITY_TAGS:
                    raise fail(f'Unsupported start tag "{name}"')
                attrs = _parse_attributes(match.group(2).strip().rstrip("/"))
                if attrs is None:
                    raise fail(f'Bad attributes in tag "{name}"')
                if name == "a" and not attrs.get("href"):
                    raise fail('Tag "a" must have attribute "href"')
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise fail('Tag "span" must have class "tg-spoiler"')
                if name == "tg-emoji" and not attrs.get("emoji-id"):
                    raise fail('Tag "tg-emoji" must have attribute "emoji-id"')
                stack.append((name, out_len, attrs))
            i = end + 1
            continue
        if ch == "&":
            end = html.find(";", i, i + 12)
            name = html[i + 1 : end] if end != -1 else ""
            if name in NAMED_ENTITIES:
                decoded = NAMED_ENTITIES[name]
            elif re.fullmatch(r"#[0-9]{1,7}", name):
                decoded = chr(int(name[1:]))
            elif re.fullmatch(r"#[xX][0-9a-fA-F]{1,6}", name):
                decoded = chr(int(name[2:], 16))
            else:
                raise fail("Character '&' must be escaped as &amp; (or start a known entity)")
            out.append(decoded)
            out_len += utf16_len(decoded)
            i = end + 1
            continue
        if ch == ">":
            # Telegram accepts a bare '>' but the escaping contract says it is escaped too.
            out.append(ch)
            out_len += 1
            i += 1
            continue
        out.append(ch)
        out_len += utf16_len(ch)
        i += 1
    if stack:
        name = stack[-1][0]
        raise bad_request(f"can't parse entities: Can't find end tag for start tag \"{name}\"")
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _parse_attributes(text: str) -> dict[str, str] | None:
    attrs: dict[str, str] = {}
    pattern = re.compile(r"""([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?\s*""")
    pos = 0
    while pos < len(text):
        match = pattern.match(text, pos)
        if not match or match.end() == pos:
            return None
        value = match.group(2) or ""
        if value[:1] in "\"'":
            value = value[1:-1]
        attrs[match.group(1).lower()] = value.replace("&amp;", "&").replace("&quot;", '"')
        pos = match.end()
    return attrs


class TokenBucket:
    """Flood-control bucket: `capacity` messages at once, refilled at `rate` per second."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.level = capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self) -> float:
        """Seconds until one message is allowed (0 when allowed now)."""
        self._refill()
        return 0.0 if self.level >= 1 else (1 - self.level) / self.rate

    def take(self) -> None:
        self.level -= 1


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's documented limits: ~1 msg/s per chat, 20 msg/min per group, 30 msg/s total.

    Private chats get a small burst (Telegram tolerates short bursts there); groups and the
    global limit are buckets whose capacity equals their per-period count, which is exactly
    what python-telegram-bot's AIORateLimiter (aiolimiter leaky buckets) keeps under.
    """

    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    global_per_second: int = 30


def _present(**fields: Any) -> dict[str, Any]:
    """The optional fields that are set: Telegram leaves absent ones out of its JSON."""
    return {name: value for name, value in fields.items() if value}


@dataclass
class FakeUser:
    id: int
    first_name: str = "Sari"
    language_code: str | None = "id"
    username: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
            **_present(username=self.username, language_code=self.language_code),
        }


@dataclass
class FakeChat:
    id: int
    type: str = "private"  # private | group | supergroup | channel
    title: str | None = None
    first_name: str | None = None
    is_forum: bool = False  # a supergroup with topics (messages carry message_thread_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            **_present(is_forum=self.is_forum, title=self.title, first_name=self.first_name),
        }


@dataclass
class Sent:
    """One message the bot sent (or, in `edits`, one edit it made)."""

    method: str
    chat_id: int
    message_id: int
    html: str  # the text parameter exactly as sent
    text: str  # what the user reads, entities parsed
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    parse_mode: str | None
    reply_to_message_id: int | None
    at: float  # time.monotonic() when accepted
    thread_id: int | None = None  # forum topic the message landed in
    link_preview_options: dict[str, Any] | None = None  # as sent (None: Telegram's default)
    poll: dict[str, Any] | None = None  # sendPoll: the Poll object as Telegram returned it
    photo: bytes | None = None  # sendPhoto: the uploaded file

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        """Inline keyboard as rows of (text, callback_data or url)."""
        if not self.reply_markup:
            return []
        return [
            [(b.get("text", ""), b.get("callback_data") or b.get("url") or "") for b in row]
            for row in self.reply_markup.get("inline_keyboard", [])
        ]

    @property
    def button_data(self) -> list[str]:
        return [data for row in self.buttons for _, data in row]

    def bold(self) -> list[str]:
        """Texts of the bold entities (e.g. the story title)."""
        return [_slice_utf16(self.text, e) for e in self.entities if e["type"] == "bold"]


def _slice_utf16(text: str, entity: dict[str, Any]) -> str:
    raw = text.encode("utf-16-le")
    start, length = entity["offset"] * 2, entity["length"] * 2
    return raw[start : start + length].decode("utf-16-le")


@dataclass
class Call:
    """One request the bot made, with the answer it got."""

    method: str
    params: dict[str, Any]
    status: int
    description: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    method: str
    code: int
    description: str
    retry_after: int | None
    chat_id: int | None
    times: int


class FakeTelegram:
    """The fake Bot API server; see the module docstring for what it does and checks."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "kisah_test_bot",
        bot_name: str = "Kisah",
        limits: FloodLimits | None = FloodLimits(),  # noqa: B008 - frozen, safe to share
        strict_chats: bool = False,
        require_https_webhook: bool = False,
    ) -> None:
        self.token = token
        self.bot_user = FakeUser(
            BOT_ID, first_name=bot_name, username=bot_username, is_bot=True, language_code=None
        )
        self.limits = limits
        self.strict_chats = strict_chats
        self.require_https_webhook = require_https_webhook
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._pending: list[dict[str, Any]] = []
        self._allowed_updates: set[str] | None = None
        self._closing = False
        self._open_callback_queries: set[str] = set()
        self._open_inline_queries: set[str] = set()
        self._failures: list[_Failure] = []
        self._buckets: dict[Any, TokenBucket] = {}
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.chats: dict[int, FakeChat] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.member_status: dict[tuple[int, int], str] = {}
        self.restricted: dict[int, set[str]] = {}  # chat id -> "polls", "photos" refused
        self.polls: dict[str, Sent] = {}  # poll id -> the message carrying it
        self.voters: dict[str, set[int]] = {}  # poll id -> who voted (answer_poll)
        self._poll_ids = itertools.count(5_000_000_000_000_000_001)
        self.blocked: set[int] = set()
        self.forgotten: set[int] = set()
        self.migrated: dict[int, int] = {}  # a basic group's old id -> its supergroup's
        self.sent: list[Sent] = []
        self.edits: list[Sent] = []
        self.calls: list[Call] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.inline_answers: dict[str, dict[str, Any]] = {}
        self.my_commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.get_updates_calls = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._webhook_task:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL / Settings.api_base_url should be (token appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------------ people and chats
    def user(
        self,
        user_id: int,
        first_name: str = "Sari",
        *,
        language_code: str | None = "id",
        username: str | None = None,
    ) -> FakeUser:
        return FakeUser(user_id, first_name, language_code, username)

    def private_chat(self, user: FakeUser) -> FakeChat:
        return self.add_chat(FakeChat(user.id, "private", first_name=user.first_name))

    def group_chat(
        self,
        chat_id: int,
        title: str = "Tim Sales",
        chat_type: str = "supergroup",
        *,
        forum: bool = False,
    ) -> FakeChat:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        return self.add_chat(FakeChat(chat_id, chat_type, title=title, is_forum=forum))

    def add_chat(self, chat: FakeChat) -> FakeChat:
        self.chats[chat.id] = chat
        self.forgotten.discard(chat.id)
        return chat

    # ------------------------------------------------------------------ configuration
    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """getChatMember answer: creator | administrator | member | restricted | left | kicked."""
        if status not in {"creator", "administrator", "member", "restricted", "left", "kicked"}:
            raise ValueError(f"unknown chat member status {status!r}")
        self.member_status[(chat_id, user_id)] = status

    def restrict(self, chat_id: int, *kinds: str) -> None:
        """The bot may not send these kinds ("polls", "photos") in the chat: 400, as when a
        group's admins take the right away."""
        self.restricted.setdefault(chat_id, set()).update(kinds)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot (private) or kicked it (group): 403 from now on."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    def forget_chat(self, chat_id: int) -> None:
        """The chat is gone (deleted group, migrated, never existed): 400 "chat not found"."""
        self.forgotten.add(chat_id)
        self.chats.pop(chat_id, None)

    def migrate_group(self, old_id: int, new_id: int, title: str = "Tim Sales") -> FakeChat:
        """A basic group becomes a supergroup: from now on every call naming the old id is
        answered as Telegram does, 400 "group chat was upgraded to a supergroup chat" with
        `migrate_to_chat_id`. (The service message announcing it is the test's to enqueue:
        a bot may miss it.) Returns the new supergroup; its members keep their status."""
        chat = self.group_chat(new_id, title)
        for (chat_id, user_id), status in list(self.member_status.items()):
            if chat_id == old_id:
                self.member_status[(new_id, user_id)] = status
        self.migrated[old_id] = new_id
        return chat

    def fail_next(
        self,
        method: str,
        *,
        code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` (for `chat_id`, if given) with an error."""
        if code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                403: "Forbidden: bot was blocked by the user",
                400: "Bad Request: chat not found",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(code, "Error")
        self._failures.append(
            _Failure(method.lower(), code, description, retry_after, chat_id, times)
        )

    # ------------------------------------------------------------------ injecting updates
    def enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (update_id is assigned here) for getUpdates or the webhook."""
        update = {"update_id": next(self._update_ids), **update}
        if self.webhook:
            self._webhook_queue.put_nowait(update)
        else:
            self._pending.append(update)
            self._notify_soon()
        return update

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _new_message(
        self, chat: FakeChat, user: FakeUser, reply_to: Sent | dict[str, Any] | None
    ) -> dict[str, Any]:
        if chat.id not in self.chats:
            self.add_chat(chat)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.to_dict(),
            "from": user.to_dict(),
        }
        if reply_to is not None:
            replied = (
                self.messages[(reply_to.chat_id, reply_to.message_id)]
                if isinstance(reply_to, Sent)
                else reply_to
            )
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        return message

    def send_text(
        self,
        chat: FakeChat,
        user: FakeUser,
        text: str,
        *,
        reply_to: Sent | dict[str, Any] | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """A user writes `text` (in forum topic `thread_id`, if given); bot_command and mention
        entities are added like Telegram's."""
        message = self._new_message(chat, user, reply_to)
        if thread_id is not None:
            message.update(message_thread_id=thread_id, is_topic_message=True)
        message["text"] = text
        entities = text_entities(text)
        if entities:
            message["entities"] = entities
        self.messages[(chat.id, message["message_id"])] = message
        self.enqueue({"message": message})
        return message

    def send_sticker(self, chat: FakeChat, user: FakeUser, emoji: str = "😀") -> dict[str, Any]:
        message = self._new_message(chat, user, None)
        message["sticker"] = {
            "file_id": "CAACAgIAAxkBAAE",
            "file_unique_id": "AgADsticker",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "emoji": emoji,
        }
        self.enqueue({"message": message})
        return message

    def send_photo(self, chat: FakeChat, user: FakeUser, caption: str | None = None) -> dict:
        message = self._new_message(chat, user, None)
        message["photo"] = [
            {"file_id": "AgACphoto-s", "file_unique_id": "AQADs", "width": 90, "height": 60},
            {"file_id": "AgACphoto-m", "file_unique_id": "AQADm", "width": 800, "height": 533},
        ]
        if caption:
            message["caption"] = caption
        self.enqueue({"message": message})
        return message

    def send_voice(self, chat: FakeChat, user: FakeUser, duration: int = 3) -> dict[str, Any]:
        message = self._new_message(chat, user, None)
        message["voice"] = {
            "file_id": "AwACvoice",
            "file_unique_id": "AgADvoice",
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        self.enqueue({"message": message})
        return message

    def edit_text(self, message: dict[str, Any], new_text: str) -> dict[str, Any]:
        """The user edits an earlier message: an `edited_message` update."""
        edited = {**message, "text": new_text, "edit_date": int(time.time())}
        entities = text_entities(new_text)
        edited.pop("entities", None)
        if entities:
            edited["entities"] = entities
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        self.enqueue({"edited_message": edited})
        return edited

    def press(
        self,
        sent: Sent,
        *,
        data: str | None = None,
        text: str | None = None,
        user: FakeUser,
    ) -> str:
        """The user taps a button (found by callback data or label); returns the query id."""
        current = self.messages[(sent.chat_id, sent.message_id)]
        buttons = [
            b for row in current.get("reply_markup", {}).get("inline_keyboard", []) for b in row
        ]
        for button in buttons:
            if (data is not None and button.get("callback_data") == data) or (
                text is not None and button.get("text") == text
            ):
                break
        else:
            labels = [(b.get("text"), b.get("callback_data")) for b in buttons]
            raise AssertionError(f"no button {data or text!r} on message; it has {labels}")
        query_id = str(next(self._query_ids))
        self._open_callback_queries.add(query_id)
        self.enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "message": current,
                    "chat_instance": f"ci{sent.chat_id}",
                    "data": button["callback_data"],
                }
            }
        )
        return query_id

    def answer_poll(self, sent: Sent, user: FakeUser, option: int) -> dict[str, Any]:
        """The user votes on a poll the bot sent (a poll_answer update, as Telegram sends
        for a non-anonymous poll). Telegram allows one vote per user on a quiz."""
        if sent.poll is None:
            raise AssertionError("that message carries no poll")
        if not 0 <= option < len(sent.poll["options"]):
            raise AssertionError(f"the poll has no option {option}")
        if sent.poll["is_anonymous"]:
            raise AssertionError("an anonymous poll sends the bot no poll_answer updates")
        voters = self.voters.setdefault(sent.poll["id"], set())
        if not sent.poll["allows_revoting"] and user.id in voters:
            raise AssertionError("a quiz poll cannot be answered twice")
        voters.add(user.id)
        return self.answer_poll_forged(sent.poll["id"], user, option)

    def answer_poll_forged(self, poll_id: str, user: FakeUser, option: int) -> dict[str, Any]:
        """A poll_answer update for any poll id (e.g. one the bot never sent)."""
        return self.enqueue(
            {
                "poll_answer": {
                    "poll_id": poll_id,
                    "user": user.to_dict(),
                    "option_ids": [option],
                    "option_persistent_ids": [f"{poll_id}-{option}"],
                }
            }
        )

    def press_forged(
        self,
        sent: Sent,
        *,
        data: str,
        user: FakeUser,
        sender_chat: FakeChat | None = None,
    ) -> str:
        """A crafted callback query on `sent`: `data` no button of it needs to carry (a
        modified client sends any), and a message carrying `sender_chat` if given (which a
        real bot message never does). Returns the query id."""
        message = dict(self.messages[(sent.chat_id, sent.message_id)])
        if sender_chat is not None:
            message["sender_chat"] = sender_chat.to_dict()
        query_id = str(next(self._query_ids))
        self._open_callback_queries.add(query_id)
        self.enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "message": message,
                    "chat_instance": f"ci{sent.chat_id}",
                    "data": data,
                }
            }
        )
        return query_id

    def inline_query(self, user: FakeUser, query: str, offset: str = "") -> str:
        """The user types `@bot query` in any chat; returns the inline query id."""
        query_id = str(next(self._query_ids))
        self._open_inline_queries.add(query_id)
        self.enqueue(
            {
                "inline_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "query": query,
                    "offset": offset,
                    "chat_type": "sender",
                }
            }
        )
        return query_id

    def choose_inline_result(self, user: FakeUser, result_id: str, query: str) -> None:
        """The user picked an inline result (sent only if inline feedback is enabled)."""
        self.enqueue(
            {
                "chosen_inline_result": {
                    "result_id": result_id,
                    "from": user.to_dict(),
                    "query": query,
                }
            }
        )

    # ------------------------------------------------------------------ waiting
    def _notify_soon(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        with contextlib.suppress(RuntimeError):  # no running loop: nobody is waiting
            asyncio.get_running_loop().create_task(notify())

    async def wait_until(
        self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition"
    ) -> Any:
        """Wait until predicate() is truthy (re-checked after every request); return it."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
        return predicate()

    async def wait_sent(
        self, count: int, chat_id: int | None = None, timeout: float = 5.0
    ) -> list[Sent]:
        """Wait until the bot has sent at least `count` messages (to `chat_id`); return them."""

        def ready() -> list[Sent] | None:
            found = self.sent_to(chat_id) if chat_id is not None else list(self.sent)
            return found if len(found) >= count else None

        try:
            return await self.wait_until(ready, timeout, f"{count} messages to {chat_id}")
        except AssertionError as exc:
            got = [s.text[:80] for s in (self.sent_to(chat_id) if chat_id else self.sent)]
            raise AssertionError(f"{exc}; got {got}") from None

    async def wait_edits(
        self, count: int, chat_id: int | None = None, timeout: float = 5.0
    ) -> list[Sent]:
        def ready() -> list[Sent] | None:
            found = [e for e in self.edits if chat_id is None or e.chat_id == chat_id]
            return found if len(found) >= count else None

        return await self.wait_until(ready, timeout, f"{count} edits in {chat_id}")

    async def wait_callback_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self.wait_until(
            lambda: self.callback_answers.get(query_id), timeout, f"answer to callback {query_id}"
        )

    async def wait_inline_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self.wait_until(
            lambda: self.inline_answers.get(query_id), timeout, f"answer to inline {query_id}"
        )

    async def settle(self, quiet: float = 0.2, timeout: float = 5.0) -> None:
        """Wait until the bot made no request (other than polling) for `quiet` seconds.

        The way to assert that something did NOT happen (ignored chatter) without guessing a
        sleep: once the bot is idle, whatever it was going to send has been sent.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = [c for c in self.calls if c.method != "getupdates"]
            last = busy[-1].at if busy else 0.0
            idle = time.monotonic() - last
            if idle >= quiet and not self._pending:
                return
            await asyncio.sleep(max(0.01, quiet - idle))
        raise AssertionError(f"bot still busy after {timeout}s")

    # ------------------------------------------------------------------ inspection
    def sent_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message's current state (after edits), as Telegram would show it."""
        return self.messages[(chat_id, message_id)]

    def commands(
        self, scope_type: str = "default", language_code: str = "", chat_id: int | None = None
    ) -> list[dict[str, str]]:
        scope: dict[str, Any] = {"type": scope_type}
        if chat_id is not None:
            scope["chat_id"] = chat_id
        return self.my_commands.get((_scope_key(scope), language_code), [])

    def status_count(self, status: int) -> int:
        return sum(1 for c in self.calls if c.status == status)

    # ------------------------------------------------------------------ HTTP layer
    async def _not_found(self, request: web.Request) -> web.Response:
        return _error(ApiError(404, "Not Found"))

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"].lower()
        try:
            params = await _read_params(request)
        except ValueError as exc:
            return _error(bad_request(str(exc)))
        handler = getattr(self, f"_m_{method}", None)
        status, description = 200, ""
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            self._check_failures(method, params)
            result = await handler(params)
            response = web.json_response({"ok": True, "result": result})
        except ApiError as exc:
            status, description = exc.code, exc.description
            response = _error(exc)
        self.calls.append(Call(method, params, status, description))
        async with self._changed:
            self._changed.notify_all()
        return response

    def _check_failures(self, method: str, params: dict[str, Any]) -> None:
        for failure in self._failures:
            if failure.method != method:
                continue
            if failure.chat_id is not None and _int_or_none(params.get("chat_id")) != (
                failure.chat_id
            ):
                continue
            failure.times -= 1
            if failure.times <= 0:
                self._failures.remove(failure)
            parameters = {"retry_after": failure.retry_after} if failure.retry_after else None
            raise ApiError(failure.code, failure.description, parameters)

    # ------------------------------------------------------------------ chats and flood
    def _chat(self, params: dict[str, Any]) -> FakeChat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        chat_id = _int_or_none(raw)
        if chat_id is None:
            raise bad_request("chat not found")
        if chat_id in self.forgotten:
            raise bad_request("chat not found")
        if chat_id in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
            )
        chat = self.chats.get(chat_id)
        if chat is None:
            if self.strict_chats:
                raise bad_request("chat not found")
            chat = self.add_chat(
                FakeChat(chat_id, "private" if chat_id > 0 else "supergroup", title="Chat")
            )
        if chat_id in self.blocked:
            if chat.type == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        return chat

    def _flood_check(self, chat: FakeChat) -> None:
        """Raise 429 if this send would exceed a limit; otherwise consume from the buckets."""
        if self.limits is None:
            return
        limits = self.limits
        if chat.type == "private":
            key, capacity, rate = (
                ("chat", chat.id),
                limits.private_burst,
                limits.private_per_second,
            )
        else:
            key, capacity, rate = (
                ("chat", chat.id),
                limits.group_per_minute,
                limits.group_per_minute / 60,
            )
        chat_bucket = self._buckets.get(key)
        if chat_bucket is None:
            chat_bucket = self._buckets[key] = TokenBucket(capacity, rate)
        global_bucket = self._buckets.get("global")
        if global_bucket is None:
            global_bucket = self._buckets["global"] = TokenBucket(
                limits.global_per_second, limits.global_per_second
            )
        wait = max(chat_bucket.wait_time(), global_bucket.wait_time())
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        chat_bucket.take()
        global_bucket.take()

    # ------------------------------------------------------------------ validation
    def _validate_text(self, params: dict[str, Any], key: str = "text") -> tuple[str, list]:
        raw = params.get(key)
        html = "" if raw is None else str(raw)
        parse_mode = str(params.get("parse_mode") or "")
        if parse_mode.lower() == "html":
            text, entities = parse_html(html)
        elif parse_mode:
            raise bad_request(f"unsupported parse_mode {parse_mode!r} in this fake")
        else:
            text, entities = html, []
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        return text, entities

    def _validate_markup(self, markup: Any) -> dict[str, Any] | None:
        if markup in (None, ""):
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup  # reply keyboards, force_reply, remove: accepted as is
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                    raise bad_request("inline keyboard button text is empty")
                actions = [a for a in BUTTON_ACTIONS if a in button]
                if len(actions) != 1:
                    raise bad_request('can\'t find field "text" or exactly one button action')
                if "callback_data" in button:
                    data = str(button["callback_data"])
                    if not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
                        raise bad_request("BUTTON_DATA_INVALID")
        return markup

    # ------------------------------------------------------------------ methods
    async def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }

    async def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.get_updates_calls += 1
        if self.get_updates_calls == 1:  # "the bot is polling now", for wait_until
            async with self._changed:
                self._changed.notify_all()
        if self.webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = _int_or_none(params.get("offset")) or 0
        limit = min(max(_int_or_none(params.get("limit")) or 100, 1), 100)
        timeout = max(_int_or_none(params.get("timeout")) or 0, 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) if allowed else None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

        def deliverable() -> list[dict[str, Any]]:
            self._pending = [u for u in self._pending if self._allowed(u)]
            return self._pending[:limit]

        if not deliverable() and timeout and not self._closing:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: deliverable() or self._closing),
                        timeout,
                    )
        return deliverable()

    def _allowed(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    async def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text, entities = self._validate_text(params)
        markup = self._validate_markup(params.get("reply_markup"))
        reply_to = _int_or_none(params.get("reply_to_message_id"))
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = _int_or_none(reply_parameters.get("message_id"))
            if (
                reply_to is not None
                and (chat.id, reply_to) not in self.messages
                and not reply_parameters.get("allow_sending_without_reply")
            ):
                raise bad_request("message to be replied not found")
        thread_id = _int_or_none(params.get("message_thread_id"))
        replied = self.messages.get((chat.id, reply_to)) if reply_to is not None else None
        if replied is not None and replied.get("is_topic_message"):
            thread_id = replied["message_thread_id"]  # a reply lands in the quoted topic
        self._flood_check(chat)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.to_dict(),
            "from": self.bot_user.to_dict(),
            "text": text,
        }
        if thread_id is not None:
            message.update(message_thread_id=thread_id, is_topic_message=True)
        if entities:
            message["entities"] = entities
        if markup:
            message["reply_markup"] = markup
        if reply_to is not None and (chat.id, reply_to) in self.messages:
            replied = self.messages[(chat.id, reply_to)]
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        self.messages[(chat.id, message["message_id"])] = message
        self.sent.append(
            Sent(
                "sendMessage",
                chat.id,
                message["message_id"],
                str(params.get("text")),
                text,
                entities,
                markup,
                params.get("parse_mode"),
                reply_to,
                time.monotonic(),
                thread_id,
                params.get("link_preview_options"),
            )
        )
        return message

    def _check_rights(self, chat: FakeChat, kind: str) -> None:
        if kind in self.restricted.get(chat.id, set()):
            raise bad_request(f"not enough rights to send {kind} to the chat")

    def _record(
        self,
        method: str,
        chat: FakeChat,
        message: dict[str, Any],
        params: dict[str, Any],
        text: str,
        entities: list[dict[str, Any]],
        markup: dict[str, Any] | None,
        **extra: Any,
    ) -> Sent:
        self.messages[(chat.id, message["message_id"])] = message
        sent = Sent(
            method,
            chat.id,
            message["message_id"],
            text,
            text,
            entities,
            markup,
            params.get("parse_mode"),
            None,
            time.monotonic(),
            **extra,
        )
        self.sent.append(sent)
        return sent

    async def _m_sendpoll(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        question = str(params.get("question") or "")
        if not question.strip():
            raise bad_request("poll question must be non-empty")
        if utf16_len(question) > MAX_POLL_QUESTION:
            raise bad_request("poll question length must not exceed 300")
        raw_options = params.get("options")
        if not isinstance(raw_options, list):
            raise bad_request("poll options must be an array")
        options = [o.get("text") if isinstance(o, dict) else o for o in raw_options]
        low, high = POLL_OPTIONS
        if not low <= len(options) <= high:
            raise bad_request(
                "poll must have at least 2 option"
                if len(options) < low
                else "poll can't have more than 10 options"
            )
        for option in options:
            if not isinstance(option, str) or not option.strip():
                raise bad_request("poll options must be non-empty")
            if utf16_len(option) > MAX_POLL_OPTION:
                raise bad_request("poll options length must not exceed 100")
        poll_type = str(params.get("type") or "regular")
        if poll_type not in {"regular", "quiz"}:
            raise bad_request("poll type is invalid")
        anonymous = _bool(params["is_anonymous"]) if "is_anonymous" in params else True
        multiple = _bool(params.get("allows_multiple_answers", False))
        # Bot API 9.6: correct_option_ids (a list); correct_option_id is the older form.
        correct_ids = params.get("correct_option_ids")
        if correct_ids is None and params.get("correct_option_id") is not None:
            correct_ids = [_int_or_none(params.get("correct_option_id"))]
        explanation = params.get("explanation")
        if poll_type == "quiz":
            if not isinstance(correct_ids, list) or not correct_ids:
                raise bad_request("wrong correct option ID specified")
            if any(not isinstance(i, int) or not 0 <= i < len(options) for i in correct_ids):
                raise bad_request("wrong correct option ID specified")
            if correct_ids != sorted(set(correct_ids)):
                raise bad_request("correct option IDs must be increasing")
            if len(correct_ids) > 1 and not multiple:
                raise bad_request("a quiz with one answer has one correct option")
        elif correct_ids:
            raise bad_request("correct option ID can be specified only for quiz polls")
        if explanation is not None:
            if poll_type != "quiz":
                raise bad_request("explanation can be specified only for quiz polls")
            explanation = str(explanation)
            if utf16_len(explanation) > MAX_POLL_EXPLANATION or explanation.count("\n") > 2:
                raise bad_request("explanation is too long")
        markup = self._validate_markup(params.get("reply_markup"))
        self._check_rights(chat, "polls")
        self._flood_check(chat)
        poll_id = str(next(self._poll_ids))
        poll: dict[str, Any] = {
            "id": poll_id,
            "question": question,
            "options": [
                {"persistent_id": f"{poll_id}-{i}", "text": o, "voter_count": 0}
                for i, o in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": anonymous,
            "type": poll_type,
            "allows_multiple_answers": multiple,
            "allows_revoting": False,
            "members_only": False,
        }
        if poll_type == "quiz":
            poll["correct_option_ids"] = correct_ids
            if explanation:
                poll["explanation"] = explanation
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.to_dict(),
            "from": self.bot_user.to_dict(),
            "poll": poll,
        }
        if markup:
            message["reply_markup"] = markup
        sent = self._record("sendPoll", chat, message, params, question, [], markup, poll=poll)
        self.polls[poll["id"]] = sent
        return message

    async def _m_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        photo = params.get("photo")
        if not isinstance(photo, bytes):
            raise bad_request("wrong file identifier/HTTP URL specified")
        if len(photo) > MAX_PHOTO_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        width, height = _image_size(photo)
        if width + height > 10_000 or max(width, height) > 20 * min(width, height):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        caption, entities = "", []
        if params.get("caption"):
            caption, entities = self._validate_text(params, "caption")
            if utf16_len(caption) > MAX_CAPTION:
                raise bad_request("message caption is too long")
        markup = self._validate_markup(params.get("reply_markup"))
        self._check_rights(chat, "photos")
        self._flood_check(chat)
        size = {"file_id": f"AgACphoto{len(self.sent)}", "file_unique_id": f"AQAD{len(self.sent)}"}
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.to_dict(),
            "from": self.bot_user.to_dict(),
            "photo": [{**size, "width": width, "height": height, "file_size": len(photo)}],
        }
        if caption:
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
        if markup:
            message["reply_markup"] = markup
        self._record("sendPhoto", chat, message, params, caption, entities, markup, photo=photo)
        return message

    async def _m_getchatadministrators(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        chat = self._chat(params)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        admins = []
        for (chat_id, user_id), status in self.member_status.items():
            if chat_id == chat.id and status in {"creator", "administrator"}:
                user = (
                    self.bot_user.to_dict()
                    if user_id == BOT_ID
                    else {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
                )
                admins.append(_chat_member(status, user))
        return admins

    def _editable(self, params: dict[str, Any]) -> tuple[FakeChat, dict[str, Any]]:
        chat = self._chat(params)
        message_id = _int_or_none(params.get("message_id"))
        message = self.messages.get((chat.id, message_id or 0))
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != BOT_ID:
            raise bad_request("message can't be edited")
        return chat, message

    async def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        markup = self._validate_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat, message = self._editable(params)
        if message.get("reply_markup") == markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        self.edits.append(
            Sent(
                "editMessageReplyMarkup",
                chat.id,
                message["message_id"],
                "",
                message.get("text", ""),
                message.get("entities", []),
                markup,
                None,
                None,
                time.monotonic(),
            )
        )
        return message

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_callback_queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = str(params.get("text") or "")
        if len(text) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        self._open_callback_queries.discard(query_id)
        self.callback_answers[query_id] = {
            "text": text,
            "show_alert": _bool(params.get("show_alert")),
            "url": params.get("url"),
        }
        return True

    async def _m_answerinlinequery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("inline_query_id", ""))
        if query_id not in self._open_inline_queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        results = params.get("results")
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            result_id = str(result.get("id", ""))
            if not result_id or len(result_id.encode()) > 64:
                raise bad_request("RESULT_ID_INVALID")
            if result_id in seen:
                raise bad_request("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            if result.get("type") == "article":
                if not str(result.get("title", "")).strip():
                    raise bad_request("RESULT_TITLE_EMPTY")
                content = result.get("input_message_content")
                if not isinstance(content, dict):
                    raise bad_request("input_message_content is required for an article")
                self._validate_text(content, "message_text")
            self._validate_markup(result.get("reply_markup"))
        self._open_inline_queries.discard(query_id)
        self.inline_answers[query_id] = {
            "results": results,
            "cache_time": _int_or_none(params.get("cache_time")),
            "is_personal": _bool(params.get("is_personal")),
            "button": params.get("button"),
            "next_offset": params.get("next_offset"),
        }
        return True

    async def _m_getchatmember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        user_id = _int_or_none(params.get("user_id"))
        if user_id is None:
            raise bad_request("invalid user_id specified")
        status = self.member_status.get((chat.id, user_id), "member")
        user = (
            self.bot_user.to_dict()
            if user_id == BOT_ID
            else {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        )
        return _chat_member(status, user)

    async def _m_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or not 0 < len(commands) <= 100:
            raise bad_request("commands must be a non-empty list of at most 100 commands")
        for command in commands:
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not COMMAND_RE.match(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.my_commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        valid = {
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
            "chat",
            "chat_administrators",
            "chat_member",
        }
        if not isinstance(scope, dict) or scope.get("type") not in valid:
            raise bad_request("can't parse BotCommandScope")
        if scope["type"].startswith("chat") and "chat_id" not in scope:
            raise bad_request("chat_id is required for this scope")
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code")
        return _scope_key(scope), language

    async def _m_setwebhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            self.webhook = None
            return True
        if self.require_https_webhook and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if _bool(params.get("drop_pending_updates")):
            self._pending.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) if allowed else None
        self.webhook = {"url": url, "secret_token": params.get("secret_token")}
        for update in self._pending:
            self._webhook_queue.put_nowait(update)
        self._pending.clear()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())
        return True

    async def _deliver_webhook(self) -> None:
        """POST each update to the webhook in order, retrying like Telegram on failure."""
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            while True:
                update = await self._webhook_queue.get()
                for _attempt in range(20):
                    hook = self.webhook
                    if hook is None:
                        self._pending.append(update)
                        break
                    if not self._allowed(update):
                        break
                    headers = {}
                    if hook.get("secret_token"):
                        headers["X-Telegram-Bot-Api-Secret-Token"] = str(hook["secret_token"])
                    try:
                        async with session.post(hook["url"], json=update, headers=headers) as r:
                            if r.status < 300:
                                break
                    except OSError:
                        pass
                    await asyncio.sleep(0.1)

    async def _m_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if _bool(params.get("drop_pending_updates")):
            self._pending.clear()
            while not self._webhook_queue.empty():
                self._webhook_queue.get_nowait()
        return True


# ---------------------------------------------------------------------- helpers
def text_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram attaches to a user's text: a leading /command and @mentions."""
    entities: list[dict[str, Any]] = []
    command = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{5,32})?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": command.end()})
    for match in MENTION_RE.finditer(text):
        if command and match.start() < command.end():
            continue
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities


def _chat_member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    """A ChatMember object with every field Telegram (and PTB's de_json) requires."""
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            dict.fromkeys(
                (
                    "can_be_edited",
                    "is_anonymous",
                    "can_promote_members",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                ),
                False,
            )
        )
        member.update(
            dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_pin_messages",
                ),
                True,
            )
        )
    elif status == "restricted":
        member.update(
            dict.fromkeys(
                (
                    "is_member",
                    "can_change_info",
                    "can_invite_users",
                    "can_pin_messages",
                    "can_send_polls",
                    "can_send_other_messages",
                    "can_add_web_page_previews",
                    "can_manage_topics",
                    "can_send_audios",
                    "can_send_documents",
                    "can_send_photos",
                    "can_send_videos",
                    "can_send_video_notes",
                    "can_send_voice_notes",
                    "can_edit_tag",
                ),
                False,
            )
        )
        member.update(is_member=True, can_send_messages=True, until_date=0)
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _scope_key(scope: dict[str, Any]) -> str:
    return json.dumps(scope, sort_keys=True)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in {"true", "1"}


JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "results",
        "commands",
        "scope",
        "allowed_updates",
        "reply_parameters",
        "link_preview_options",
        "entities",
        "caption_entities",
        "options",
        "correct_option_ids",
        "button",
        "input_message_content",
    }
)


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and the body (JSON, urlencoded or multipart).

    Form values arrive JSON-encoded for objects, lists and numbers, the way python-telegram-bot
    and Telegram's own docs send them; the object fields are decoded here, numbers by the
    method that needs them.
    """
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("request body must be a JSON object")
            params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = value
                elif isinstance(value, web.FileField):  # an uploaded file: its bytes
                    params[key] = value.file.read()
    for key in JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except ValueError as exc:
                raise ValueError(f"can't parse {key} JSON object") from exc
    return params


def _image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG or JPEG, as Telegram reads it; 400 IMAGE_PROCESS_FAILED for
    anything else (Telegram refuses a file it cannot decode as a photo)."""
    if data.startswith(PNG_MAGIC) and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(JPEG_MAGIC):
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                break
            marker = data[index + 1]
            length = int.from_bytes(data[index + 2 : index + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                height = int.from_bytes(data[index + 5 : index + 7], "big")
                width = int.from_bytes(data[index + 7 : index + 9], "big")
                return width, height
            index += 2 + length
    raise bad_request("IMAGE_PROCESS_FAILED")


def _error(exc: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.code)


def all_button_data(sent: Iterable[Sent]) -> list[str]:
    """Every callback_data on the given messages, in order (handy for 'press every button')."""
    return [data for message in sent for data in message.button_data]
