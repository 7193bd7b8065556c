"""Reading content YAML safely: no aliases, bounded nesting, errors with file and line.

Anyone who can edit `responses/` writes the input here, so the parser refuses what could
exhaust memory or the stack (alias bombs, deep nesting) before any content check runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.content.model import KnowledgeError

MAX_DEPTH = 20  # a story is four levels deep; anything far deeper is a mistake or an attack


class _ContentLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases and with bounded nesting.

    Authors never need aliases (`*name`), and nine levels of nine aliases expand to millions
    of nodes ("billion laughs"): refused at the first alias, naming its line. Nesting a
    thousand levels deep would overflow Python's stack: refused past MAX_DEPTH.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        refuse_repeated_keys(node)
        return super().construct_mapping(node, deep=deep)

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


# libyaml (bundled in PyYAML's wheels) parses several times faster than the pure-Python
# loader, which matters at thousands of story files. Its composer is C, so the alias and
# depth rules of _ContentLoader are enforced by a scan of the parser's events first.
_FAST = bool(getattr(yaml, "__with_libyaml__", False))


def _refuse_aliases_and_depth(text: str) -> None:
    """_ContentLoader's rules on the C parser's events, stopping at the first offence.

    Events stream (the document is not built), so an alias bomb is refused at its first
    alias and a thousand-deep nesting at level MAX_DEPTH + 1, naming the line either way.
    A node at depth d starts while d - 1 collections are open, as in compose_node.
    """
    open_collections = 0
    starts = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed here", event.start_mark
                )
            if isinstance(event, starts):
                if open_collections + 1 > MAX_DEPTH:
                    raise _too_deep(event.start_mark)
                if not isinstance(event, yaml.ScalarEvent):
                    open_collections += 1
            elif isinstance(event, ends):
                open_collections -= 1
    except (yaml.scanner.ScannerError, yaml.parser.ParserError) as exc:
        # libyaml's own limit (1000 levels) is read ahead of the events: ours, in our words.
        if exc.problem and "maximum nesting depth" in exc.problem:
            raise _too_deep(exc.problem_mark) from None
        raise


def refuse_repeated_keys(node: yaml.MappingNode) -> None:
    """Raise, naming the line, when a key is written twice in this mapping (for loaders that
    build mappings with PyYAML's constructor: the word tables' too)."""
    seen: set[Any] = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            if key.value in seen:
                raise _twice(key)
            seen.add(key.value)


def _twice(key: yaml.Node) -> yaml.YAMLError:
    """A key written twice in one mapping: YAML keeps the last and drops the first without a
    word (a second `tips:` block silently loses the first one's tips)."""
    return yaml.constructor.ConstructorError(
        None,
        None,
        f"'{key.value}' is written twice here; the first one would be lost",
        key.start_mark,
    )


def _too_deep(mark: yaml.Mark | None) -> yaml.YAMLError:
    return yaml.composer.ComposerError(
        None, None, f"nested more than {MAX_DEPTH} levels deep", mark
    )


def parse(text: str) -> Any:
    """The YAML document in `text`, without aliases and nested at most MAX_DEPTH deep.

    With libyaml: an alias needs a `*`, so a text without one is loaded directly (libyaml
    itself stops at 1000 levels, and the constructor does not recurse), then its depth is
    measured on the result; the event scan, which names the offending line, runs only
    when a `*` might be an alias or the document is too deep.
    """
    if not _FAST:
        return yaml.load(text, Loader=_ContentLoader)
    if "*" in text:
        _refuse_aliases_and_depth(text)
    try:
        data, shallow = _load(text)
    except (yaml.scanner.ScannerError, yaml.parser.ParserError) as exc:
        if exc.problem and "maximum nesting depth" in exc.problem:
            raise _too_deep(exc.problem_mark) from None
        raise
    if not shallow and _depth(data) > MAX_DEPTH:
        _refuse_aliases_and_depth(text)  # raises, naming the line
        raise _too_deep(None)
    return data


_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "seq", "map"))


class _Unusual(Exception):
    """A node `_plain` leaves to PyYAML's constructor: a collection of another kind (a
    merge key, a set), a key that is not a string, or nesting past MAX_DEPTH."""


def _load(text: str) -> tuple[Any, bool]:
    """`yaml.load(text, Loader=yaml.CSafeLoader)`, and whether the result is known to be at
    most MAX_DEPTH deep. Strings, lists and string-keyed mappings (all a story holds)
    are built straight from libyaml's nodes: PyYAML's constructor, general enough for
    anchors and merges, took about as long as parsing at thousands of files. Anything else
    is built by that constructor, the same values either way."""
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, True
        try:
            return _plain(loader, node, 1), True
        except _Unusual:
            return loader.construct_document(node), False
    finally:
        loader.dispose()


def _plain(loader: yaml.CSafeLoader, node: yaml.Node, depth: int) -> Any:
    """The value of `node` at `depth` (counted as compose_node counts it)."""
    if depth > MAX_DEPTH:
        raise _Unusual
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR:
            return node.value
        return loader.construct_object(node, deep=True)  # numbers, booleans, null, dates
    if node.tag == _SEQ and isinstance(node, yaml.SequenceNode):
        return [_plain(loader, item, depth + 1) for item in node.value]
    if node.tag != _MAP or not isinstance(node, yaml.MappingNode):
        raise _Unusual
    mapping: dict[str, Any] = {}
    for key, value in node.value:
        if key.tag != _STR or not isinstance(key, yaml.ScalarNode) or depth >= MAX_DEPTH:
            raise _Unusual
        if key.value in mapping:
            raise _twice(key)
        mapping[key.value] = _plain(loader, value, depth + 1)
    return mapping


def _depth(data: Any) -> int:
    """Nesting depth as compose_node counts it: a scalar is 1, a collection one more than
    its deepest key or item (mapping keys are scalars: a collection key is unhashable)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((key, depth + 1) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((item, depth + 1) for item in value)
    return deepest


def _compose(text: str) -> yaml.Node | None:
    """The node tree of a document already accepted by `parse` (for line numbers)."""
    if _FAST:
        return yaml.compose(text, Loader=yaml.CSafeLoader)
    return yaml.compose(text, Loader=_ContentLoader)


def line_map(text: str) -> dict[tuple[Any, ...], int]:
    """Map each YAML path (keys and list indexes) to its 1-based line, for error messages.

    Built only when a problem is reported (bot/content/validation.py): a valid file is
    parsed once."""
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

    root = _compose(text)
    if root is not None:
        walk(root, ())
    return lines


def _decode(raw: bytes) -> str:
    """UTF-8 text with universal newlines, as `Path.read_text` reads it."""
    text = raw.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def read_yaml(path: Path, raw: bytes | None = None) -> tuple[Any, str]:
    """The parsed document and its text (kept to map lines if a problem is reported)."""
    try:
        text = path.read_text(encoding="utf-8") if raw is None else _decode(raw)
        return parse(text), text
    except UnicodeDecodeError as exc:
        raise KnowledgeError([f"{path}: not UTF-8 text ({exc.reason})"]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        lines = text.split("\n")
        at = lines[mark.line][: mark.column + 1] if mark and mark.line < len(lines) else ""
        hint = " (a tab: YAML indents with spaces only)" if "\t" in at else ""
        raise KnowledgeError([f"{path}{line}: invalid YAML: {exc.problem}{hint}"]) from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError([f"{path}: invalid YAML: {exc}"]) from exc


def field_line(path: Path, field_path: tuple[Any, ...]) -> str:
    """The ":<line>" suffix of a field in a file already read, for cross-file problems."""
    try:
        line = line_map(path.read_text(encoding="utf-8")).get(field_path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ""
    return f":{line}" if line else ""
