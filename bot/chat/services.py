"""Everything the bot needs at run time, built once at start-up and passed to the transports.

Building it in one place means the Telegram bot, the terminal chat and the CLI load the same
knowledge base, the same matcher index and the same reply texts in the same order, and a broken
knowledge base is reported (as `KnowledgeError`) before anything starts listening.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bot.chat.replies import Replies
from bot.content.knowledge import CACHE_DIR, load_knowledge
from bot.content.model import KnowledgeBase, KnowledgeError
from bot.engine.concepts import ConceptTableError
from bot.engine.confidence import CalibrationError
from bot.engine.lesson_weights import LessonWeightsError
from bot.engine.lesson_words import LessonWordsError
from bot.engine.matcher import Matcher
from bot.engine.scope import ScopeWordsError
from bot.engine.smalltalk import SmallTalkError
from bot.engine.story_words import StoryWordsError
from bot.engine.wordtable import NormalizeTableError
from bot.settings import Settings
from bot.storage.cache import paused_gc
from bot.storage.inboxrecords import TAUGHT, Decision
from bot.storage.store import DB_FILENAME, Store, read_taught

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Core:
    """The stateless part: knowledge, matcher and replies. Enough for `ask`, `check`, `eval`,
    which must not create a database as a side effect."""

    kb: KnowledgeBase
    matcher: Matcher
    replies: Replies


@dataclass(frozen=True)
class Services:
    """The core plus the store; owns the store, so `close()` when done."""

    settings: Settings
    kb: KnowledgeBase
    matcher: Matcher
    replies: Replies
    store: Store

    def close(self) -> None:
        self.store.close()


def teach(matcher: Matcher, taught: list[Decision]) -> int:
    """Give the matcher the phrasings team leads taught; one pointing at a story no longer
    in the knowledge base is ignored, with a log line. Returns how many are in use."""
    used = 0
    for decision in taught:
        if decision.story_id and matcher.teach(
            decision.question_id,
            decision.story_id,
            decision.text,
            scope=decision.scope,
            order=decision.decided_at.timestamp(),
        ):
            used += 1
        else:
            log.warning(
                "taught phrasing ignored: story %s is not in the knowledge base (question %s)",
                decision.story_id,
                decision.question_id,
            )
    if taught:
        log.info("taught phrasings in use: %d of %d", used, len(taught))
    return used


def build_core(settings: Settings, *, taught: bool = True, serving: bool = False) -> Core:
    """Load and validate the knowledge base, index it, check the reply texts (`_build_core`).

    The base and its index live as long as the process: they are built with the collector
    paused and then put out of its reach, so no later collection (nor the one at exit) walks
    their millions of objects again.
    """
    with paused_gc(freeze=True):
        return _build_core(settings, taught=taught, serving=serving)


def _build_core(settings: Settings, *, taught: bool = True, serving: bool = False) -> Core:
    """Load and validate the knowledge base, index it, check the reply texts.

    `taught`: add the phrasings team leads taught (the bot's answers); `eval` leaves them out,
    since it measures the knowledge base, and the taught questions would flatter its figures.
    Raises `KnowledgeError` listing every problem (file:line: field: message), including a
    broken normalisation table.
    """
    started = time.perf_counter()
    # Parsed files and the matcher's index are cached under the data directory (a cache
    # file, not the database: `ask`, `check` and `eval` still create no database).
    cache_dir = settings.data_dir / CACHE_DIR
    # Serving (`run`, `chat`, `ask`) leaves a story draft out instead of refusing to start.
    kb = load_knowledge(settings.responses_dir, settings.seeds_dir, cache_dir, skip_drafts=serving)
    try:
        matcher = Matcher(kb, cache_dir=cache_dir)
    except (
        NormalizeTableError,
        ConceptTableError,
        CalibrationError,
        LessonWeightsError,
        LessonWordsError,
        ScopeWordsError,
        SmallTalkError,
        StoryWordsError,
    ) as exc:
        # The word table, the calibration, the lesson and scope weights and the small talk
        # are content too: report them like the rest.
        raise KnowledgeError(str(exc).splitlines()) from exc
    replies = Replies(kb, matcher, default_lang=settings.default_language)
    # What team leads taught (bot/leads/inbox.py) applies to `ask` too; read without opening the
    # store, so a command that needs no database neither creates nor migrates one.
    if taught:
        teach(matcher, read_taught(settings.data_dir / DB_FILENAME))
    log.info(
        "knowledge base ready: %d stories, %d UI texts in %.0f ms",
        len(kb.stories),
        len(kb.ui),
        (time.perf_counter() - started) * 1000,
    )
    return Core(kb=kb, matcher=matcher, replies=replies)


def build_services(settings: Settings) -> Services:
    """The core plus the opened store (`<data_dir>/kisah.sqlite3`, migrated at open)."""
    core = build_core(settings, taught=False, serving=True)
    store = Store.open(settings)
    teach(core.matcher, store.decisions(TAUGHT))  # read through the store just opened
    return Services(
        settings=settings, kb=core.kb, matcher=core.matcher, replies=core.replies, store=store
    )
