"""The knowledge base: anecdotes and UI texts loaded from `responses/`, validated, immutable.

Content is data: every word a user reads comes from YAML so a team lead can fix a sentence
without touching Python. Validation happens here, once, so a broken file is reported with its
file, field and line instead of surfacing later as a traceback in front of a user.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LANGUAGES: tuple[str, ...] = ("id", "en")
ANECDOTES_DIR = "anecdotes"
UI_DIR = "ui"
MIN_TIPS = 3


class KnowledgeError(ValueError):
    """One or more problems in the knowledge base; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Text:
    """One piece of content in both languages."""

    id: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.id


@dataclass(frozen=True)
class Anecdote:
    id: str
    seed: str
    title: Text
    story: Text
    lessons: tuple[Text, ...]
    triggers: Mapping[str, tuple[str, ...]]
    tags: Mapping[str, tuple[str, ...]]
    tips: tuple[Text, ...]
    source: Path
    # Advice with a legal or HR edge (gifts to officials, relationships at a client's site):
    # shown with the story, so a lesson is never read as permission.
    caution: Text | None = None

    @property
    def seed_prefix(self) -> str:
        """The seed's number ("000"), the label the evaluation files use."""
        return self.seed.split("_", 1)[0]


@dataclass(frozen=True)
class KnowledgeBase:
    anecdotes: tuple[Anecdote, ...]
    ui: Mapping[str, Text]
    seeds_dir: Path

    def by_id(self, anecdote_id: str) -> Anecdote | None:
        for anecdote in self.anecdotes:
            if anecdote.id == anecdote_id:
                return anecdote
        return None

    def text(self, key: str, lang: str, **values: object) -> str:
        """A UI text in `lang`, with `{placeholders}` filled in."""
        template = self.ui[key].get(lang)
        return template.format(**values) if values else template

    def tips(self) -> Iterator[tuple[str, Text]]:
        """Every tip with a stable key "<anecdote id>:<index>", the unit of the tip deck."""
        for anecdote in self.anecdotes:
            for index, tip in enumerate(anecdote.tips):
                yield f"{anecdote.id}:{index}", tip


MAX_DEPTH = 20  # an anecdote is four levels deep; anything far deeper is a mistake or an attack


class _ContentLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases and with bounded nesting.

    Authors never need aliases (`*name`), and nine levels of nine aliases expand to millions
    of nodes ("billion laughs"): refused at the first alias, naming its line. Nesting a
    thousand levels deep would overflow Python's stack: refused past MAX_DEPTH.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed here", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)  # type: ignore[arg-type]
        finally:
            self._depth -= 1


def _line_map(text: str) -> dict[tuple[Any, ...], int]:
    """Map each YAML path (keys and list indexes) to its 1-based line, for error messages."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        # setdefault: a field's line is where its key is written, not where its value starts.
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[(*path, key.value)] = key.start_mark.line + 1
                walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    root = yaml.compose(text, Loader=_ContentLoader)
    if root is not None:
        walk(root, ())
    return lines


class _Checker:
    """Collects problems for one file so the author sees all of them at once."""

    def __init__(self, path: Path, lines: dict[tuple[Any, ...], int]) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[str] = []

    def fail(self, path: tuple[Any, ...], message: str) -> None:
        field_name = ".".join(str(p) for p in path) or "(file)"
        line = None
        for depth in range(len(path), -1, -1):
            line = self.lines.get(path[:depth])
            if line is not None:
                break
        where = f"{self.path}:{line}" if line else str(self.path)
        self.problems.append(f"{where}: {field_name}: {message}")

    def string(self, value: Any, path: tuple[Any, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty text")
            return ""
        return value.strip()

    def text(self, data: Mapping[str, Any], path: tuple[Any, ...]) -> Text:
        if not isinstance(data, Mapping):
            self.fail(path, "must have both 'id' (Indonesian) and 'en' (English) texts")
            return Text("", "")
        for lang in LANGUAGES:
            if lang not in data:
                self.fail(path, f"missing the '{lang}' language")
        return Text(
            id=self.string(data.get("id"), (*path, "id")) if "id" in data else "",
            en=self.string(data.get("en"), (*path, "en")) if "en" in data else "",
        )

    def text_list(self, value: Any, path: tuple[Any, ...], minimum: int = 1) -> tuple[Text, ...]:
        if not isinstance(value, list) or not value:
            self.fail(path, "must be a non-empty list of {id: ..., en: ...} items")
            return ()
        if len(value) < minimum:
            self.fail(path, f"needs at least {minimum} items, has {len(value)}")
        return tuple(self.text(item, (*path, i)) for i, item in enumerate(value))

    def per_language(self, value: Any, path: tuple[Any, ...]) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, Mapping):
            self.fail(path, "must map 'id' and 'en' to non-empty lists of texts")
            return {lang: () for lang in LANGUAGES}
        result: dict[str, tuple[str, ...]] = {}
        for lang in LANGUAGES:
            items = value.get(lang)
            if not isinstance(items, list) or not items:
                self.fail((*path, lang), "must be a non-empty list of texts")
                result[lang] = ()
                continue
            result[lang] = tuple(
                self.string(item, (*path, lang, i)) for i, item in enumerate(items)
            )
        return result


def _read_yaml(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.load(text, Loader=_ContentLoader), _line_map(text)
    except UnicodeDecodeError as exc:
        raise KnowledgeError([f"{path}: not UTF-8 text ({exc.reason})"]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        raise KnowledgeError([f"{path}{line}: invalid YAML: {exc.problem}"]) from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError([f"{path}: invalid YAML: {exc}"]) from exc


def _field_line(path: Path, field_path: tuple[Any, ...]) -> str:
    """The ":<line>" suffix of a field in a file already read, for cross-file problems."""
    try:
        line = _line_map(path.read_text(encoding="utf-8")).get(field_path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ""
    return f":{line}" if line else ""


def load_anecdote(path: Path, seeds_dir: Path) -> Anecdote:
    data, lines = _read_yaml(path)
    check = _Checker(path, lines)
    if not isinstance(data, Mapping):
        check.fail((), "must be a mapping with id, seed, title, story, lessons, triggers, ...")
        raise KnowledgeError(check.problems)
    for key in ("id", "seed", "title", "story", "lessons", "triggers", "tags", "tips"):
        if key not in data:
            check.fail((), f"missing required field '{key}'")
    anecdote_id = check.string(data.get("id"), ("id",)) if "id" in data else ""
    if anecdote_id and not all(c.isalnum() or c in "-_" for c in anecdote_id):
        check.fail(("id",), "use only letters, digits, '-' and '_' (it goes into buttons)")
    if len(anecdote_id.encode()) > 24:
        check.fail(("id",), "must be at most 24 characters (it goes into button data)")
    seed = check.string(data.get("seed"), ("seed",)) if "seed" in data else ""
    # The "full story" button sends this file to any user: it must be a post in seeds/, never
    # a path that climbs out of it ("../.env" would send the bot token).
    if seed and (Path(seed).name != seed or seed.startswith(".")):
        check.fail(("seed",), "must be a plain file name inside the seeds directory")
    elif seed and not (seeds_dir / seed).resolve().is_relative_to(seeds_dir.resolve()):
        check.fail(("seed",), "must be a file inside the seeds directory, not a link out of it")
    elif seed and not (seeds_dir / seed).is_file():
        check.fail(("seed",), f"seed file '{seed}' does not exist in {seeds_dir}")
    anecdote = Anecdote(
        id=anecdote_id,
        seed=seed,
        title=check.text(data.get("title"), ("title",)) if "title" in data else Text("", ""),
        story=check.text(data.get("story"), ("story",)) if "story" in data else Text("", ""),
        lessons=check.text_list(data.get("lessons"), ("lessons",)) if "lessons" in data else (),
        triggers=check.per_language(data.get("triggers"), ("triggers",))
        if "triggers" in data
        else {},
        tags=check.per_language(data.get("tags"), ("tags",)) if "tags" in data else {},
        tips=check.text_list(data.get("tips"), ("tips",), MIN_TIPS) if "tips" in data else (),
        source=path,
        caution=check.text(data["caution"], ("caution",)) if "caution" in data else None,
    )
    if check.problems:
        raise KnowledgeError(check.problems)
    return anecdote


def load_ui(path: Path) -> dict[str, Text]:
    """Load one UI texts file: a mapping of text keys to {id: ..., en: ...}."""
    data, lines = _read_yaml(path)
    check = _Checker(path, lines)
    if not isinstance(data, Mapping) or not data:
        check.fail((), "must map text keys to {id: ..., en: ...}")
        raise KnowledgeError(check.problems)
    ui = {str(key): check.text(value, (key,)) for key, value in data.items()}
    if check.problems:
        raise KnowledgeError(check.problems)
    return ui


def load_ui_dir(ui_dir: Path) -> dict[str, Text]:
    """Merge every `ui/*.yaml`; each transport or feature keeps its texts in its own file."""
    problems: list[str] = []
    files = sorted(ui_dir.glob("*.yaml"))
    if not files:
        raise KnowledgeError([f"{ui_dir}: no UI text files (*.yaml) found"])
    merged: dict[str, Text] = {}
    origin: dict[str, Path] = {}
    for path in files:
        try:
            texts = load_ui(path)
        except KnowledgeError as exc:
            problems.extend(exc.problems)
            continue
        for key, text in texts.items():
            if key in merged:
                line = _field_line(path, (key,))
                problems.append(f"{path}{line}: {key}: already defined in {origin[key]}")
                continue
            merged[key] = text
            origin[key] = path
    if problems:
        raise KnowledgeError(problems)
    return merged


def load_knowledge(responses_dir: Path, seeds_dir: Path) -> KnowledgeBase:
    """Load and validate everything; raise KnowledgeError listing every problem found."""
    problems: list[str] = []
    anecdote_dir = responses_dir / ANECDOTES_DIR
    files = sorted(anecdote_dir.glob("*.yaml")) + sorted(anecdote_dir.glob("*.yml"))
    if not files:
        problems.append(f"{anecdote_dir}: no anecdote files (*.yaml) found")
    anecdotes: list[Anecdote] = []
    for path in files:
        try:
            anecdotes.append(load_anecdote(path, seeds_dir))
        except KnowledgeError as exc:
            problems.extend(exc.problems)
    seen: dict[str, Path] = {}
    for anecdote in anecdotes:
        if anecdote.id in seen:
            problems.append(
                f"{anecdote.source}{_field_line(anecdote.source, ('id',))}: id: "
                f"'{anecdote.id}' is already used by {seen[anecdote.id]}"
            )
        seen.setdefault(anecdote.id, anecdote.source)
    ui: dict[str, Text] = {}
    try:
        ui = load_ui_dir(responses_dir / UI_DIR)
    except KnowledgeError as exc:
        problems.extend(exc.problems)
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(anecdotes=tuple(anecdotes), ui=ui, seeds_dir=seeds_dir)
