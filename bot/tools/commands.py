"""The CLI's author tools: `eval`, `calibrate`, `check`, `new-story`, `taught`, `report`.

Why apart from `bot/cli.py`: that module is the entry point (the parser, logging, the exit
statuses every command shares); these are the commands a content author and a team lead run
beside the bot. Each is the `func` of its sub-command (`set_defaults(func=...)`), with the one
signature every command has, and imports what it needs when it runs, so `python -m bot ask`
loads none of it.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from bot.content.model import KnowledgeError
from bot.exitcodes import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bot.content.model import KnowledgeBase, Text
    from bot.engine.matcher import ScoringParams
    from bot.tools.evaluation import EvalItem


def cmd_eval(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """`eval FILE`: the figures of a labelled question file."""
    from bot.chat.services import build_core
    from bot.tools import evaluation

    try:
        items = evaluation.load_items(args.file)
    except evaluation.EvalFileError as exc:
        raise SettingsError(str(exc)) from exc
    core = build_core(settings, taught=False)  # the knowledge base's own figures
    try:
        evaluation.check_labels(items, core.kb, str(args.file))
    except evaluation.EvalFileError as exc:
        raise SettingsError(str(exc)) from exc
    matcher = core.matcher
    if args.set:
        from bot.engine.matcher import Matcher

        params = _scoring_params(args.set)
        matcher = Matcher(core.kb, params=params, default_lang=settings.default_language)
    from bot.chat.replies import Replies

    # The first message measured through the replies Telegram sends, on this matcher.
    replies = Replies(core.kb, matcher, settings.default_language)
    result = evaluation.evaluate(matcher, items, replies)
    stdout.write(evaluation.format_report(result).rstrip("\n") + "\n")
    return EXIT_OK


def _scoring_params(assignments: Sequence[str]) -> ScoringParams:
    """`ScoringParams` with `NAME=VALUE` changes, each checked against its field's type."""
    from dataclasses import fields

    from bot.engine.matcher import DEFAULT_PARAMS

    types = {f.name: type(getattr(DEFAULT_PARAMS, f.name)) for f in fields(DEFAULT_PARAMS)}
    changes: dict[str, object] = {}
    kinds = {int: "a whole number", float: "a number", bool: "true or false", str: "a text"}
    for assignment in assignments:
        name, equals, raw = assignment.partition("=")
        name = name.strip()
        if name not in types:
            known = ", ".join(sorted(types))
            raise SettingsError(f"--set {assignment!r}: unknown parameter (known: {known})")
        if not equals:
            raise SettingsError(
                f"--set {assignment!r}: write NAME=VALUE, e.g. --set {name}="
                f"{getattr(DEFAULT_PARAMS, name)}"
            )
        try:
            changes[name] = types[name](raw.strip())
        except ValueError as exc:
            kind = kinds.get(types[name], types[name].__name__)
            raise SettingsError(f"--set {assignment!r}: {name} needs {kind}") from exc
    return replace(DEFAULT_PARAMS, **changes)


def cmd_calibrate(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """`calibrate FILE...`: fit the confidence model, or cross-validate it (--folds)."""
    from bot.content.knowledge import load_knowledge
    from bot.engine.logistic import FitError
    from bot.engine.matcher import CALIBRATION, Matcher
    from bot.engine.scope import FILE as SCOPE_WORDS
    from bot.engine.story_words import FILE as STORY_WORDS
    from bot.tools import calibration as fitting
    from bot.tools import evaluation

    try:
        per_file = [evaluation.load_items(path) for path in args.files]
    except evaluation.EvalFileError as exc:
        raise SettingsError(str(exc)) from exc
    items = [item for file_items in per_file for item in file_items]
    kb = load_knowledge(settings.responses_dir, settings.seeds_dir)
    try:  # a mistyped label would be fitted as a wrong answer, and the model written anyway
        for path, file_items in zip(args.files, per_file, strict=True):
            evaluation.check_labels(file_items, kb, str(path))
    except evaluation.EvalFileError as exc:
        raise SettingsError(str(exc)) from exc
    if args.lessons:
        return _calibrate_lessons(args, settings, per_file, stdout)
    if not any(item.expect for item in items) or all(item.expect for item in items):
        missing = "in-scope" if not any(item.expect for item in items) else "out-of-scope"
        raise SettingsError(
            f"calibrate: {', '.join(map(str, args.files))}: no {missing} question; the model "
            "needs both (questions with an expected story, and questions with none)"
        )
    # The evidence does not depend on the weights: fit from defaults, so a stale or broken
    # calibration file never stops its own replacement.
    try:
        if args.folds is not None:
            return _cross_validate(args, kb, per_file, stdout)
        calibration, scope, stories = fitting.calibrate(kb, per_file)
    except FitError as exc:
        raise SettingsError(
            f"calibrate: cannot fit on {', '.join(map(str, args.files))}: {exc}"
        ) from exc
    target = settings.responses_dir / CALIBRATION
    header = "# Confidence model weights: `python -m bot calibrate " + " ".join(
        str(p) for p in args.files
    )
    target.write_text(header + "`\n" + calibration.to_yaml(), encoding="utf-8")
    written = [f"wrote {target} ({len(items)} questions)\n{calibration.to_yaml()}"]
    for name, title, model, count in (
        (SCOPE_WORDS, "Scope words (bot/engine/scope.py)", scope, len(scope.weights)),
        (
            STORY_WORDS,
            "Story words (bot/engine/story_words.py)",
            stories,
            sum(len(w) for w in stories.weights.values()),
        ),
    ):
        path = settings.responses_dir / name
        path.write_text(
            header.replace("Confidence model weights", title) + "`\n" + model.to_yaml(),
            encoding="utf-8",
        )
        written.append(f"wrote {path} ({count} words)\n")
    stdout.write("".join(written))
    # The threshold is read against these weights: say what the rule makes of them.
    matcher = Matcher(kb, calibration=calibration, scope_words=scope, story_words=stories)
    rule = fitting.rule_threshold([evaluation.evaluate(matcher, f) for f in per_file])
    stdout.write(
        f"threshold by the rule on these files: {rule} "
        f"(the matcher uses {matcher.threshold}, ScoringParams.threshold; in-sample, so only "
        "a hint: choose it as docs/matching.md says, on sets not fitted on)\n"
    )
    return EXIT_OK


def _calibrate_lessons(
    args: argparse.Namespace,
    settings: Settings,
    per_file: list[list[EvalItem]],
    stdout: TextIO,
) -> int:
    """`calibrate --lessons FILE...`: fit the lesson weights and the lesson words, print how
    the weights do on the parts of the questions they were not fitted on, and write both."""
    from bot.content.knowledge import CACHE_DIR, load_knowledge
    from bot.engine.lesson_weights import FILE
    from bot.engine.lesson_words import FILE as WORDS_FILE
    from bot.engine.lesson_words import fit_lesson_words
    from bot.engine.logistic import FitError
    from bot.tools import lessonfit

    folds = 5 if args.folds is None else args.folds
    if folds < 2:
        raise SettingsError("calibrate: --folds must be 2 or more")
    files = ", ".join(map(str, args.files))
    cache_dir = settings.data_dir / CACHE_DIR
    kb = load_knowledge(settings.responses_dir, settings.seeds_dir, cache_dir)
    cases, labelled = lessonfit.cross_fitted_cases(kb, per_file, cache_dir)
    if len(cases) < folds:
        raise SettingsError(
            f"calibrate --lessons: {files}: {len(cases)} lesson-labelled questions told their "
            f"right story, fewer than --folds {folds} (label them with `lesson:`)"
        )
    try:
        parts = lessonfit.cross_validate_lessons(cases, folds)
        weights = lessonfit.fit_lessons(cases)
        words = fit_lesson_words(labelled)
    except FitError as exc:
        raise SettingsError(f"calibrate --lessons: cannot fit on {files}: {exc}") from exc
    stdout.write(
        f"lesson shown first, cross-validated ({folds} folds; {len(cases)} lesson-labelled "
        "questions told their right story): fit alone -> fitted weights\n"
    )
    for number, part in enumerate(parts, 1):
        stdout.write(
            f"  fold {number}: n={part.n:3d}  {part.fit_alone / part.n:.3f} -> "
            f"{part.fitted / part.n:.3f}\n"
        )
    n = sum(p.n for p in parts)
    alone, fitted = sum(p.fit_alone for p in parts), sum(p.fitted for p in parts)
    stdout.write(f"  pooled: n={n:3d}  {alone / n:.3f} -> {fitted / n:.3f}\n")
    command = "`python -m bot calibrate --lessons " + " ".join(str(p) for p in args.files) + "`"
    target = settings.responses_dir / FILE
    target.write_text(f"# Lesson order weights: {command}\n" + weights.to_yaml(), encoding="utf-8")
    stdout.write(f"wrote {target}\n{weights.to_yaml()}")
    words_target = settings.responses_dir / WORDS_FILE
    words_target.write_text(
        f"# Lesson words (bot/engine/lesson_words.py): {command}\n" + words.to_yaml(),
        encoding="utf-8",
    )
    count = sum(len(w) for by in words.weights.values() for w in by.values())
    stdout.write(f"wrote {words_target} ({count} weights)\n")
    return EXIT_OK


def _cross_validate(
    args: argparse.Namespace, kb: KnowledgeBase, per_file: list[list[EvalItem]], stdout: TextIO
) -> int:
    from bot.tools import calibration as fitting
    from bot.tools import evaluation

    if args.folds < 2:
        raise SettingsError("calibrate: --folds must be 2 or more")
    *fixed_files, folded = per_file
    fixed = [item for file_items in fixed_files for item in file_items]
    folded_file = args.files[-1]
    if len(folded) < args.folds:
        raise SettingsError(f"calibrate: {folded_file} has fewer questions than --folds")
    cv = fitting.cross_validate(kb, fixed, folded, args.folds)
    stdout.write(
        f"cross-validated on {folded_file} ({args.folds} folds, thresholds "
        f"{', '.join(map(str, cv.thresholds))}; nothing written)\n"
        f"top-1 (best answer right):  {evaluation.rate(cv.top1, 3)}\n"
        f"out-of-scope rejected:      {evaluation.rate(cv.oos_reject, 3)}\n"
    )
    width = max((len(kind) for kind in cv.by_kind), default=0)
    for kind, value in cv.by_kind.items():
        stdout.write(f"  {kind:<{width}}  {evaluation.rate(value, 3)}\n")
    return EXIT_OK


def cmd_check(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """Validate the knowledge base and every UI text any part of the bot asks for.

    The UI texts are checked against every module's declaration at once (not only the ones
    `Replies` needs to start), so one run lists every problem. The declarations import no
    Telegram code (bot/transports/telegram/texts.py), so the check runs without loading PTB.
    """
    from bot.chat.services import build_core
    from bot.content.knowledge import CACHE_DIR, load_knowledge
    from bot.engine.story_words import MIN_STORY_MESSAGES
    from bot.transports.telegram.texts import check_ui_texts, unread_ui_texts

    # The same cache as build_core below, so the base is read from disk once.
    kb = load_knowledge(settings.responses_dir, settings.seeds_dir, settings.data_dir / CACHE_DIR)
    problems = check_ui_texts(kb) + unread_ui_texts(kb)
    if problems:
        raise KnowledgeError(problems)
    core = build_core(settings)  # the matcher's index and normalisation table
    from bot.content.validation import subject_problems

    # A caution's subjects are defined in the normalisation table, which the matcher holds.
    problems = subject_problems(core.kb, core.matcher.normalizer.subjects)
    matcher = core.matcher
    if matcher.concepts_path.is_file():
        from bot.engine.concepts import crossed_members

        normalizer = matcher.normalizer

        def words(text: Text) -> Callable[[], list[str]]:
            return lambda: normalizer.tokens(text.id, "id") + normalizer.tokens(text.en, "en")

        situations = [
            (found, words(text))
            for story, situation_sets in zip(
                core.kb.stories, matcher.situations.stories, strict=True
            )
            for text, found in zip(story.situations, situation_sets, strict=True)
        ]
        problems += crossed_members(
            matcher.concept_table, matcher.concepts_path, normalizer, situations
        )
    if problems:
        raise KnowledgeError(problems)
    tips = sum(1 for _ in core.kb.tips())
    quizzes = sum(1 for _ in core.kb.quizzes())
    stdout.write(
        f"OK: {len(core.kb.stories)} stories, {tips} tips, {quizzes} quiz questions, "
        f"{len(core.kb.ui)} UI texts\n"
    )
    unseen = [s.id for s in core.kb.stories if not matcher.story_words.knows(s.id)]
    if matcher.story_words.weights and unseen:  # valid, but the fitted models lack it
        stdout.write(
            f"note: the story words know nothing of {len(unseen)} story(ies): "
            f"{', '.join(unseen)} (added since `python -m bot calibrate` last ran, or named "
            f"by fewer than {MIN_STORY_MESSAGES} of the labelled questions it read). Until it "
            "runs on that many that name them (docs/authoring.md), they are judged without "
            "the words such questions use, and answers near them may change once it runs.\n"
        )
    for story in core.kb.stories:  # valid, but an author looks for it by its id
        stem = story.source.stem
        if stem != story.id and not stem.endswith(f"-{story.id}"):
            named = f"{story.seed_prefix}-{story.id}{story.source.suffix}"
            stdout.write(
                f"note: {story.source} holds the story '{story.id}' of post "
                f"{story.seed_prefix}; name it {named}, as /story and the logs call it.\n"
            )
    return EXIT_OK


def cmd_new_story(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """`new-story SEED`: a draft story with the questions most like the seed."""
    from bot.storage.inboxrecords import GAP, TAUGHT
    from bot.storage.store import DB_FILENAME, Store
    from bot.tools.newstory import NewStoryError, new_story, seed_of

    try:
        seed_of(args.seed, settings.seeds_dir)  # a wrong seed is refused before any reading
        questions: list[str] = []
        gaps: list[str] = []
        taught: list[str] = []
        if (settings.data_dir / DB_FILENAME).is_file():  # no database: none, and none created
            with Store.open(settings) as store:
                questions = store.unanswered_questions()
                gaps = [d.text for d in store.decisions(GAP)]
                taught = [d.text for d in store.decisions(TAUGHT)]
        target, similar_gaps, similar = new_story(
            args.seed, settings, questions, gaps=gaps, answered=taught, force=args.force
        )
    except NewStoryError as exc:
        stderr.write(f"Error: {exc}\n")
        stderr.flush()
        return EXIT_CONFIG
    stdout.write(
        f"wrote {target} ({similar_gaps} similar content gaps, {similar} similar unanswered "
        "questions); replace every TODO, then run `python -m bot check`\n"
    )
    return EXIT_OK


def cmd_taught(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """`taught`: list, export or prune what team leads taught."""
    from bot.tools import taught as taughtcli

    status = taughtcli.run(settings, stdout, stderr, export=args.export, prune=args.prune)
    stderr.flush()
    return status


def cmd_report(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """`report`: the usage report from the bot's database. Without one nothing was recorded
    there, which a mistyped BOT_DATA_DIR would make look like a bot nobody used: say so
    instead of creating an empty database."""
    from bot.chat.services import build_services
    from bot.storage.store import DB_FILENAME
    from bot.tools import report

    database = settings.data_dir / DB_FILENAME
    if not database.is_file():
        stderr.write(
            f"Error: no database at {database}: the bot has recorded nothing there. Is "
            "BOT_DATA_DIR the folder the bot runs with?\n"
        )
        return EXIT_FAILURE
    services = build_services(settings)
    try:
        return int(report.run(services, args, stdout) or 0)
    finally:
        services.close()
