"""UI-text declarations and their check: which texts from `responses/ui/*.yaml` each module uses,
with which placeholders, validated once at start-up.

A missing text or a misspelt placeholder must fail `python -m bot check`, not the one
conversation that needs it; every module that reads UI texts declares them with `UiTexts`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.chat.markup import html_problem
from bot.content.model import LANGUAGES, KnowledgeBase


@dataclass(frozen=True)
class UiTexts:
    """The UI texts one module uses, declared next to the code that uses them.

    Why a declaration instead of a check at the point of use: a missing text or a misspelt
    placeholder must fail `python -m bot check` (and the start-up), not the one conversation
    that happens to need it. Every module that reads UI texts (these replies, the console, the
    Telegram menus and inline mode, the team commands) declares one of these, and
    `check_texts` validates them all the same way.
    """

    file: str  # where the texts live, named in every problem ("responses/ui/team.yaml")
    texts: Mapping[str, frozenset[str]]  # key -> the placeholders the code fills in
    plain: frozenset[str] = field(default_factory=frozenset)  # no markup: buttons, menus
    # Texts that are a list, split on spaces by the code (weekday names): how many words.
    words: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = (self.plain | set(self.words)) - set(self.texts)
        if unknown:
            raise ValueError(f"texts not declared: {sorted(unknown)}")


def check_texts(kb: KnowledgeBase, *declared: UiTexts) -> list[str]:
    """Problems with the declared UI texts: missing, bad placeholders, bad HTML.

    The replies check their own declaration on construction; the CLI's `check` and the
    Telegram start-up pass every module's declaration.
    """
    problems: list[str] = []
    for spec in declared:
        for key, allowed in spec.texts.items():
            problems.extend(_text_problems(kb, spec, key, allowed))
    return problems


def _text_problems(
    kb: KnowledgeBase, spec: UiTexts, key: str, allowed: frozenset[str]
) -> list[str]:
    text = kb.ui.get(key)
    if text is None:
        return [f"{spec.file}: {key}: missing UI text (both id and en needed)"]
    problems: list[str] = []
    formatter = string.Formatter()
    for lang in LANGUAGES:
        template = text.get(lang)
        where = f"{spec.file}: {key}.{lang}"
        try:
            names = {name for _, name, _, _ in formatter.parse(template) if name is not None}
        except ValueError as exc:
            problems.append(f"{where}: broken {{placeholder}} ({exc}); write {{{{ for {{")
            continue
        unknown = names - allowed
        if unknown:
            known = ", ".join(sorted("{" + n + "}" for n in allowed)) or "none"
            problems.append(
                f"{where}: unknown placeholder {{{sorted(unknown)[0]}}} (allowed: {known})"
            )
            continue
        expected_words = spec.words.get(key)
        if expected_words is not None and len(template.split()) != expected_words:
            problems.append(
                f"{where}: needs exactly {expected_words} words separated by spaces, "
                f"has {len(template.split())}"
            )
            continue
        if key in spec.plain:
            continue
        problem = html_problem(template.format(**dict.fromkeys(allowed, "x")))
        if problem:
            problems.append(f"{where}: invalid Telegram HTML: {problem}")
    return problems
