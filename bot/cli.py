"""`python -m bot`: run the bot, chat in the terminal, ask, evaluate, check, report, new-story,
taught.

One entry point for humans and tools. Every failure a human must fix (a broken knowledge base,
a bad setting, an unusable data directory) ends with the message lines on stderr and a non-zero
exit status, never a traceback. The statuses are the Telegram runner's (`EXIT_CODES`, shown in
`--help`), so a supervisor reads `python -m bot run` and `python -m bot check` alike: 2 means
"fix the configuration or the knowledge base", not "try again". `ask --json` is a contract other
tools parse: exactly one JSON object per line on stdout, logs on stderr only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.content.model import KnowledgeError
from bot.exitcodes import (
    EXIT_CODES_HELP,
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
)
from bot.logfilters import HideUserText, RedactSecrets
from bot.settings import Settings, SettingsError, load_settings
from bot.storage.store import StoreError
from bot.tools import commands as tools

if TYPE_CHECKING:
    from bot.engine.matcher import Answer

log = logging.getLogger(__name__)

MAX_ASK_MATCHES = 3
GO_LIVE_HINT = (
    "No Telegram token set: starting the terminal chat. To go live, create a bot with "
    "@BotFather and put its token in .env as TELEGRAM_BOT_TOKEN=..., then run again."
)


@contextlib.contextmanager
def configured_logging(
    settings: Settings, stream: TextIO, *, terminal: bool = False
) -> Iterator[None]:
    """Log one line per event to `stream` (stderr: stdout stays for output) at the configured
    level, for the duration of one command. The previous configuration comes back afterwards,
    so calling `main()` in-process (tests) leaves the host's logging as it was.

    `terminal` commands (chat, ask, eval, ...) talk to a person on the same screen: INFO lines
    would interleave with the conversation, so they log warnings only unless DEBUG is asked.
    """
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise SettingsError(
            f"BOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {settings.log_level!r}"
        )
    if terminal and level > logging.DEBUG:
        level = max(level, logging.WARNING)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(HideUserText(settings))  # first: redacting flattens args into msg
    handler.addFilter(RedactSecrets(settings))
    root = logging.getLogger()
    httpx = logging.getLogger("httpx")
    saved = (list(root.handlers), root.level, httpx.level)
    for old in saved[0]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the URL contains the token.
    httpx.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.removeHandler(handler)
        for old in saved[0]:
            root.addHandler(old)
        root.setLevel(saved[1])
        httpx.setLevel(saved[2])


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before and after the subcommand (`python -m bot --responses X
    # check` and `python -m bot check --responses X`); SUPPRESS keeps the later one from
    # overwriting the earlier with its default.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--responses",
        metavar="DIR",
        type=Path,
        default=argparse.SUPPRESS,
        help="knowledge base directory (anecdotes/ and ui/), instead of ./responses",
    )
    common.add_argument(
        "--seeds",
        metavar="DIR",
        type=Path,
        default=argparse.SUPPRESS,
        help="directory of the original posts, instead of ./seeds",
    )
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Kisah: customer-service stories for sales teams, on Telegram or here.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        parents=[common],
        help="run the Telegram bot (or the terminal chat when no token is set)",
        description="Run the Telegram bot with long polling, or as a webhook server with "
        "--webhook (or BOT_WEBHOOK_URL). Without TELEGRAM_BOT_TOKEN it starts the terminal chat.",
    )
    run.add_argument("--webhook", action="store_true", help="run as a webhook server")
    run.set_defaults(func=cmd_run)

    chat = commands.add_parser(
        "chat",
        parents=[common],
        help="chat with Kisah in the terminal",
        description="Interactive chat with the same replies as the Telegram bot. Type a "
        "question, a number to press a button, /help for commands, /quit to leave.",
    )
    chat.set_defaults(func=cmd_chat)

    ask = commands.add_parser(
        "ask",
        parents=[common],
        help="show the best matching stories for a question",
        description="Show the best matches for QUESTION, or for each line of stdin when no "
        "QUESTION is given (one output line per input line).",
    )
    ask.add_argument("question", nargs="?", metavar="QUESTION", help="the question to match")
    ask.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"question", "lang", "matches": [{"id", "seed", '
        '"title", "score", "lesson"}]} (at most 3, best first, [] when out of scope; lesson: '
        "the index of the lesson shown first)",
    )
    ask.set_defaults(func=cmd_ask)

    evaluate = commands.add_parser(
        "eval",
        parents=[common],
        help="score the matcher on a labeled question file",
        description="Score a labeled YAML file (items with q, expect: [seed prefixes], lang) "
        "and print top-1, top-3, out-of-scope rejection, the confusion table and the misses.",
    )
    evaluate.add_argument("file", metavar="FILE", type=Path, help="labeled questions (YAML)")
    evaluate.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="try another value of a scoring parameter (bot/engine/params.py ScoringParams), e.g. "
        "--set threshold=40; repeatable",
    )
    evaluate.set_defaults(func=tools.cmd_eval)

    calibrate = commands.add_parser(
        "calibrate",
        parents=[common],
        help="fit the confidence model on labeled question files",
        description="Fit the confidence model (bot/engine/confidence.py) and the word models it "
        "reads on labeled YAML files, and write them to <responses>/calibration.yaml, "
        "scope_words.yaml and story_words.yaml, which the matcher reads at start. Run it when "
        "the stories change; check the result with `eval` on a set it was not fitted on.",
    )
    calibrate.add_argument(
        "files", metavar="FILE", type=Path, nargs="+", help="labeled questions (YAML)"
    )
    calibrate.add_argument(
        "--folds",
        type=int,
        metavar="N",
        help="write nothing; cross-validate instead: split the last FILE into N parts and score "
        "each with the model fitted on the other files and parts, at the threshold the rule "
        "picks on those (the honest figure for a new set of that kind)",
    )
    calibrate.add_argument(
        "--lessons",
        action="store_true",
        help="fit the order of a story's lessons instead (bot/engine/lesson_weights.py) on the "
        "FILEs' lesson-labelled questions: print how it does cross-validated (--folds N, "
        "default 5: each part scored with the weights fitted on the others, against the fit "
        "alone) and write <responses>/lesson_weights.yaml and lesson_words.yaml",
    )
    calibrate.set_defaults(func=tools.cmd_calibrate)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="validate the knowledge base",
        description="Validate every story and every UI text the bot uses (chat, Telegram "
        f"and team texts); print each problem with file, field and line, and exit {EXIT_CONFIG} "
        "when there is any.",
    )
    check.set_defaults(func=tools.cmd_check)

    new_story = commands.add_parser(
        "new-story",
        parents=[common],
        help="start a draft story from a post in seeds/",
        description="Write responses/anecdotes/NNN-slug.yaml for seeds/NNN_name.txt: every "
        "field the story needs, marked TODO (which `check` refuses until filled in), the post "
        "cleaned of blog debris as a comment, and the questions from the bot's database most "
        "like the post: first those team leads marked 'no story fits' (content gaps), then the "
        "other unanswered ones. The title is the post's first line that is not a date. Never "
        f"overwrites a file; refuses (exit {EXIT_CONFIG}) a post a story already tells (or a copy "
        "of it under another name), unless --force, and a post numbered as another told post "
        "(the eval labels name a story by that number).",
    )
    new_story.add_argument(
        "seed", metavar="SEED", type=Path, help="the post, a file in the seeds directory"
    )
    new_story.add_argument(
        "--force",
        action="store_true",
        help="draft a story even from a post another story already tells",
    )
    new_story.set_defaults(func=tools.cmd_new_story)

    taught = commands.add_parser(
        "taught",
        parents=[common],
        help="list the phrasings team leads taught; export them as YAML triggers; prune",
        description="List the questions team leads taught Kisah in the chat (when, story, "
        "who, chat, text). --export DIR writes, for each story with taught phrasings, its YAML "
        "file with them added as triggers (comments and layout kept), to review and copy over "
        "responses/anecdotes/; after `check`, --prune marks merged the phrasings the YAML now has "
        "and the stories answer on their own.",
    )
    action = taught.add_mutually_exclusive_group()
    action.add_argument(
        "--export",
        metavar="DIR",
        type=Path,
        help="write the story files with the taught triggers added to DIR (created if "
        "missing; outside the knowledge base; never overwrites a file)",
    )
    action.add_argument(
        "--prune",
        action="store_true",
        help="mark merged the taught phrasings that are now triggers of the same story and "
        "that the stories answer with it on their own (they stay settled and out of the "
        "inbox); the others stay taught, listed with what the stories answer instead",
    )
    taught.set_defaults(func=tools.cmd_taught)

    from bot.tools import report  # its options are its own; `report --help` lists them

    reporting = commands.add_parser(
        "report",
        parents=[common],
        help="usage report for team leads and content authors",
        description="Usage report from the bot's database: questions, answers, feedback, "
        "and the unanswered questions grouped by similarity.",
    )
    report.add_arguments(reporting)
    reporting.set_defaults(func=tools.cmd_report)
    for command in commands.choices.values():  # a wrong option is refused with its own usage
        command.set_defaults(command_parser=command)
    return parser


def _settings_for(args: argparse.Namespace, settings: Settings | None) -> Settings:
    base = settings if settings is not None else load_settings()
    changes: dict[str, Path] = {}
    if getattr(args, "responses", None) is not None:
        changes["responses_dir"] = args.responses
    if getattr(args, "seeds", None) is not None:
        changes["seeds_dir"] = args.seeds
    return replace(base, **changes) if changes else base  # type: ignore[arg-type]


def match_record(answer: Answer) -> dict[str, object]:
    """The `ask --json` object for one answer (the contract other tools parse)."""
    return {
        "question": answer.question,
        "lang": answer.lang,
        "matches": [
            {
                "id": match.story.id,
                "seed": match.story.seed,
                "title": match.story.title.get(answer.lang),
                "score": int(match.score),
                "lesson": match.lesson,
            }
            for match in answer.matches[:MAX_ASK_MATCHES]
        ],
    }


def _format_line(answer: Answer) -> str:
    if answer.small_talk is not None:
        return f"{answer.question}\t[{answer.lang}] small talk ({answer.small_talk})"
    if not answer.matches and answer.legal is not None:
        return f"{answer.question}\t[{answer.lang}] legal reply ({answer.legal})"
    if not answer.matches and answer.maybe is not None:
        maybe = answer.maybe
        return (
            f"{answer.question}\t[{answer.lang}] no story; maybe {maybe.story.id} "
            f"({maybe.story.seed_prefix}) {maybe.score}: {maybe.story.title.get(answer.lang)}"
        )
    if not answer.matches:
        return f"{answer.question}\t[{answer.lang}] no story (out of scope)"
    found = " | ".join(
        f"{m.story.id} ({m.story.seed_prefix}) {m.score}: {m.story.title.get(answer.lang)}"
        for m in answer.matches[:MAX_ASK_MATCHES]
    )
    return f"{answer.question}\t[{answer.lang}] {found}"


# Line breaks other than \n that JSON leaves raw but `str.splitlines()` readers split on.
_LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\u2028\u2029\x85"})


def json_line(record: object) -> str:
    """One JSON document on one line for every reader: UTF-8 text kept readable, with
    U+2028, U+2029 and U+0085 escaped (inside strings they can only be text, never JSON)."""
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS)


def cmd_ask(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """Answer QUESTION, or every line of stdin, one output line each (flushed, so a tool can
    talk to a long-running `ask` through a pipe)."""
    from bot.chat.services import build_core
    from bot.storage.store import StoreError

    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        # The answers would silently leave out what team leads taught.
        raise StoreError(
            f"BOT_DATA_DIR {settings.data_dir} is not a directory: the phrasings team leads "
            "taught cannot be read from it"
        )
    matcher = build_core(settings, serving=True).matcher

    def emit(question: str) -> None:
        # The same language rule as the bot's replies: follow the question, else the default.
        lang = matcher.language(question, settings.default_language)
        answer = matcher.ask(question, limit=MAX_ASK_MATCHES, lang=lang)
        if args.json:
            stdout.write(json_line(match_record(answer)) + "\n")
        else:
            stdout.write(_format_line(answer) + "\n")
        stdout.flush()

    if args.question is not None:
        emit(args.question)
        return EXIT_OK
    for line in iter(stdin.readline, ""):
        emit(line.rstrip("\r\n"))
    return EXIT_OK


def cmd_chat(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """`chat`: the terminal chat, on the bot's database."""
    from bot.chat.services import build_services
    from bot.transports.console import run_console

    services = build_services(settings)
    try:
        return run_console(services.replies, stdin, stdout, store=services.store, settings=settings)
    finally:
        services.close()


def cmd_run(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """`run`: the Telegram bot, or the terminal chat without a token."""
    if not settings.token:
        stdout.write(GO_LIVE_HINT + "\n\n")
        return cmd_chat(args, settings, stdin, stdout, stderr)
    # The runner validates the token, loads the knowledge base and reports its own start-up
    # failures as one line; it is imported only here so the other commands never load Telegram.
    from bot.transports.telegram.runner import run_bot

    return int(run_bot(settings, webhook=args.webhook, stderr=stderr) or 0)


def main(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command; returns the exit status. Streams and settings are injectable so tests
    call this directly instead of spawning a process."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    # Wrong usage: argparse exits with EXIT_CONFIG (2), showing the command's own usage.
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        settings = _settings_for(args, settings)
        serving = args.command == "run" and bool(settings.token)
        with configured_logging(settings, stderr, terminal=not serving):
            return int(args.func(args, settings, stdin, stdout, stderr))
    except KnowledgeError as exc:
        for problem in exc.problems:
            stderr.write(problem + "\n")
        stderr.write(f"The knowledge base has {len(exc.problems)} problem(s); fix and retry.\n")
        stderr.flush()
        return EXIT_CONFIG
    except SettingsError as exc:
        stderr.write(f"Configuration error: {exc}\n")
        stderr.flush()
        return EXIT_CONFIG
    except BrokenPipeError:
        raise  # the reader of our output went away (`| head`): entry() exits quietly
    except (OSError, sqlite3.Error, StoreError) as exc:
        # e.g. a data directory that cannot be created, or a database from a newer Kisah.
        stderr.write(f"Error: {exc}\n")
    except KeyboardInterrupt:
        stderr.write("Interrupted.\n")
        return EXIT_INTERRUPTED
    stderr.flush()
    return EXIT_FAILURE


def entry() -> None:
    """Console-script style entry: exit with main()'s status."""
    # UTF-8 whatever the locale: `ask --json` is read by other tools, and a stray byte that is
    # not UTF-8 in a piped question must not end the run with a UnicodeDecodeError.
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's documented recipe: point stdout at devnull so the final flush at exit does
        # not raise again, and end without a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = EXIT_FAILURE
    sys.exit(status)
