"""The knowledge base: stories and UI texts loaded from `responses/`, validated, immutable.

Content is data: every word a user reads comes from YAML so a team lead can fix a sentence
without touching Python. This module is the one entry point (`load_knowledge`): it finds the
files, has each checked (validation.py) or taken from the parse cache (parsecache.py), and
reports every problem of the whole base at once, with file, field and line.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

from bot.content import model, parsecache, validation, yamlsafe
from bot.content.model import (
    KnowledgeBase,
    KnowledgeError,
    Story,
    Text,
)
from bot.content.parsecache import (
    FileCache,
    code_digest,
    read_files,
    story_json,
    story_of,
    text_json,
)
from bot.content.validation import DRAFT_PROBLEM, load_story, load_ui, seed_problem
from bot.content.yamlsafe import field_line
from bot.forked import map_forked
from bot.storage.cache import dumps, loads, paused_gc

log = logging.getLogger(__name__)

STORIES_DIR = "anecdotes"
UI_DIR = "ui"


def load_ui_dir(
    ui_dir: Path, raw: Mapping[Path, bytes] | None = None, cache: FileCache | None = None
) -> dict[str, Text]:
    """Merge every `ui/*.yaml`; each transport or feature keeps its texts in its own file."""
    problems: list[str] = []
    files = sorted(ui_dir.glob("*.yaml"))
    if not files:
        raise KnowledgeError([f"{ui_dir}: no UI text files (*.yaml) found"])
    merged: dict[str, Text] = {}
    origin: dict[str, Path] = {}
    for path in files:
        try:
            texts = cache.ui(path) if cache is not None else None
            if texts is None:
                texts = load_ui(path, (raw or {}).get(path))
                if cache is not None:
                    cache.remember(path, {key: text_json(t) for key, t in texts.items()})
        except KnowledgeError as exc:
            problems.extend(exc.problems)
            continue
        for key, text in texts.items():
            if key in merged:
                line = field_line(path, (key,))
                problems.append(f"{path}{line}: {key}: already defined in {origin[key]}")
                continue
            merged[key] = text
            origin[key] = path
    if problems:
        raise KnowledgeError(problems)
    return merged


def load_knowledge(
    responses_dir: Path,
    seeds_dir: Path,
    cache_dir: Path | None = None,
    *,
    skip_drafts: bool = False,
) -> KnowledgeBase:
    """Load and validate everything; raise KnowledgeError listing every problem found.

    `skip_drafts` (the commands that serve: `run`, `chat`, `ask`): a story file that still
    has a TODO of `new-story` is left out with a warning instead, so a draft written on the
    server does not stop the bot; `check` and the measuring commands still refuse it.

    Parsing thousands of YAML files takes seconds even with libyaml, so a valid file is
    remembered by a hash of its bytes: in `cache_dir` when given (bot/storage/cache.py), so a start
    after editing one story parses that story only, and the whole base in this process
    (`check` loads twice). Seed files live outside the hashes, so they are checked again on
    every load.
    """
    story_dir = responses_dir / STORIES_DIR
    # By name: the order of paths in one directory, without pathlib's comparisons (thousands
    # of files at each start).
    files = sorted(story_dir.glob("*.yaml"), key=_name)
    files += sorted(story_dir.glob("*.yml"), key=_name)
    ui_files = sorted((responses_dir / UI_DIR).glob("*.yaml"))
    cache = FileCache(cache_dir, _code()) if cache_dir is not None else None
    hashes: dict[Path, str] = {}
    raw: dict[Path, bytes] = {}
    try:
        paths = [*files, *ui_files]
        hashes, raw = cache.read(paths) if cache is not None else read_files(paths)
    except OSError:
        hashes, raw = {}, {}  # read again below, where the error is reported as it always was
        if cache is not None:
            cache.close()
        cache = None
    digest = _kb_digest(seeds_dir, hashes) if hashes else None
    if digest is not None:
        kb = _remembered_kb(digest, seeds_dir)
        if kb is not None:
            if cache is not None:
                cache.close()
            return kb
    drafts: list[Path] = []
    try:
        with paused_gc():
            kb = _load_knowledge(
                responses_dir, seeds_dir, files, raw, cache, drafts if skip_drafts else None
            )
    finally:
        if cache is not None:
            cache.save()
    if digest is not None and not drafts:  # a base less its drafts is not the files' base
        _LAST_KB.clear()
        _LAST_KB[digest] = (kb, hashes)
    return kb


def _name(path: Path) -> str:
    return path.name


def _load_knowledge(
    responses_dir: Path,
    seeds_dir: Path,
    files: list[Path],
    raw: Mapping[Path, bytes],
    cache: FileCache | None = None,
    drafts: list[Path] | None = None,
) -> KnowledgeBase:
    """The base of `files`; with `drafts` given, a draft is left out and added to it."""
    problems: list[str] = []
    story_dir = responses_dir / STORIES_DIR
    if not files:
        problems.append(f"{story_dir}: no story files (*.yaml) found")
    stories: list[Story] = []
    seed_problems: dict[str, str | None] = {}
    cached = [cache.story(path, seeds_dir) if cache is not None else None for path in files]
    missing = [path for path, story in zip(files, cached, strict=True) if story is None]

    def parse(n: int) -> bytes:
        """A missing file parsed: its story as the cache keeps it, or its problems."""
        try:
            story = load_story(missing[n], seeds_dir, raw.get(missing[n]), seed_problems)
        except KnowledgeError as exc:
            return dumps({"problems": exc.problems})
        return dumps({"story": story_json(story)})

    parsed = iter(map_forked(parse, len(missing)) or ())
    for path, found in zip(files, cached, strict=True):
        try:
            if found is None:
                found = _parsed(next(parsed, None), path, seeds_dir, seed_problems, raw)
                if cache is not None:
                    cache.remember(path, story_json(found))
            stories.append(found)
        except KnowledgeError as exc:
            still = sum(problem.endswith(DRAFT_PROBLEM) for problem in exc.problems)
            if drafts is not None and still:
                drafts.append(path)
                log.warning(
                    "story draft left out: %s (%d field(s) still TODO, %d problem(s) in all; "
                    "`python -m bot check` lists them)",
                    path,
                    still,
                    len(exc.problems),
                )
                continue
            problems.extend(exc.problems)
    seen: dict[str, Path] = {}
    numbered: dict[str, Story] = {}  # a seed's number -> the first story citing such a seed
    for story in stories:
        if story.id in seen:
            problems.append(
                f"{story.source}{field_line(story.source, ('id',))}: id: "
                f"'{story.id}' is already used by {seen[story.id]}"
            )
        seen.setdefault(story.id, story.source)
        first = numbered.setdefault(story.seed_prefix, story)
        if first.seed != story.seed:  # the labels of eval/ name a story by its seed's number
            problems.append(
                f"{story.source}{field_line(story.source, ('seed',))}: seed: "
                f"'{story.seed}' has the number {story.seed_prefix} of '{first.seed}' "
                f"({first.source}); give the post a number no other seed has"
            )
    ui: dict[str, Text] = {}
    try:
        ui = load_ui_dir(responses_dir / UI_DIR, raw, cache)
    except KnowledgeError as exc:
        problems.extend(exc.problems)
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(stories=tuple(stories), ui=ui, seeds_dir=seeds_dir)


def _parsed(
    result: bytes | None,
    path: Path,
    seeds_dir: Path,
    seed_problems: dict[str, str | None],
    raw: Mapping[Path, bytes],
) -> Story:
    """The story a worker parsed from `path` (`result`), or the file parsed here when no
    worker did; KnowledgeError with its problems for an invalid file."""
    if result is None:
        return load_story(path, seeds_dir, raw.get(path), seed_problems)
    data = loads(result)
    if "problems" in data:
        raise KnowledgeError(data["problems"])
    return story_of(data["story"], path)


# --- caches ----------------------------------------------------------------------------------
# A valid file is cached as JSON under a hash of the content modules' source and the file's
# bytes (bot/content/parsecache.py): a cache entry is never read for other content or by other code,
# and anything unreadable is ignored and the file parsed again. Only valid files are cached,
# so a problem is always reported from the file itself, with its line.
CACHE_DIR = "cache"  # under the data directory
# The last base loaded in this process and its files' content hashes, by digest.
_LAST_KB: dict[str, tuple[KnowledgeBase, Mapping[Path, str]]] = {}


def _code() -> bytes:
    """The source of every module that shapes a parsed file, part of each cache key."""
    return code_digest(
        __file__, model.__file__, yamlsafe.__file__, validation.__file__, parsecache.__file__
    )


def _kb_digest(seeds_dir: Path, hashes: Mapping[Path, str]) -> str:
    """The base's files (paths and content hashes) and the code that parses them."""
    h = hashlib.blake2b(digest_size=20)
    h.update(_code())
    h.update(f"{seeds_dir}\0{len(hashes)}\0".encode())
    for path, content in hashes.items():
        h.update(f"{path}\0{content}\0".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def digest_of(kb: KnowledgeBase) -> str | None:
    """The content hash `kb` was loaded under, if it is the base this process last loaded
    from files (by identity: a base built or changed in memory has none)."""
    for digest, (remembered, _) in _LAST_KB.items():
        if remembered is kb:
            return digest
    return None


def story_digests(kb: KnowledgeBase) -> dict[Path, bytes] | None:
    """For the base this process last loaded from files (see `digest_of`), a digest of each
    story file's bytes and of the code that parsed it: what its story depends on, already
    known, so the matcher keys each story's analysis by it instead of hashing the story's
    texts again. None for any other base."""
    digest = digest_of(kb)
    if digest is None:
        return None
    hashes = _LAST_KB[digest][1]
    code = _code()
    digests = {}
    for story in kb.stories:
        content = hashes.get(story.source)
        if content is None:
            return None
        h = hashlib.blake2b(code, digest_size=20)
        h.update(content.encode("ascii"))
        digests[story.source] = h.digest()
    return digests


def _remembered_kb(digest: str, seeds_dir: Path) -> KnowledgeBase | None:
    """The base this process loaded from exactly these files, if its seed files are all there."""
    if digest not in _LAST_KB:
        return None
    kb = _LAST_KB[digest][0]
    seeds = {story.seed for story in kb.stories}
    if any(seed_problem(seed, seeds_dir) for seed in seeds):
        return None  # loaded afresh, to report the problem with its file and line
    return kb
