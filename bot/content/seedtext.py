"""The original seeds, cleaned of the blog around them, for the "full story" button.

The seed files are copied verbatim from blogs, so after the story they carry comment forms,
sidebar widgets, tag lines and readers' comments. A salesperson asking for the full story must
see the author's text only. The rules are general rather than per-file: everything from the first
line that starts the blog's tail (comment section, sidebar, tag line) onward is cut, and known
widget lines are dropped wherever they appear, so a new seed from the same kinds of blogs comes
out clean too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.content.model import KnowledgeBase, Story

# A line matching one of these starts the blog's tail: comments, sidebar or tags. Nothing the
# author wrote follows it, so the seed is cut there. Matched against the whole stripped line,
# case-insensitively, so a sentence that merely contains "komentar" survives.
_TAIL_MARKERS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"leave a (reply|comment)",
        r"tinggalkan (komentar|balasan)",
        r"komentar( terbaru)?",
        r"comments?",
        r"postingan populer dari blog ini",
        r"popular posts( from this blog)?",
        r"(\d+|one|no) (thoughts?|comments?|responses?|replies) (on|to) .*",
        r"\d+ komentar.*",
        r"tags?:.*",
        r"(categories|kategori|label|labels):.*",
        r"share this:?",
        r"like this:?",
        r"related( posts)?:?",
        r"actions",
        r"information",
        r"author",
        r"search",
        r"recent posts?",
        r"fill in your details below.*",
    )
)

# Blogger/WordPress themes print the tag line in capitals ("TAGS Customer kerja sama"); matched
# case-sensitively so a story sentence starting with "Tags ..." is not mistaken for it.
_TAIL_MARKERS_EXACT_CASE: tuple[re.Pattern[str], ...] = (re.compile(r"TAGS?\b.*"),)

# Widget lines that never belong to a story, dropped wherever they appear (some blogs put them
# before the tail markers, e.g. a share bar between the seed and its comments).
_DEBRIS_LINES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"[-–—_*=~.·•]+",
        r"fill in your details below.*",
        r"you are commenting using your .*",
        r"connecting to %s",
        r"%d bloggers like this:?",
        r".*bloggers? like this\.?",
        r"(wordpress\.com logo|twitter picture|facebook photo|google\+? photo)",
        r"log out\s*/\s*change\s*\)?",
        r"like loading\.*",
        r"share this:?",
        r"notify me of (new|follow-up) .*",
        r"post comment",
        r"cancel reply",
        # Bylines of Blogger and WordPress themes ("Posted by Rina at 10:15 AM"): short lines
        r"(posted|written|published) by [^.!?]{1,60}",
        r"(diposting|ditulis|dipublikasikan|diterbitkan) oleh [^.!?]{1,60}",
        r"(posted|published) (on|at) [^.!?]{1,40}",
    )
)


def _is_tail_marker(line: str) -> bool:
    return any(pattern.fullmatch(line) for pattern in _TAIL_MARKERS) or any(
        pattern.fullmatch(line) for pattern in _TAIL_MARKERS_EXACT_CASE
    )


def _is_debris(line: str) -> bool:
    return any(pattern.fullmatch(line) for pattern in _DEBRIS_LINES)


def clean_seed_text(raw: str) -> str:
    """The author's text of a seed: blog tail cut, widget lines dropped, blank runs merged.

    Paragraphs are separated by exactly one blank line in the result; single line breaks inside
    a paragraph are kept (some blogs use them as paragraph breaks, and the splitter of the full
    story falls back on them).
    """
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for raw_line in lines:
        # Blog editors leave non-breaking spaces and double spaces; readers see one space.
        line = re.sub(r"[ \t]{2,}", " ", raw_line.replace("\u00a0", " ").strip())
        if line and _is_tail_marker(line):
            break
        if line and _is_debris(line):
            continue
        kept.append(line)
    text = "\n".join(kept)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def load_seed_text(kb: KnowledgeBase, story: Story) -> str:
    """The cleaned seed behind a story, read from the knowledge base's seeds."""
    raw = (kb.seeds_dir / story.seed).read_text(encoding="utf-8", errors="replace")
    return clean_seed_text(raw)
