"""The word table (`responses/normalize.yaml`): read, checked and parsed into lookups.

Kept apart from the normaliser that applies it: reading and validating the authors' file is
a job of its own (every malformed entry is an error naming its section), and the topic checks
(bot/engine/topics.py) read its subject lists too.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.content.model import LANGUAGES
from bot.content.yamlsafe import refuse_repeated_keys

DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "responses" / "normalize.yaml"

_BOOL = "tag:yaml.org,2002:bool"
_SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present


class WordLoader(_SAFE):  # type: ignore[misc,valid-type]
    """The safe loader, reading every plain scalar that is not a number as the word it is.

    YAML 1.1 reads "on", "off", "no" and "yes" (and "true") as booleans, so in a word list
    they became the words "true" and "false": the English stopword "on" weighed like a
    topic. A list of words never means a truth value. A key written twice (a concept or a
    synonym defined again further down) is refused, naming its line: YAML would keep the
    second and drop the first without a word.
    """

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        refuse_repeated_keys(node)
        return super().construct_mapping(node, deep=deep)


WordLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in _SAFE.yaml_implicit_resolvers.items()
}


class NormalizeTableError(ValueError):
    """The normalisation table is malformed; the message names the section and entry."""


@dataclass(frozen=True)
class Table:
    """The parsed `normalize.yaml`, already folded into lookup structures."""

    slang: Mapping[str, tuple[str, ...]]
    particles: frozenset[str]
    no_stem: frozenset[str]
    roots: frozenset[str]
    particle_suffixes: tuple[str, ...]
    possessive_suffixes: tuple[str, ...]
    derivational_suffixes: tuple[str, ...]
    min_stem: int
    concepts: Mapping[str, str]
    concept_phrases: Mapping[str, str]
    phrases: Mapping[str, str]
    stopwords: frozenset[str]
    common: Mapping[str, tuple[str, ...]]
    work: Mapping[str, tuple[str, ...]]
    private: Mapping[str, tuple[str, ...]]
    customers: Mapping[str, tuple[str, ...]]
    superiors: Mapping[str, tuple[str, ...]]
    law: Mapping[str, tuple[str, ...]]
    outside: Mapping[str, tuple[tuple[str, ...], ...]]  # subject -> its groups of words
    language_words: Mapping[str, frozenset[str]]
    # Subjects a caution applies to (officials, gifts, ...): name -> its words.
    subjects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Questions of the law that get the legal reply (bribes, kickbacks): like `outside`, its
    # groups written with the roles of `legal_roles` ("@official": every word of that role).
    legal: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # Per legal subject, words that make a question another one ("a price cut" is no kickback).
    legal_none: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Words of a question asking how NOT to look like a bribe: it wants a story, not the law.
    legal_unless: tuple[str, ...] = ()
    # ... unless someone asks for it ("he asks a fee: how do I refuse without losing the
    # project" is still a question of the law): `legal_unless_asked` in the table.
    legal_asked: tuple[tuple[str, ...], ...] = ()
    # The questions of the law after whose reply a story may be offered (whether a gift to an
    # official is allowed: how to win one over without gifts); never after a bribe or a cut.
    legal_story_after: frozenset[str] = frozenset()
    # Phrases in which a law word names a part of a company ("tim legal", "legal team"):
    # a message naming them does not ask what the law says.
    law_units: tuple[str, ...] = ()


def _words(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise NormalizeTableError(f"{where}: must be a list of words")
    return [str(v).strip().lower() for v in value if str(v).strip()]


def _subjects(value: Any, where: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """`outside`: each subject a list of groups (lists) of words."""
    if not isinstance(value, Mapping):
        raise NormalizeTableError(f"{where}: must map each subject to a list of word lists")
    subjects = {}
    for name, groups in value.items():
        if not isinstance(groups, list) or not groups:
            raise NormalizeTableError(f"{where}: {name}: must be a list of word lists")
        subjects[str(name)] = tuple(tuple(_words(group, f"{where}: {name}")) for group in groups)
    return subjects


def _legal(
    value: Any, roles: Any, where: str
) -> tuple[dict[str, tuple[tuple[str, ...], ...]], dict[str, tuple[str, ...]]]:
    """`legal`: each subject a list of groups, or `{all: groups, none: words}`; a group's entry
    "@role" stands for every word of that role in `legal_roles` (the parts a question of the
    law is made of: a gift, someone who decides, a decision...), so each subject is written as
    the shape of the question rather than as word lists repeated."""
    role_words = _subject_words(roles or {}, f"{where}_roles")
    if not isinstance(value, Mapping):
        raise NormalizeTableError(f"{where}: must map each subject to a list of word lists")
    plain: dict[str, Any] = {}
    none: dict[str, tuple[str, ...]] = {}
    for name, spec in value.items():
        if isinstance(spec, Mapping):
            plain[name] = spec.get("all")
            none[str(name)] = tuple(_words(spec.get("none") or [], f"{where}: {name}: none"))
        else:
            plain[name] = spec
    for name, groups in plain.items():
        if not isinstance(groups, list) or not groups:
            raise NormalizeTableError(f"{where}: {name}: must be a list of word lists")
        expanded = []
        for group in groups:
            entries = [group] if isinstance(group, str) else group
            words: list[str] = []
            for word in _words(entries, f"{where}: {name}"):
                if not word.startswith("@"):
                    words.append(word)
                elif word[1:] in role_words:
                    words.extend(role_words[word[1:]])
                else:
                    raise NormalizeTableError(f"{where}: {name}: no role {word[1:]!r}")
            expanded.append(words)
        plain[name] = expanded
    return _subjects(plain, where), none


def _subject_words(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """`subjects`: each subject a list of words."""
    if not isinstance(value, Mapping):
        raise NormalizeTableError(f"{where}: must map each subject to a list of words")
    return {str(name): tuple(_words(words, f"{where}: {name}")) for name, words in value.items()}


# The sections `load_table` reads; any other is refused.
SECTIONS = (
    "slang",
    "particles",
    "no_stem",
    "roots",
    "affixes",
    "concepts",
    "phrases",
    "stopwords",
    "language",
    "common",
    "work",
    "customers",
    "superiors",
    "law",
    "law_units",
    "outside",
    "private",
    "subjects",
    "legal_roles",
    "legal",
    "legal_unless",
    "legal_unless_asked",
    "legal_story_after",
)


def load_table(path: Path = DEFAULT_TABLE) -> Table:
    """Read and check the table; every malformed entry is an error naming its section."""
    try:
        # libyaml when present: a quarter of a second less on every start
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=WordLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise NormalizeTableError(f"{path}: cannot read the normalisation table: {exc}") from exc
    if not isinstance(data, Mapping):
        raise NormalizeTableError(f"{path}: must be a mapping of sections")
    for section in data:
        if section not in SECTIONS:  # a misspelt section would be dropped without a word
            close = difflib.get_close_matches(str(section), SECTIONS, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise NormalizeTableError(
                f"{path}: {section}: unknown section; {hint}known: {', '.join(SECTIONS)}"
            )

    legal, legal_none = _legal(data.get("legal") or {}, data.get("legal_roles"), f"{path}: legal")
    asked = data.get("legal_unless_asked")
    legal_asked = (
        _legal({"asked": asked}, data.get("legal_roles"), f"{path}: legal_unless_asked")[0]["asked"]
        if asked
        else ()
    )
    story_after = data.get("legal_story_after") or []
    if not isinstance(story_after, list) or any(kind not in legal for kind in story_after):
        unknown = (
            [k for k in story_after if k not in legal] if isinstance(story_after, list) else []
        )
        raise NormalizeTableError(
            f"{path}: legal_story_after: must list subjects of `legal`"
            + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else "")
        )
    slang: dict[str, tuple[str, ...]] = {}
    for key, value in (data.get("slang") or {}).items():
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
            raise NormalizeTableError(f"{path}: slang: {key!r}: key and value must be texts")
        slang[key.lower()] = tuple(value.lower().split())

    affixes = data.get("affixes") or {}
    concepts: dict[str, str] = {}
    concept_phrases: dict[str, str] = {}
    for head, members in (data.get("concepts") or {}).items():
        if not isinstance(head, str) or " " in head:
            raise NormalizeTableError(f"{path}: concepts: {head!r}: the head must be one word")
        for member in [head, *_words(members, f"{path}: concepts: {head}")]:
            if " " in member:
                concept_phrases[member] = head
            else:
                concepts.setdefault(member, head)

    phrases: dict[str, str] = {}
    for key, value in (data.get("phrases") or {}).items():
        if not isinstance(key, str) or not isinstance(value, str) or " " in value.strip():
            raise NormalizeTableError(f"{path}: phrases: {key!r}: must map text to one word")
        phrases[key.lower()] = value.strip().lower()

    stop = data.get("stopwords") or {}
    language = data.get("language") or {}
    roots = set(_words(data.get("roots") or [], f"{path}: roots")) | set(concepts.values())
    return Table(
        slang=slang,
        particles=frozenset(_words(data.get("particles") or [], f"{path}: particles")),
        no_stem=frozenset(_words(data.get("no_stem") or [], f"{path}: no_stem")),
        roots=frozenset(roots),
        particle_suffixes=tuple(affixes.get("particle_suffixes", ())),
        possessive_suffixes=tuple(affixes.get("possessive_suffixes", ())),
        derivational_suffixes=tuple(affixes.get("derivational_suffixes", ())),
        min_stem=int(affixes.get("min_stem", 4)),
        concepts=concepts,
        concept_phrases=concept_phrases,
        phrases=phrases,
        common={
            lang: tuple(_words((data.get("common") or {}).get(lang, []), f"{path}: common.{lang}"))
            for lang in LANGUAGES
        },
        work={
            lang: tuple(_words((data.get("work") or {}).get(lang, []), f"{path}: work.{lang}"))
            for lang in LANGUAGES
        },
        private={
            lang: tuple(
                _words((data.get("private") or {}).get(lang, []), f"{path}: private.{lang}")
            )
            for lang in LANGUAGES
        },
        customers={
            lang: tuple(
                _words((data.get("customers") or {}).get(lang, []), f"{path}: customers.{lang}")
            )
            for lang in LANGUAGES
        },
        superiors={
            lang: tuple(
                _words((data.get("superiors") or {}).get(lang, []), f"{path}: superiors.{lang}")
            )
            for lang in LANGUAGES
        },
        law={
            lang: tuple(_words((data.get("law") or {}).get(lang, []), f"{path}: law.{lang}"))
            for lang in LANGUAGES
        },
        law_units=tuple(_words(data.get("law_units") or [], f"{path}: law_units")),
        outside=_subjects(data.get("outside") or {}, f"{path}: outside"),
        subjects=_subject_words(data.get("subjects") or {}, f"{path}: subjects"),
        legal=legal,
        legal_none=legal_none,
        legal_unless=tuple(_words(data.get("legal_unless") or [], f"{path}: legal_unless")),
        legal_asked=legal_asked,
        legal_story_after=frozenset(story_after),
        stopwords=frozenset(
            _words(stop.get("id", []), f"{path}: stopwords.id")
            + _words(stop.get("en", []), f"{path}: stopwords.en")
        ),
        language_words={
            lang: frozenset(_words(language.get(lang, []), f"{path}: language.{lang}"))
            for lang in LANGUAGES
        },
    )
