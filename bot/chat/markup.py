"""Telegram HTML, the format of every reply: escaping content, measuring it as Telegram does,
checking markup Telegram would reject, and packing long text into messages that fit.

Kept apart from the replies themselves so that every module that writes a message (replies,
team-lead features, transports) escapes and measures it the same way, in one place.
"""

from __future__ import annotations

import html
import re

# Telegram's limit: 4096 characters per message, counted in UTF-16 code units (so an emoji
# counts twice: measuring that way is never too generous).
MAX_MESSAGE = 4096

_TAG = re.compile(r"<[^>]+>")


def html_to_text(text: str) -> str:
    """A reply's Telegram HTML as plain text: tags dropped, entities decoded. For places that
    show no markup: the terminal chat, callback toasts, inline-result descriptions."""
    return html.unescape(_TAG.sub("", text))


def message_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


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


def escape(text: object) -> str:
    """Content (a title, a story, the user's own words) made safe for Telegram HTML."""
    return html.escape(str(text), quote=False)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def shorten_title(title: str, limit: int) -> str:
    """A story title on one line in at most `limit` characters, cut after its first part
    ("Do you still want to work with us?") or else after a whole word, when either ends in
    the second half: a title cut mid-word hides which story it is."""
    flat = " ".join(title.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    ends = [m.end() for m in re.finditer(r"[?!.:;](?=\s)", flat[:limit])]
    space = cut.rfind(" ")
    if ends and ends[-1] >= limit // 2:
        cut = cut[: ends[-1]].rstrip(":;")
    elif space >= limit // 2:
        cut = cut[:space].rstrip(" ,:;-–")
    return cut + "…"


def escape_within(text: str, budget: int) -> str:
    """`text` escaped, shortened (with "…") until the escaped form fits `budget`.

    Content normally fits with room to spare; this only guards against a YAML author pasting
    a whole seed into one field, which must never make Telegram reject the message.
    """
    escaped = escape(text)
    size = len(text)
    while message_length(escaped) > budget and size > 1:
        size = min(size - 1, int(size * budget / message_length(escaped)))
        escaped = escape(shorten(text, max(1, size)))
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
