"""`python -m bot new-story seeds/NNN_name.txt`: a draft story from a seed.

Writing a story from a blank file means copying an old one and forgetting a field. The
draft has every required field, each marked `TODO` (which `check` refuses, naming the field and
line, so a half-written draft never reaches users), the seed cleaned of blog debris as a comment
to read while writing, and the questions people asked the bot that look like the seed: real
wordings that make good triggers. Content gaps (questions a team lead marked "no story fits")
come first: someone already judged that no story answers them.

Similarity: both sides are reduced to their meaningful canonical words (the report's
normalisation), then scored by the mean of rapidfuzz's token_set_ratio (how far the question's
words are found in the seed) and the share of the question's words the seed contains. Almost
every question says "customer", and token_set_ratio alone rates one shared word highly; the
share keeps a question with one common word in it from ranking with one the seed answers.
"""

from __future__ import annotations

import json
import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from bot.content.knowledge import STORIES_DIR
from bot.content.model import seed_number
from bot.content.seedtext import clean_seed_text
from bot.content.validation import TODO
from bot.engine.language import detect_language
from bot.engine.normalize import content_tokens, get_normalizer
from bot.settings import Settings
from bot.storage.inboxrecords import text_key
from bot.tools.report import question_key

MAX_ID = 24  # the validator's limit (the id goes into button data)
MAX_SIMILAR = 10
MIN_SIMILARITY = 50
MIN_WORDS = 2  # content words a question needs to be offered as a candidate trigger
SAME_POST = 90  # a seed this similar to a told one (rapidfuzz ratio) is the same post copied
DRAFT_TIPS = 3  # the validator's minimum
_SEED_NAME = re.compile(r"(\d+)_[^/\\]*\.txt")
# Words of a blog's date line ("Sunday, April 27, 2008", "11 Feb 2009", "Senin, 3 Maret 2008"):
# a line of nothing else, digits and punctuation is the date, not the seed's title.
_DATE_NAMES = """
monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun
senin selasa rabu kamis jumat jum'at sabtu minggu ahad
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
januari februari maret mei juni juli agustus oktober desember agu agt okt des
am pm wib posted on pada tanggal
"""
_DATE_WORDS = frozenset(_DATE_NAMES.split())


class NewStoryError(ValueError):
    """The draft cannot be written; the message says what to do instead."""


def slugify(title: str, limit: int = MAX_ID) -> str:
    """ASCII, lowercase, hyphen-separated, at most `limit` characters, cut at a word's end
    and not after a word such as "ke" or "the" ("salah-kirim-barang", not "...-barang-ke")."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    kept: list[str] = []
    for word in words:
        if len("-".join([*kept, word])) > limit:
            if not kept:
                kept = [word[:limit]]
            break
        kept.append(word)
    if len(kept) < len(words):  # cut: end on a word that says something
        normalizer = get_normalizer()
        while len(kept) > 1 and normalizer.is_stopword(kept[-1]):
            kept.pop()
    return "-".join(kept)


def similar_questions(
    seed_text: str, questions: Sequence[str], limit: int = MAX_SIMILAR
) -> list[tuple[str, int, float]]:
    """The unanswered questions most like `seed_text`: (wording, times asked, score), best first."""
    seed_words = set(content_tokens(seed_text, detect_language(seed_text)))
    seed_key = " ".join(sorted(seed_words))
    counts = Counter(" ".join(q.split()) for q in questions if q and q.strip())
    scored: list[tuple[str, int, float]] = []
    for text, count in counts.items():
        words = question_key(text).split()
        if len(words) < MIN_WORDS:  # "customer" is in every post: no trigger, no situation
            continue
        share = 100 * sum(1 for word in words if word in seed_words) / len(words)
        score = (fuzz.token_set_ratio(" ".join(words), seed_key) + share) / 2
        if score >= MIN_SIMILARITY:
            scored.append((text, count, score))
    scored.sort(key=lambda item: (-item[2], -item[1], item[0]))
    return scored[:limit]


def is_date_line(line: str) -> bool:
    """True for a line that only dates the seed ("Sunday, April 27, 2008", "30 10 2007")."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", line.lower())
    return any(c.isdigit() for c in line) and all(word in _DATE_WORDS for word in words)


def seed_title(seed_text: str) -> str:
    """The seed's title: its first line that is not a date line ("" if there is none)."""
    lines = (line.strip() for line in seed_text.split("\n"))
    return next((line for line in lines if line and not is_date_line(line)), "")


def story_seeds(stories_dir: Path) -> list[tuple[Path, str]]:
    """Each story file with the seed it cites. A file that does not read as YAML is skipped:
    `check` reports it, and it must not stop a draft for another seed."""
    found: list[tuple[Path, str]] = []
    for path in sorted(stories_dir.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("seed"), str):
            found.append((path, data["seed"]))
    return found


def stories_citing(seed_name: str, told: Iterable[tuple[Path, str]]) -> list[Path]:
    """The story files (of `story_seeds`) whose `seed` is `seed_name`."""
    return [path for path, seed in told if seed == seed_name]


def number_taken(seed_name: str, told: Iterable[tuple[Path, str]]) -> tuple[str, Path] | None:
    """Another seed with this seed's number that a story (of `story_seeds`) tells, and that
    story's file: the labels of eval/ name a story by its seed's number, so two posts may not
    share one."""
    number = seed_number(seed_name)
    for path, seed in told:
        if seed != seed_name and seed_number(seed) == number:
            return seed, path
    return None


def same_post_told(
    seed_text: str, seed: Path, told: Sequence[tuple[Path, str]]
) -> tuple[Path, Path] | None:
    """Another seed beside `seed` holding the same post, once cleaned (a copy under another
    name or number), and the story that tells it; None if there is none. Blog debris and
    spacing aside, a copied post reads at least `SAME_POST` alike."""
    own = " ".join(seed_text.split())
    for other in sorted(seed.parent.glob("*.txt")):
        if other == seed:
            continue
        try:
            raw = other.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        text = " ".join(clean_seed_text(raw).split())
        if not text or min(len(text), len(own)) < 0.8 * max(len(text), len(own)):
            continue
        if fuzz.ratio(own, text) >= SAME_POST:
            citing = stories_citing(other.name, told)
            if citing:
                return other, citing[0]
    return None


def seed_of(seed_path: Path, seeds_dir: Path) -> tuple[Path, str]:
    """The seed file (resolved) and its number, or why it cannot start a story. `seed_path`
    is a path, or a bare file name in `seeds_dir`."""
    seeds = seeds_dir.resolve()
    if not seed_path.is_file() and len(seed_path.parts) == 1 and (seeds_dir / seed_path).is_file():
        seed_path = seeds_dir / seed_path  # a bare name, as `ls seeds/` shows it
    if not seed_path.is_file():
        raise NewStoryError(
            f"{seed_path}: no such seed file; put the post in {seeds_dir}/ as NNN_name.txt "
            "and run new-story on it"
        )
    resolved = seed_path.resolve()
    if resolved.parent != seeds:
        raise NewStoryError(
            f"{seed_path}: not in {seeds_dir}/; copy the post there as NNN_name.txt first "
            "(the full-story button only sends files from there)"
        )
    match = _SEED_NAME.fullmatch(resolved.name)
    if match is None:
        raise NewStoryError(
            f"{seed_path}: a seed's name must be NNN_name.txt (NNN numbers the story); "
            "rename it and run again"
        )
    return resolved, match.group(1)


# What YAML reads as a line break besides \n and \r (YAML 1.1, which PyYAML reads): raw in
# a comment, the rest of the line would be read as YAML, a key of the draft.
_YAML_BREAKS = "\x85\u2028\u2029"
_ESCAPED_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in _YAML_BREAKS})


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of it)."""
    return json.dumps(text, ensure_ascii=False).translate(_ESCAPED_BREAKS)


def _comment(text: str, width: int = 98) -> list[str]:
    """`text` as YAML comment lines, long lines wrapped so the draft reads in any editor."""
    lines: list[str] = []
    for line in re.split(f"[\n\r{_YAML_BREAKS}]", text):
        wrapped = textwrap.wrap(line, width - 2, break_long_words=False, break_on_hyphens=False)
        lines += [f"# {part}" for part in wrapped] or ["#"]
    return lines


def draft(
    seed: str,
    title: str,
    seed_text: str,
    similar: Sequence[tuple[str, int, float]],
    story_id: str,
    gaps: Sequence[tuple[str, int, float]] = (),
) -> str:
    """The draft story's YAML text: every required field, TODO where the author writes."""
    lines = [
        f"# Draft from `python -m bot new-story` on {seed}. Replace every {TODO}, then run",
        "# `python -m bot check` (it refuses a file that still has one). The post and the",
        "# questions people asked about it are at the end, for reference.",
        f"id: {story_id}",
        f"seed: {seed}",
        "title:",
        f"  id: {_quoted(title)}",
        f"  en: {TODO}",
        "story:",
        f"  id: {TODO}",
        f"  en: {TODO}",
        "lessons:",
        f"  - id: {TODO}",
        f"    en: {TODO}",
        "triggers:  # the many ways a salesperson would describe the situation",
        "  id:",
        f"    - {TODO}",
        "  en:",
        f"    - {TODO}",
        "situations:  # the situation as roles and events in general words (docs/authoring.md)",
        f"  - id: {TODO}",
        f"    en: {TODO}",
        "tags:",
        f"  id: [{TODO}]",
        f"  en: [{TODO}]",
        f"tips:  # at least {DRAFT_TIPS}",
    ]
    for _ in range(DRAFT_TIPS):
        lines += [f"  - id: {TODO}", f"    en: {TODO}"]
    lines += [
        "summary:  # the story in two or three sentences, as what happened: the answer shows it",
        f"  id: {TODO}",
        f"  en: {TODO}",
        "when:  # per lesson, in their order: the dilemmas it answers (they choose the first)",
        "  - id:",
        f"      - {TODO}",
        "    en:",
        f"      - {TODO}",
        "# optional: caution, caution_short and applies_to, for a legal or HR edge",
        "# (docs/authoring.md)",
    ]
    lines += [
        "# Practice questions for /quiz and the team's quizzes: optional, four or more once",
        "# there (docs/authoring.md). Uncomment and write, one per lesson at least:",
        "# quiz:",
        "#  - lesson: 1   # the lesson it tests, from 1",
        '#    question: {id: "...", en: "..."}   # a situation, <= 300 characters',
        "#    options: {id: [..., ..., ...], en: [..., ..., ...]}   # <= 100 characters each",
        "#    answer: 2   # the right option, from 1; not always the longest, nor the same place",
        '#    explanation: {id: "Pelajaran: ...", en: "Lesson: ..."}   # <= 200 characters',
        "",
    ]
    if gaps:
        lines.append(
            "# Content gaps like this post (team leads said no story fits; times asked), "
            "candidate triggers:"
        )
        lines += [f"#   - {text} ({count}x)" for text, count, _ in gaps]
    if similar:
        lines.append("# Unanswered questions like this post (times asked), candidate triggers:")
        lines += [f"#   - {text} ({count}x)" for text, count, _ in similar]
    elif not gaps:
        lines.append("# No unanswered questions in the bot's database look like this post.")
    lines += ["", f"# The post ({seed}), cleaned of blog debris:", "#", *_comment(seed_text)]
    return "\n".join(lines) + "\n"


def head_start(
    seed_text: str,
    questions: Sequence[str],
    gaps: Sequence[str] = (),
    answered: Sequence[str] = (),
    limit: int = MAX_SIMILAR,
) -> tuple[list[tuple[str, int, float]], list[tuple[str, int, float]]]:
    """The questions a draft lists: content gaps like the seed first (a team lead already
    judged that no story answers them: the surest material for a new one), then the other
    unanswered questions like it, `limit` in all. A question already listed as a gap, or
    since taught to a story (`answered`), is not listed again among the unanswered."""
    similar_gaps = similar_questions(seed_text, gaps, limit)
    settled = {text_key(t) for t in (*gaps, *answered)}
    others = [q for q in questions if text_key(q) not in settled]
    return similar_gaps, similar_questions(seed_text, others, limit - len(similar_gaps))


def new_story(
    seed_path: Path,
    settings: Settings,
    questions: Sequence[str] = (),
    *,
    gaps: Sequence[str] = (),
    answered: Sequence[str] = (),
    force: bool = False,
) -> tuple[Path, int, int]:
    """Write the draft for `seed_path`; returns its path and how many content gaps and other
    unanswered questions it lists (see `head_start`). A seed a story already tells is
    refused unless `force` (a second story from one seed is rare, and usually a mistake), and
    so is a copy of such a seed under another name."""
    resolved, number = seed_of(seed_path, settings.seeds_dir)
    told = story_seeds(settings.responses_dir / STORIES_DIR)  # read once for the checks below
    taken = number_taken(resolved.name, told)
    if taken is not None:
        other, story = taken
        raise NewStoryError(
            f"{seed_path}: the number {number} is {other}'s, which {story} tells; rename the "
            "post with a number no other seed has and run again"
        )
    citing = stories_citing(resolved.name, told)
    if citing and not force:
        raise NewStoryError(
            f"{seed_path}: already told by {citing[0]}; edit that story, or add --force "
            "to draft a second one from this post"
        )
    seed_text = clean_seed_text(resolved.read_text(encoding="utf-8", errors="replace"))
    copied = None if force else same_post_told(seed_text, resolved, told)
    if copied is not None:
        other, story = copied
        raise NewStoryError(
            f"{seed_path}: the same post as {other.name}, already told by {story}; edit that "
            "story, or add --force to draft a second one from this post"
        )
    title = seed_title(seed_text)
    if not title:
        raise NewStoryError(f"{seed_path}: the post is empty once blog debris is removed")
    story_id = slugify(title) or f"story-{number}"
    target = settings.responses_dir / STORIES_DIR / f"{number}-{story_id}.yaml"
    similar_gaps, similar = head_start(seed_text, questions, gaps, answered)
    text = draft(resolved.name, title, seed_text, similar, story_id, similar_gaps)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise NewStoryError(
            f"{target}: already exists; edit it, or delete it to start the draft again"
        ) from None
    return target, len(similar_gaps), len(similar)
