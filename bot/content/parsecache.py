"""The parse of each valid content file, kept as JSON under a hash of its bytes and of the code
that parsed it (bot/storage/cache.py), so a start after editing one story parses that story only.

Plain JSON: anyone who can write the data directory can change the cache, and reading it
must never run code. Anything unreadable is ignored and the file parsed again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.content.model import QuizItem, Story, Text
from bot.content.validation import seed_problem
from bot.storage.cache import Cache, dumps, loads


def code_digest(*modules: str) -> bytes:
    """The source of these modules (by file path), part of a cache key: a cache built by
    other code (a new field, a changed weight) must not be read as if built by this one."""
    h = hashlib.blake2b(digest_size=20)
    for module in modules:
        h.update(Path(module).read_bytes())
    return h.digest()


def text_json(text: Text) -> list[str]:
    return [text.id, text.en]


def story_json(a: Story) -> dict[str, Any]:
    return {
        "id": a.id,
        "seed": a.seed,
        "title": text_json(a.title),
        "story": text_json(a.story),
        "lessons": [text_json(t) for t in a.lessons],
        "triggers": {lang: list(items) for lang, items in a.triggers.items()},
        "tags": {lang: list(items) for lang, items in a.tags.items()},
        "tips": [text_json(t) for t in a.tips],
        "caution": None if a.caution is None else text_json(a.caution),
        "summary": None if a.summary is None else text_json(a.summary),
        "when": [{lang: list(items) for lang, items in w.items()} for w in a.when],
        "applies_to": list(a.applies_to),
        "caution_short": None if a.caution_short is None else text_json(a.caution_short),
        "quiz": [
            {
                "question": text_json(q.question),
                "options": {lang: list(items) for lang, items in q.options.items()},
                "correct": q.correct,
                "explanation": text_json(q.explanation),
                "lesson": q.lesson,
            }
            for q in a.quiz
        ],
        "situations": [text_json(t) for t in a.situations],
    }


# The checks below run on every field of thousands of stories at each start: written without
# generators, which made up half of reading a cached story.
def _text_of(value: Any) -> Text:
    if not (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], str)
    ):
        raise ValueError("not a text")
    return Text(value[0], value[1])


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not set(map(type, value)) <= {str}:
        raise ValueError("not a list of texts")
    return tuple(value)


def story_of(data: Any, path: Path) -> Story:
    """The story `story_json` wrote; ValueError (or TypeError) for anything else."""
    if not isinstance(data, dict):
        raise ValueError("not a story")
    caution = data["caution"]
    return Story(
        id=str(data["id"]),
        seed=str(data["seed"]),
        title=_text_of(data["title"]),
        story=_text_of(data["story"]),
        lessons=tuple(_text_of(t) for t in data["lessons"]),
        triggers={str(lang): _strings(items) for lang, items in data["triggers"].items()},
        tags={str(lang): _strings(items) for lang, items in data["tags"].items()},
        tips=tuple(_text_of(t) for t in data["tips"]),
        source=path,
        caution=None if caution is None else _text_of(caution),
        summary=None if data["summary"] is None else _text_of(data["summary"]),
        when=tuple({str(lang): _strings(items) for lang, items in w.items()} for w in data["when"]),
        applies_to=_strings(data["applies_to"]),
        caution_short=None if data["caution_short"] is None else _text_of(data["caution_short"]),
        quiz=tuple(_quiz_of(q) for q in data["quiz"]),
        situations=tuple(_text_of(t) for t in data["situations"]),
    )


def _quiz_of(data: Any) -> QuizItem:
    if not isinstance(data, dict):
        raise ValueError("not a quiz item")
    return QuizItem(
        question=_text_of(data["question"]),
        options={str(lang): _strings(items) for lang, items in data["options"].items()},
        correct=int(data["correct"]),
        explanation=_text_of(data["explanation"]),
        lesson=int(data["lesson"]),
    )


# A file whose size, times and inode are those recorded when it was last read is not read
# again: its content hash comes from that record. The change time (which no program can set
# back) is in the record, so a file rewritten in place, even with its modification time set
# back, is read again. A file written in the last seconds gets no record (its clock tick may
# not be over: another write in the same tick would keep its times), so it is read next time.
RECENT_SECONDS = 2.0


def content_hash(content: bytes) -> str:
    """A file's content, as its cache entries know it."""
    return hashlib.blake2b(content, digest_size=20).hexdigest()


def _stat_key(path: Path) -> tuple[str, bool]:
    """The key of the record of `path` as it is now, and whether it may be recorded (not
    written in the last seconds); OSError when it cannot be read."""
    st = path.stat()
    signature = f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
    h = hashlib.blake2b(signature.encode("utf-8", "surrogatepass"), digest_size=20)
    settled = time.time() - max(st.st_mtime, st.st_ctime) > RECENT_SECONDS
    return "stat:" + h.hexdigest(), settled


def read_files(paths: Sequence[Path]) -> tuple[dict[Path, str], dict[Path, bytes]]:
    """Each file's content hash and bytes, read now (no cache); OSError as reading raises."""
    raw = {}
    for path in paths:
        with open(path, "rb") as file:
            raw[path] = file.read()
    return {path: content_hash(content) for path, content in raw.items()}, raw


class FileCache:
    """The cached parse of each file of one load, read in one query, written in one."""

    def __init__(self, cache_dir: Path, code: bytes) -> None:
        self._store = Cache(cache_dir)
        self._code = code
        self._keys: dict[Path, str] = {}
        self._found: dict[str, bytes] = {}
        self._new: dict[str, bytes] = {}
        self._used: list[str] = []  # the records that spared reading a file
        self._seeds: dict[str, str | None] = {}

    def read(self, paths: Sequence[Path]) -> tuple[dict[Path, str], dict[Path, bytes]]:
        """Each file's content hash, and the bytes of the files that had to be read (those
        changed, or new, since their record); OSError as reading raises."""
        stat_keys = {path: _stat_key(path) for path in paths}
        records = self._store.get_many(key for key, _ in stat_keys.values())
        hashes: dict[Path, str] = {}
        raw: dict[Path, bytes] = {}
        for path, (key, settled) in stat_keys.items():
            known = records.get(key, b"").decode("ascii", "replace")
            if len(known) == 40 and all(c in "0123456789abcdef" for c in known):
                hashes[path] = known
                self._used.append(key)
                continue
            with open(path, "rb") as file:
                raw[path] = file.read()
            hashes[path] = content_hash(raw[path])
            if settled:
                self._new[key] = hashes[path].encode("ascii")
        for path, digest in hashes.items():
            h = hashlib.blake2b(self._code, digest_size=20)
            h.update(digest.encode("ascii"))
            self._keys[path] = "file:" + h.hexdigest()
        self._found = self._store.get_many(self._keys.values())
        return hashes, raw

    def _value(self, path: Path) -> Any:
        key = self._keys.get(path)
        return loads(self._found.get(key)) if key is not None else None

    def story(self, path: Path, seeds_dir: Path) -> Story | None:
        data = self._value(path)
        if data is None:
            return None
        try:
            story = story_of(data, path)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        problem = self._seeds.get(story.seed, False)
        if problem is False:  # one check per seed file: thousands of stories share a few
            problem = self._seeds[story.seed] = seed_problem(story.seed, seeds_dir)
        if problem:
            return None  # parsed again, to report the problem with its line
        return story

    def ui(self, path: Path) -> dict[str, Text] | None:
        data = self._value(path)
        if not isinstance(data, dict):
            return None
        try:
            return {str(key): _text_of(value) for key, value in data.items()}
        except ValueError:
            return None

    def remember(self, path: Path, value: Any) -> None:
        key = self._keys.get(path)
        if key is not None:
            self._new[key] = dumps(value)

    def close(self) -> None:
        self._store.close()

    def save(self) -> None:
        if self._new:
            touched = [key for key in self._keys.values() if key in self._found] + self._used
            self._store.put_many(self._new, touch=touched)
        self._store.close()
