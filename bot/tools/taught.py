"""`python -m bot taught [--export DIR | --prune]`: team leads' taught phrasings, for authors.

Team leads teach Kisah in Telegram (a question pointed at a story, kept in the database and used
by the matcher at once), but the YAML in responses/anecdotes/ stays the source of truth: it is
reviewed, versioned and shipped with the bot, and the database is not. So the loop closes here:

- `taught` lists what was taught, so an author sees what leads have been doing;
- `taught --export DIR` writes, for each story with taught phrasings, a copy of the story's
  own YAML file with each phrasing appended to its language's trigger list. The change is a
  textual insertion, not a re-dump, so the author's comments, order and folded texts survive
  and the diff a reviewer reads is exactly the new trigger lines. Merging is copying the files
  over responses/anecdotes/ (never written here directly: an author reviews first);
- `taught --prune`, after the merge, marks the taught phrasings the YAML now has as merged,
  so the database teaches only what is not yet in the source of truth. Marked, not deleted:
  the question stays settled (it does not come back to the inbox, its asker is not told a
  second time, and no lead re-decides it over the YAML trigger). Only a phrasing the stories
  now answer on their own with its story is marked: a trigger is one phrasing among many for
  the matcher, and a short one ("kado") may not carry the confidence the lead's teaching
  gave it; such a phrasing stays taught, and the author is told why.

Taught phrasings are shown whatever BOT_LOG_QUESTIONS says: a team lead chose each one as
content for the knowledge base, which is what an author must read to merge it. (With the switch
off no text is kept, so there is nothing to teach; older rows are the lead's choices.)

"Already a trigger" compares case-insensitively with whitespace collapsed
(`inboxrecords.text_key`), the same key everywhere here: export skips such phrasings and prune
marks exactly those merged.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml

from bot.chat.markup import shorten
from bot.chat.request import CONSOLE_CHAT_ID
from bot.content.knowledge import STORIES_DIR, load_knowledge
from bot.content.model import KnowledgeBase, Story
from bot.content.validation import load_story
from bot.engine.matcher import Matcher
from bot.exitcodes import EXIT_CONFIG, EXIT_OK
from bot.settings import Settings
from bot.storage.inboxrecords import MERGED, TAUGHT, Decision, text_key
from bot.storage.store import DB_FILENAME, Store

SHORT = 100  # characters of a phrasing in the listing: one line in a terminal
GONE = "(story gone: ignored)"
NONE = "No taught phrasings: team leads have not taught Kisah any question yet."


class ExportError(ValueError):
    """The export cannot be written; the message says what to do instead."""


def one_line(text: str) -> str:
    """The text with every run of whitespace (newlines too) as one space: a trigger is one
    line, and so is a listing row."""
    return " ".join(text.split())


# What a YAML file may not hold even quoted (DEL, C0 and C1 controls but tab and newline...):
# a phrasing carrying one would make its story file unloadable.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def as_trigger(text: str) -> str:
    """A taught phrasing as a trigger: one line, without characters YAML cannot hold."""
    return one_line(_UNPRINTABLE.sub("", text))


def trigger_keys(story: Story) -> set[str]:
    """Every trigger of the story, in any language, as the comparison key."""
    return {text_key(t) for texts in story.triggers.values() for t in texts}


# --- reading ---------------------------------------------------------------------------------


def taught_decisions(settings: Settings) -> list[Decision]:
    """The taught phrasings, oldest first; none when there is no database (and none is
    created: listing must not leave an empty database behind in a fresh checkout)."""
    if not (settings.data_dir / DB_FILENAME).is_file():
        return []
    with Store.open(settings) as store:
        return store.decisions(TAUGHT)


def merged_count(settings: Settings) -> int:
    """How many taught phrasings an earlier `--prune` marked merged (0 without a database)."""
    if not (settings.data_dir / DB_FILENAME).is_file():
        return 0
    with Store.open(settings) as store:
        return len(store.decisions(MERGED))


def _none(settings: Settings) -> str:
    """The listing's line when nothing is taught: merged phrasings were taught all the same."""
    merged = merged_count(settings)
    if merged:
        return f"No taught phrasings left: the {merged} taught so far are triggers in the YAML now."
    return NONE


def _knowledge(settings: Settings) -> KnowledgeBase:
    # Straight from the files, no cache: export copies them, prune compares with them, and
    # both must see what is on disk now (an author may have just merged).
    return load_knowledge(settings.responses_dir, settings.seeds_dir)


# --- list ------------------------------------------------------------------------------------


def format_listing(decisions: list[Decision], kb: KnowledgeBase) -> str:
    if not decisions:
        return NONE + "\n"
    lines = [f"{len(decisions)} taught phrasing(s), oldest first:"]
    for d in decisions:
        story = d.story_id or "?"
        if d.story_id is None or kb.by_id(d.story_id) is None:
            story = f"{story} {GONE}"
        if d.chat_id == CONSOLE_CHAT_ID:  # Telegram has no chat 0
            source = "in the terminal chat"
        else:
            who = "user ?" if d.decided_by is None else f"user {d.decided_by}"
            source = f"by {who}  in chat {d.chat_id}"
        lines.append(
            f"  {d.decided_at:%Y-%m-%d %H:%M} UTC  {story}  {source}  [{d.lang}] "
            f"{shorten(d.text, SHORT)}"
        )
    lines += [
        "",
        "To merge them into the YAML: python -m bot taught --export DIR",
    ]
    return "\n".join(lines) + "\n"


# --- export ----------------------------------------------------------------------------------


@dataclass
class Export:
    """What an export would write (or wrote): file name -> new text, and what was left out."""

    files: dict[str, str] = field(default_factory=dict)
    added: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # name -> (lang, text)
    already: int = 0  # phrasings already among their story's triggers
    cleaned: list[str] = field(default_factory=list)  # phrasings written without controls
    gone: list[Decision] = field(default_factory=list)  # their story is not in the base


def plan_export(decisions: Iterable[Decision], kb: KnowledgeBase) -> Export:
    """The new text of every story file that gains triggers. Raises ExportError when a
    file's trigger list cannot be found or the result would not load (never writes a file
    `check` would refuse)."""
    result = Export()
    by_story: dict[str, list[Decision]] = {}
    for d in decisions:
        story = kb.by_id(d.story_id) if d.story_id else None
        if story is None:
            result.gone.append(d)
        else:
            by_story.setdefault(story.id, []).append(d)
    for story_id, taught in by_story.items():
        story = kb.by_id(story_id)
        assert story is not None
        seen = trigger_keys(story)
        additions: list[tuple[str, str]] = []
        for d in taught:
            text = as_trigger(d.text)
            key = text_key(text)
            if not text or key in seen:
                result.already += 1
                continue
            if text != one_line(d.text):
                result.cleaned.append(text)
            seen.add(key)
            additions.append((d.lang if d.lang in ("id", "en") else "id", text))
        if not additions:
            continue
        source = story.source
        text = source.read_text(encoding="utf-8")
        for lang, phrasing in additions:
            text = add_trigger(text, lang, phrasing, where=source)
        _verify(source, text, story, additions, kb.seeds_dir)
        result.files[source.name] = text
        result.added[source.name] = additions
    return result


def _verify(
    source: Path, text: str, story: Story, added: list[tuple[str, str]], seeds_dir: Path
) -> None:
    """The new file loads, and its triggers are the old ones plus exactly the additions."""
    try:
        loaded = load_story(source, seeds_dir, raw=text.encode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - any failure here is a bug to report, not a crash
        raise ExportError(
            f"{source}: the exported file would not load ({exc}); not written"
        ) from exc
    for lang in {lang for lang, _ in added}:
        expected = (*story.triggers.get(lang, ()), *(t for la, t in added if la == lang))
        if tuple(loaded.triggers.get(lang, ())) != expected:
            raise ExportError(
                f"{source}: could not add the {lang} triggers cleanly; add them by hand"
            )


def add_trigger(text: str, lang: str, phrasing: str, *, where: Path | str = "<yaml>") -> str:
    """`text` (a story's YAML) with `phrasing` appended to `triggers.<lang>`, as a textual
    insertion: every other byte of the file stays as it was.

    The phrasing is written as a JSON string, which is a YAML double-quoted scalar on one
    line whatever it contains (quotes, colons, '#', emoji). A block list gains a `- "..."`
    line after its last item, at the items' indentation; a flow list (`[a, b]`) gains an
    item before its `]`; a missing language gains a `lang:` list at the end of `triggers`.
    """
    quoted = json.dumps(one_line(phrasing), ensure_ascii=False)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    triggers = _value(root, "triggers")
    if not isinstance(triggers, yaml.MappingNode):
        raise ExportError(f"{where}: no 'triggers:' mapping to add to; add them by hand")
    items = _value(triggers, lang)
    if items is None:
        return _add_language(text, triggers, lang, quoted, where)
    if not isinstance(items, yaml.SequenceNode):
        raise ExportError(f"{where}: triggers.{lang} is not a list; add them by hand")
    if items.flow_style or not items.value:
        close = items.end_mark.index - 1  # the ']'
        if text[close] != "]":
            raise ExportError(f"{where}: triggers.{lang}: unexpected list syntax")
        separator = ", " if items.value else ""
        return text[:close] + separator + quoted + text[close:]
    indent = " " * items.start_mark.column  # the column of the items' '-'
    return _insert_line(text, items.value[-1].end_mark, f"{indent}- {quoted}")


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _add_language(
    text: str, triggers: yaml.MappingNode, lang: str, quoted: str, where: Path | str
) -> str:
    if triggers.flow_style:
        close = triggers.end_mark.index - 1  # the '}'
        if text[close] != "}":
            raise ExportError(f"{where}: triggers: unexpected mapping syntax")
        separator = ", " if triggers.value else ""
        return text[:close] + f"{separator}{lang}: [{quoted}]" + text[close:]
    if not triggers.value:
        raise ExportError(f"{where}: triggers is empty; add them by hand")
    indent = " " * triggers.value[0][0].start_mark.column  # the keys' column
    last = triggers.value[-1][1]
    return _insert_line(text, last.end_mark, f"{indent}{lang}:\n{indent}  - {quoted}")


def _insert_line(text: str, after: yaml.Mark, new: str) -> str:
    """Insert `new` as whole line(s) right after the line where a node ends (a block scalar
    ends at column 0 of the next line: insert there)."""
    lines = text.splitlines(keepends=True)
    at = after.line if after.column == 0 else after.line + 1
    if at > len(lines):
        at = len(lines)
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, new + "\n")
    return "".join(lines)


def export_dir_problem(target: Path, settings: Settings) -> str | None:
    """Why DIR cannot receive an export, or None. Inside the knowledge base it would go live
    unreviewed (or be loaded as a second copy of a story); an existing file there may be an
    author's unmerged work, so nothing is ever overwritten."""
    resolved = target.resolve()
    responses = settings.responses_dir.resolve()
    if resolved == responses or responses in resolved.parents:
        return (
            f"{target}: inside the knowledge base ({settings.responses_dir}); export to a "
            "directory outside it, review, then copy the files over "
            f"{settings.responses_dir / STORIES_DIR}"
        )
    if target.exists() and not target.is_dir():
        return f"{target}: exists and is not a directory; choose another DIR"
    return None


def write_export(plan: Export, target: Path) -> list[Path]:
    """Write every file, or none: all targets are checked before the first is written (a
    dangling link counts as taken), and what was written is removed if a later one fails."""
    paths = [target / name for name in plan.files]
    existing = [p for p in paths if os.path.lexists(p)]
    if existing:
        names = ", ".join(str(p) for p in existing)
        raise ExportError(
            f"{names}: already exist(s); delete them or choose an empty DIR (never overwritten)"
        )
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for path in paths:
            with path.open("x", encoding="utf-8", newline="") as file:
                written.append(path)
                file.write(plan.files[path.name])
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise ExportError(
            f"{exc.filename or target}: {exc.strerror or exc}; nothing written"
        ) from exc
    return paths


def format_export(plan: Export, written: list[Path], settings: Settings) -> str:
    lines: list[str] = []
    for path in written:
        added = plan.added[path.name]
        by_lang = ", ".join(
            f"{lang} {sum(1 for la, _ in added if la == lang)}"
            for lang in sorted({la for la, _ in added})
        )
        lines.append(f"wrote {path} (+{len(added)} trigger(s): {by_lang})")
    for text in plan.cleaned:
        lines.append(f"removed control characters from: {shorten(text, SHORT)}")
    if plan.already:
        lines.append(f"skipped {plan.already} already among their story's triggers")
    for d in plan.gone:
        lines.append(f"skipped ({d.story_id}: story gone): {shorten(d.text, SHORT)}")
    stories = settings.responses_dir / STORIES_DIR
    if written:
        folder = written[0].parent
        lines += [
            "",
            "Next steps:",
            f"  1. review, then copy them over the knowledge base: cp {folder}/* {stories}/",
            "  2. python -m bot check",
            "  3. python -m bot taught --prune  (marks merged the phrasings the YAML now has)",
        ]
    elif plan.already:
        lines.append(
            "Nothing to export: every taught phrasing is in the YAML already; run "
            "`python -m bot taught --prune`."
        )
    else:
        lines.append("Nothing to export.")
    return "\n".join(lines) + "\n"


# --- prune -----------------------------------------------------------------------------------


def merged_in_yaml(decisions: Iterable[Decision], kb: KnowledgeBase) -> list[Decision]:
    """The taught phrasings now a trigger of the same story. Nothing else: a phrasing of a
    story gone, or not merged yet, still carries what the lead taught."""
    found = []
    for d in decisions:
        story = kb.by_id(d.story_id) if d.story_id else None
        if story is not None and text_key(as_trigger(d.text)) in trigger_keys(story):
            found.append(d)
    return found


@dataclass
class Prune:
    """What `--prune` marks merged, and the triggers it keeps taught with what the stories
    alone answer them with instead (a story id, "maybe <id>", or "no story")."""

    ids: list[int] = field(default_factory=list)
    unanswered: list[tuple[Decision, str]] = field(default_factory=list)


def plan_prune(decisions: Iterable[Decision], kb: KnowledgeBase, matcher: Matcher) -> Prune:
    """The merged phrasings the stories answer on their own with their story (`matcher` is
    built from the YAML alone, no taught phrasing); the others stay taught."""
    plan = Prune()
    for d in merged_in_yaml(decisions, kb):
        answer = matcher.ask(d.text)
        best = answer.best
        if best is not None and best.story.id == d.story_id:
            plan.ids.append(d.question_id)
        elif best is not None:
            plan.unanswered.append((d, best.story.id))
        elif answer.maybe is not None:
            plan.unanswered.append((d, f"maybe {answer.maybe.story.id}"))
        else:
            plan.unanswered.append((d, "no story"))
    return plan


def format_prune(pruned: int, remain: int, plan: Prune) -> str:
    lines = [f"pruned {pruned} taught phrasing(s) now in the YAML; {remain} remain"]
    if plan.unanswered:
        lines.append(
            f"kept taught {len(plan.unanswered)} that are triggers now but that the stories "
            "alone do not answer with their story yet (write a longer trigger saying the "
            "situation, or refit with `python -m bot calibrate`, then prune again):"
        )
        lines += [
            f"  {d.story_id}  [{d.lang}] {shorten(d.text, SHORT)}  -> now: {got}"
            for d, got in plan.unanswered
        ]
    return "\n".join(lines) + "\n"


# --- the command -----------------------------------------------------------------------------


def run(
    settings: Settings,
    stdout: TextIO,
    stderr: TextIO,
    *,
    export: Path | None = None,
    prune: bool = False,
) -> int:
    """`python -m bot taught`, `--export DIR` or `--prune`; returns the exit status."""
    if export is not None:
        problem = export_dir_problem(export, settings)
        if problem:
            stderr.write(f"Error: {problem}\n")
            return EXIT_CONFIG
    decisions = taught_decisions(settings)
    if not decisions:
        then = " Nothing to export." if export is not None else ""
        then = " Nothing to prune." if prune else then
        stdout.write(_none(settings) + then + "\n")
        return EXIT_OK
    kb = _knowledge(settings)
    if prune:
        plan = plan_prune(decisions, kb, Matcher(kb, default_lang=settings.default_language))
        pruned = 0
        if plan.ids:
            with Store.open(settings) as store:
                pruned = store.merge_decisions(plan.ids)
        stdout.write(format_prune(pruned, len(decisions) - pruned, plan))
        return EXIT_OK
    if export is None:
        stdout.write(format_listing(decisions, kb))
        return EXIT_OK
    try:
        plan = plan_export(decisions, kb)
        written = write_export(plan, export) if plan.files else []
    except ExportError as exc:
        stderr.write(f"Error: {exc}\n")
        return EXIT_CONFIG
    stdout.write(format_export(plan, written, settings))
    return EXIT_OK
