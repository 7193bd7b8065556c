"""The matcher: which story fits a question, and how sure are we.

Built once into an index at start-up; a question only touches the index. Both sides are
normalised by bot/engine/normalize.py (slang, affixes, synonyms across languages), and every word is
weighted: a word found in every story ("customer") says little, a word that names one story
("teknisi", "wayang") says a lot, and a word that appears only by accident of phrasing (one
trigger of a hundred says "pagi") is damped. A question is scored against each story on:

- coverage: the share of the question's weight that the story's vocabulary (title, triggers,
  tags, lessons) explains. A question about the weather is mostly words no story uses, so it
  covers nothing, which is what makes an honest refusal possible;
- phrasing: the best single trigger (or title, or tag), as a recall-weighted overlap of
  weighted words (does one phrasing say what the question says, rather than scattered
  words from many?), refined with rapidfuzz's `token_sort_ratio` on the normalised strings.
  (Not WRatio: its partial scoring gives a high score for one shared word.)

Words missing from the vocabulary are looked up with rapidfuzz's OSA edit distance (1 edit, 2
for long words), both as canonical words and as written in the stories ("terlambt" is one edit
from "terlambat", further from the stem "telat"), which absorbs typos. The confidence is
0-100, damped when the evidence is thin (a single matched word); `ask` refuses below a
threshold calibrated on labelled questions, `rank` does not (evaluation, "did you mean").

That lexical evidence is read by a small calibrated model (bot/engine/confidence.py) into the
confidence users see: the whole message and each of its clauses are scored, so a long
situation is judged by its informative parts rather than diluted by names, places and chatter,
and the result is a probability that the story is right, comparable across lengths. Between
"sure" and "no evidence" lies "plausible": `ask` then offers the story as a suggestion.

The work is split by job: the tuning constants (bot/engine/params.py), the index's data, its
building and its bytes in the cache (bot/engine/index.py, index_build.py, index_bytes.py), the
scoring of a question (bot/engine/scoring.py); this module is the facade that ties them
together (ask, rank, explain, teach, lesson order) and keys the cache.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Hashable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from bot.content.knowledge import digest_of, story_digests
from bot.content.model import KnowledgeBase, Story
from bot.content.parsecache import code_digest
from bot.engine.concepts import FILE as CONCEPTS
from bot.engine.concepts import ConceptTable, load_concepts, table_json, table_of
from bot.engine.confidence import BRIEF_WORDS, Calibration, Evidence
from bot.engine.index import story_texts
from bot.engine.index_build import INDEX_ENTRIES, IndexBuilding, wait_for_writes
from bot.engine.index_bytes import index_of
from bot.engine.index_patch import patch
from bot.engine.language import LanguageDetector, decide
from bot.engine.lesson_order import LessonOrder
from bot.engine.lesson_weights import FILE as LESSON_WEIGHTS
from bot.engine.lesson_weights import LessonWeights
from bot.engine.lesson_words import FILE as LESSON_WORDS
from bot.engine.lesson_words import LessonWords
from bot.engine.normalize import DEFAULT_TABLE, Normalizer, get_normalizer
from bot.engine.params import DEFAULT_PARAMS, ScoringParams
from bot.engine.scope import FILE as SCOPE_WORDS
from bot.engine.scope import ScopeWords
from bot.engine.scoring import MAX_QUESTION_WORDS, LexicalScoring, Question
from bot.engine.situations import SituationIndex
from bot.engine.smalltalk import FILE as SMALL_TALK
from bot.engine.smalltalk import SmallTalk
from bot.engine.spelling import Speller
from bot.engine.story_words import FILE as STORY_WORDS
from bot.engine.story_words import StoryWords
from bot.engine.taught import Phrasing, TaughtPhrasings
from bot.engine.topics import TopicChecks
from bot.engine.wordtable import Table
from bot.storage.cache import Cache, dumps, loads, paused_gc

CALIBRATION = "calibration.yaml"  # beside normalize.yaml: the weights fitted for this base
_WORD = re.compile(r"\w+")
# Words that make the boss the one the asker turns to: "ke atasan", "to my manager".
_TOWARD = frozenset({"ke", "kepada", "to"})
NO_CONCEPTS = ConceptTable((), {}, {}, 1)  # a base without responses/concepts.yaml
FIT_ONLY = LessonWeights(fit=1.0, phrase_rss=0.0)  # no lesson_weights.yaml: the fit alone


@dataclass(frozen=True)
class Match:
    story: Story
    score: int  # confidence 0-100
    lesson: int = 0  # index of the lesson that fits the question best (shown first)
    lessons: tuple[int, ...] = ()  # every lesson's index in order of fit ("another lesson")


@dataclass(frozen=True)
class Answer:
    question: str
    lang: str
    matches: tuple[Match, ...]  # confident, best first; () = no story to tell
    maybe: Match | None = None  # plausible but unsure: offered, not told
    small_talk: str | None = None  # "greeting", "thanks", ...: not a question at all
    # A question of the law (a bribe, a kickback, a gift to an official: `legal` in
    # normalize.yaml): answered with what the law says, a story at most offered (`maybe`).
    legal: str | None = None
    # The subjects the question touches (`subjects` in normalize.yaml): a story's caution is
    # shown in the first message only for one of its `applies_to`.
    subjects: frozenset[str] = frozenset()

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


@dataclass(frozen=True)
class Explanation:
    """Why a story got its confidence: for authors tuning triggers and for tests."""

    story: Story
    score: int
    lexical: int  # the lexical score before calibration, 0-100
    coverage: float  # 0-1: share of the question's weight the story's vocabulary explains
    phrasing: float  # 0-1: how well its best single phrasing says the same thing
    evidence: float  # matched word weight (evidence_mass or more = full confidence)
    best_phrasing: str  # that phrasing, normalised


class Matcher(IndexBuilding, LexicalScoring):
    """Ranks stories for a question; the index is built once in the constructor."""

    def __init__(
        self,
        kb: KnowledgeBase,
        threshold: int | None = None,
        *,
        normalizer: Normalizer | None = None,
        calibration: Calibration | None = None,
        params: ScoringParams | None = None,
        default_lang: str = "id",
        cache_dir: Path | None = None,
        concepts: ConceptTable | None = None,
        small_talk: SmallTalk | None = None,
        lesson_weights: LessonWeights | None = None,
        scope_words: ScopeWords | None = None,
        lesson_words: LessonWords | None = None,
        story_words: StoryWords | None = None,
    ) -> None:
        """`cache_dir`: where the built index is kept between runs (see `_read_index`);
        `concepts`: the concept table, instead of the base's `concepts.yaml`; `small_talk`:
        the greetings and thanks, instead of the base's file (a story's lessons share the
        story matcher's: parsing the file was most of the time a first question about a
        story took at 5,000 stories); `lesson_weights`: the order of a story's lessons,
        instead of the base's `lesson_weights.yaml`; `scope_words`: the word model of what
        Kisah is asked (bot/engine/scope.py), instead of the base's `scope_words.yaml`;
        `lesson_words`: the words that point to a story's lessons, instead of the base's
        `lesson_words.yaml`; `story_words`: the words that point to a story
        (bot/engine/story_words.py), instead of the base's `story_words.yaml`."""
        self.kb = kb
        self.params = params or DEFAULT_PARAMS
        self.threshold = self.params.threshold if threshold is None else threshold
        self.maybe_threshold = min(self.params.maybe_threshold, self.threshold)
        self.normalizer_path = _table_path(kb)
        cache = Cache(cache_dir) if cache_dir is not None and normalizer is None else None
        self.normalizer = normalizer or get_normalizer(self.normalizer_path)
        self.detector = LanguageDetector(self.normalizer)  # the base's own table
        base_dir = _table_path(kb).parent
        self.calibration = calibration or Calibration.load(base_dir / CALIBRATION)
        if small_talk is None:
            small_talk = SmallTalk.load(base_dir / SMALL_TALK)
        self.small_talk = small_talk
        if lesson_weights is None:
            lesson_weights = LessonWeights.load(base_dir / LESSON_WEIGHTS) or FIT_ONLY
        if scope_words is None:
            scope_words = ScopeWords.load(base_dir / SCOPE_WORDS)
        self.scope_words = scope_words
        if story_words is None:
            story_words = StoryWords.load(base_dir / STORY_WORDS, (s.id for s in kb.stories))
        self.story_words = story_words
        if lesson_words is None:
            counts = {story.id: len(story.lessons) for story in kb.stories}
            lesson_words = LessonWords.load(base_dir / LESSON_WORDS, counts)
        self.lessons = LessonOrder(lesson_weights, lesson_words, self._lesson_matcher, kb.seeds_dir)
        self.concepts_path = _concepts_path(kb)
        self._concepts_key = ""  # which concept table the cached index's situations were read by
        if concepts is None and not self.concepts_path.is_file():
            concepts = NO_CONCEPTS
        self.default_lang = default_lang
        self.stories = kb.stories
        self._positions = {story.id: n for n, story in enumerate(kb.stories)}
        self.taught = TaughtPhrasings()  # what team leads taught, on top of the index
        self._speller: Speller | None = None  # built on first use, from the index
        self._fuzzy_cache: dict[tuple[str, str], tuple[tuple[int, float], ...]] = {}
        self._written_forms: dict[str, dict[str, tuple[str | None, str | None]]] = {}
        self._story_files: dict[Path, bytes] | None = None
        if cache is None:
            self.concept_table = concepts or load_concepts(self.concepts_path, self.normalizer)
            with paused_gc():
                self._index = self._build(kb.stories)
            self.situations = self._situations()
            return
        try:
            wait_for_writes()  # an index this process is still writing is read from its file
            try:
                self._built_by = self._builder_digest()
            except OSError:  # the table cannot be read: loading it has reported that
                self.concept_table = concepts or load_concepts(self.concepts_path, self.normalizer)
                self._index = self._build(kb.stories)
                self.situations = self._situations()
                return
            if concepts is None:
                self.concept_table = self._cached_concepts(cache)
            else:
                self.concept_table = concepts
                table = hashlib.blake2b(dumps(table_json(concepts)), digest_size=20)
                self._concepts_key = "table:" + table.hexdigest()
            self._index_cache_key = self._index_key(kb)
            with paused_gc():
                index = index_of(cache.get_large("index:" + self._index_cache_key), len(kb.stories))
                if index is None:
                    self._story_files = story_digests(kb)
                    index = self._build(kb.stories, cache)
            self._index = index
            self.situations = self._situations()
        finally:
            cache.close()

    def _cached_concepts(self, cache: Cache) -> ConceptTable:
        """The concept table folded by an earlier run (keyed by this builder and the file's
        bytes), else read, checked and folded now and kept: folding its members costs a
        start tens of milliseconds. Only a valid table is ever kept."""
        raw = self.concepts_path.read_bytes()
        h = hashlib.blake2b(self._built_by, digest_size=20)
        h.update(raw)
        key = "concepts:" + h.hexdigest()
        self._concepts_key = key  # the index's situations are read through this table
        table = table_of(loads(cache.get(key)))
        if table is None:
            table = load_concepts(self.concepts_path, self.normalizer)
            cache.put_many({key: dumps(table_json(table))})
            cache.keep_latest("concepts:", INDEX_ENTRIES)
        return table

    def _situations(self) -> SituationIndex:
        """The stories' situations as concept sets (read through the table with the index)."""
        return SituationIndex(
            self.concept_table,
            [[frozenset(c) for c in story] for story in self._index.situation_concepts],
        )

    def _builder_digest(self) -> bytes:
        """What every index this process builds depends on besides the stories: the code
        (this module and the modules it is split into, bot/engine/normalize.py with its word
        table and topic checks, the concept modules), the scoring parameters, the stemmer's
        dictionary and the word table, so a cache is never read as if built by other code."""
        h = hashlib.blake2b(digest_size=20)
        h.update(
            code_digest(
                __file__,
                inspect.getfile(ScoringParams),
                inspect.getfile(story_texts),
                inspect.getfile(IndexBuilding),
                inspect.getfile(index_of),
                inspect.getfile(patch),
                inspect.getfile(LexicalScoring),
                inspect.getfile(Normalizer),
                inspect.getfile(TopicChecks),
                inspect.getfile(Table),
                inspect.getfile(SituationIndex),
                inspect.getfile(ConceptTable),
            )
        )
        h.update(repr(self.params).encode())  # the index is built with these
        h.update(f"dictionary\0{version('PySastrawi')}\0".encode())  # and the stemmer's roots
        table = self.normalizer_path
        h.update(f"{table}\0".encode())
        h.update(table.read_bytes())
        return h.digest()

    def _index_key(self, kb: KnowledgeBase) -> str:
        """The whole index's key: the builder and every story's matched texts (or the
        files' hash, when kb is the base just loaded from them: no need to hash it again)."""
        h = hashlib.blake2b(self._built_by, digest_size=20)
        h.update(f"{self._concepts_key}\0".encode())  # the situations' concepts
        loaded = digest_of(kb)
        if loaded is not None:
            h.update(f"files\0{loaded}".encode())
            return h.hexdigest()
        for story in kb.stories:
            h.update(b"\x1e")
            h.update(story_texts(story))
        return h.hexdigest()

    # --- taught phrasings -----------------------------------------------------------------
    def phrasing(
        self, story_id: str, text: str, *, scope: int | None = None, order: float = 0.0
    ) -> Phrasing | None:
        """`text` read as a question is, as a phrasing of the story, for the chats of `scope`
        (a group's id, None: every chat); None when the story is not in this base or the text
        has no content word (nothing to learn from)."""
        story_index = self._positions.get(story_id)
        if story_index is None:
            return None
        lang = self.detector.detect(text, self.default_lang)
        pairs = self._question_words(self._read(text), lang)[:MAX_QUESTION_WORDS]
        weights = {w: self._weight(w, self._lookup(w, surface), lang) for w, surface in pairs}
        return Phrasing(story_index, weights, scope, order) if weights else None

    def teach(
        self,
        key: Hashable,
        story_id: str,
        text: str,
        *,
        scope: int | None = None,
        order: float = 0.0,
    ) -> bool:
        """Use `text` as a phrasing of the story from the next question on (under `key`,
        the question's id; teaching the key again re-points it), in the chats of `scope`
        (see `phrasing`). False if `phrasing` is None."""
        phrasing = self.phrasing(story_id, text, scope=scope, order=order)
        if phrasing is None:
            return False
        self.taught.put(key, phrasing)
        return True

    def forget(self, key: Hashable) -> bool:
        """Stop using the phrasing taught under `key` (undo); False if there was none."""
        return self.taught.remove(key)

    def content_words(self, question: str) -> tuple[str, ...]:
        """The question's content words as the scorer reads them (folded, misspellings
        corrected): what the scope words are fitted on and read from."""
        _, q = self._lexical(self._read(question))
        return q.words if q is not None else ()

    def evidence(self, question: str) -> list[tuple[Story, Evidence]]:
        """Each candidate story with the evidence behind its confidence (for calibration)."""
        scored, _, evidence = self._evidence(self._read(question))
        return [(self.stories[s.story_index], e) for s, e in zip(scored, evidence, strict=True)]

    def lesson_order(
        self, story_index: int, question: str, read: Question | None = None
    ) -> tuple[int, ...]:
        """The story's lessons, best fit for the question first (bot/engine/lesson_order.py).
        `read`: the question as this matcher read it, if it has."""
        return self.lessons.order(self.stories[story_index], question, read)

    def lesson_features(
        self, story: Story, question: str
    ) -> tuple[tuple[float, float, float], ...]:
        """Each of the story's lessons' (fit, phrase_rss, words) for the question, in the
        authors' order: what the lesson weights read, for fitting them (`calibrate --lessons`)."""
        text = self._read(question)  # as the answer reads it (`_ranked`)
        _, read = self._lexical(text)
        return self.lessons.features(story, text, read)

    def _lesson_matcher(self, lessons: KnowledgeBase) -> Matcher:
        """A matcher whose "stories" are one story's lessons, reading words as this one does."""
        return Matcher(
            lessons,
            normalizer=self.normalizer,
            calibration=self.calibration,
            params=self.params,
            default_lang=self.default_lang,
            concepts=NO_CONCEPTS,  # lessons are ordered by their words
            small_talk=self.small_talk,
            lesson_weights=FIT_ONLY,  # a lesson has no lessons...
            scope_words=self.scope_words,
            lesson_words=LessonWords(),
            story_words=StoryWords(),  # ...and no labelled messages of its own
        )

    def _ranked(
        self, question: str, limit: int, chat_id: int | None = None
    ) -> tuple[list[Match], Question | None]:
        """Best matches, and the question as the index saw it (`_read`: without the
        pleasantries around it, its misspelt words corrected)."""
        question = self._read(question)
        scored, q = self._score(question, chat_id)
        matches = []
        for s in scored[:limit]:
            order = self.lesson_order(s.story_index, question, q)
            lesson = order[0] if order else 0
            matches.append(
                Match(self.stories[s.story_index], _percent(s.confidence), lesson, order)
            )
        return matches, q

    def _read(self, question: str) -> str:
        """The message as the index reads it: without the pleasantries around it
        (`SmallTalk.situation`), its misspelt words corrected (bot/engine/spelling.py)."""
        speller = self._speller
        if speller is None:
            index = self._index
            speller = Speller(self.normalizer, index.surface, index.term_ids)
            self._speller = speller
        return speller.correct(self.small_talk.situation(question))

    # --- public ------------------------------------------------------------------------
    def language(self, text: str, default: str = "id") -> str:
        """The language to answer `text` in. Function words and slang decide
        (bot/engine/language.py); a text without any ("sincere apology", "client ultimatum") goes by
        the words the stories use in one language only; else `default`."""
        scores = self.detector.scores(text)
        if scores["id"] == scores["en"]:
            only = self._index.language_only
            for raw in self.normalizer.split(text):
                found = only.get(self.normalizer.collapse(raw))
                if found:
                    scores[found] += 1.0
        if scores["id"] == scores["en"]:
            # Still undecided ("extra mile", "onsite romance"): words of which none is in the
            # Indonesian dictionary, nor slang, are English, if the stories know one of them.
            # Letters no text has ("asdfgh", "p") say nothing: the chat's language answers,
            # as it does for one such word alone ("customer", "deadline"): Indonesian
            # salespeople say them as often as English ones do.
            normalizer = self.normalizer
            raw_words = [w for w in normalizer.split(text) if w.isalpha()]
            known = sum(normalizer.collapse(w) in self._index.surface for w in raw_words)
            if known >= 2 and not any(
                normalizer.is_indonesian(normalizer.collapse(w)) or w in normalizer.table.slang
                for w in raw_words
            ):
                scores["en"] += 1.0
        return decide(scores, default)

    def rank(self, question: str, limit: int = 3, *, chat_id: int | None = None) -> list[Match]:
        """Best matches without a threshold (evaluation, "did you mean"). `chat_id`: the
        chat asking, whose own taught phrasings count (None: only the bot-wide ones)."""
        return self._ranked(question, limit, chat_id)[0]

    def judge(
        self, question: str, limit: int = 3, *, chat_id: int | None = None
    ) -> tuple[list[Match], int | None]:
        """The best matches without a threshold, and the margin over the threshold this
        question needs for a story to be told (None: it may only be offered).

        A message naming nothing of work needs stronger evidence ("jadwal kereta ke yogya
        besok pagi" shares "tomorrow morning" with a story, not its situation), and one naming
        someone of private life and nothing of work ("kado ultah buat pacar") is about
        private life: a story may be offered, never told. So is a question of what the law
        says ("is a gift to an official legal?"): no story is legal advice; one about a
        subject next to the stories that none covers (price negotiation, `outside` in
        normalize.yaml); and a brief one about the asker's own boss (`_about_own_boss`).
        """
        ranked, margin, _ = self._judge(question, limit, chat_id)
        return ranked, margin

    def _judge(
        self, question: str, limit: int, chat_id: int | None = None
    ) -> tuple[list[Match], int | None, Question | None]:
        """`judge`, with the question as the index read it (for `ask`)."""
        ranked, q = self._ranked(question, limit, chat_id)
        return (ranked, self._margin(q, question), q)

    def _margin(self, q: Question | None, question: str = "") -> int | None:
        p = self.params
        if q is not None and (q.law or q.legal):  # the rule, never a story, whoever taught one
            return None
        if q is not None and q.taught:  # a team lead vouched for such a question
            return 0
        if q is not None and q.outside:
            return None
        if q is not None and self._about_own_boss(q, question):
            return None
        if q is None or q.at_work:
            return 0
        return None if q.private else p.no_work_margin

    def _about_own_boss(self, q: Question, question: str) -> bool:
        """A brief message whose only person is the asker's superior ("bos marah sama saya",
        "my manager yells at me"): every story is about serving someone, and the boss in
        story 000 is the calm one; with no word for a customer the boss's mood is the subject.
        Not when the boss is whom the asker turns to ("eskalasi ke atasan", "hand it over to
        my manager"): that is story 000's own lesson. Brief only: a longer message names its
        customer in words no list holds (the distributor, the villa owner)."""
        if len(q.weights) > BRIEF_WORDS or q.customer:
            return False
        is_superior = self.normalizer.is_superior
        written = _WORD.findall(question.lower())
        bosses = [
            i
            for i, word in enumerate(written)
            if any(is_superior(form) for form in self.normalizer.tokens(word, q.lang))
        ]
        return bool(bosses) and not any(
            _TOWARD.intersection(written[max(0, i - 2) : i]) for i in bosses
        )

    def ask(
        self,
        question: str,
        limit: int = 3,
        lang: str | None = None,
        *,
        chat_id: int | None = None,
    ) -> Answer:
        """Matches at or above the threshold, best first; none means "no story for that".

        `lang` forces the answer's language (e.g. a chat's setting); None answers in the
        question's language. `chat_id`: the chat asking; the phrasings its own team leads
        taught count there only (None, as for inline mode and the CLI: only bot-wide ones).
        """
        lang = lang or self.language(question, self.default_lang)
        kind = self.small_talk.kind(question)
        if kind is not None:
            return Answer(question=question, lang=lang, matches=(), small_talk=kind)
        ranked, margin, q = self._judge(question, limit, chat_id)
        matches = tuple(
            m for m in ranked if margin is not None and m.score >= self.threshold + margin
        )
        maybe = None
        legal = q.legal if q is not None else None
        if matches or not ranked:
            pass
        elif legal is None:
            maybe = ranked[0] if ranked[0].score >= self.maybe_threshold else None
        elif legal in self.normalizer.legal_story_after and q is not None:
            # After the rule, "maybe this helps": not a claim that the story answers the
            # question, so no threshold; the best-ranked story whose caution is about what is
            # asked (a gift, an official), shown with it.
            maybe = next(
                (
                    m
                    for m in ranked
                    if m.score > 0
                    and m.story.caution is not None
                    and not q.subjects.isdisjoint(m.story.applies_to)
                ),
                None,
            )
        return Answer(
            question=question,
            lang=lang,
            matches=matches,
            maybe=maybe,
            legal=legal,
            subjects=q.subjects if q is not None else frozenset(),
        )

    def subjects(self, text: str, lang: str) -> frozenset[str]:
        """The subjects (`subjects` in normalize.yaml: officials, gifts, ...) a text touches,
        read as a question's are: what a caution applies to, or what a lesson is about."""
        return self.normalizer.subjects_of(self.normalizer.tokens(text, lang), text)

    def explain(self, question: str, limit: int = 3) -> list[Explanation]:
        """The parts of each top story's confidence, to see why a question matched."""
        scored, _ = self._score(self._read(question))
        return [
            Explanation(
                story=self.stories[s.story_index],
                score=_percent(s.confidence),
                lexical=_percent(s.lexical),
                coverage=round(s.coverage, 3),
                phrasing=round(s.phrasing, 3),
                evidence=round(s.evidence, 3),
                best_phrasing=self._index.phrase_text[s.best_phrase] if s.best_phrase >= 0 else "",
            )
            for s in scored[:limit]
        ]


def _table_path(kb: KnowledgeBase) -> Path:
    """The knowledge base's own `normalize.yaml` (beside its `anecdotes/`), so a base given
    with `--responses DIR` brings its own slang and synonyms; else the project's table."""
    for story in kb.stories:
        candidate = story.source.parent.parent / "normalize.yaml"
        if candidate.is_file():
            return candidate.resolve()
        break
    return DEFAULT_TABLE


def _concepts_path(kb: KnowledgeBase) -> Path:
    """The knowledge base's own `concepts.yaml` (beside its `anecdotes/`), as for the word
    table; else the project's."""
    for story in kb.stories:
        candidate = story.source.parent.parent / CONCEPTS
        if candidate.is_file():
            return candidate.resolve()
        break
    return DEFAULT_TABLE.parent / CONCEPTS


def _percent(score: float) -> int:
    return max(0, min(100, round(score * 100)))
