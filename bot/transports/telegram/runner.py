"""Start the bot, keep it running, stop it cleanly; turn every start-up failure into one line.

Why not `Application.run_polling()`: it logs a failed bootstrap (bad token, unreachable API)
as a traceback before re-raising, an operator should read one sentence that says what to fix,
and it runs its own event loop, where tests need the bot inside theirs. `serve()` uses PTB's
documented pattern for that case instead: `async with application:` (initialize, shutdown)
around `application.start()` and the updater, with our own stop event and signal handling.
The `post_init`/`post_stop`/`post_shutdown` hooks belong to `run_polling` and are not used:
start-up work (the command menus) is done here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import secrets
import signal
import sys
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.content.model import KnowledgeError
from bot.exitcodes import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_UNAVAILABLE
from bot.logfilters import HideUserText, RedactSecrets
from bot.settings import Settings, SettingsError, validate_token
from bot.transports.telegram.app import build_application, check_ui_texts
from bot.transports.telegram.common import SERVICES_KEY, TEAM_KEY
from bot.transports.telegram.menu import register_menus
from bot.transports.telegram.ratelimit import HandoverRateLimiter

if TYPE_CHECKING:
    from bot.chat.services import Services

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_TIMEOUT_SECONDS = 30
WEBHOOK_PATH = "telegram"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def _redacted_logs(settings: Settings) -> Iterator[None]:
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The filters go on the handlers: a logger's own filters miss its children's records.
    filters = (HideUserText(settings), RedactSecrets(settings))
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        for log_filter in filters:
            handler.addFilter(log_filter)
    try:
        yield
    finally:
        for handler in handlers:
            for log_filter in filters:
                handler.removeFilter(log_filter)


def _fail(stderr: TextIO, settings: Settings, message: str, code: int) -> int:
    stderr.write(settings.redact(f"kisah: {message}") + "\n")
    stderr.flush()
    return code


def use_webhook(settings: Settings, webhook: bool) -> bool:
    return webhook or bool(settings.webhook_url)


async def serve(
    application: Application,
    settings: Settings,
    *,
    webhook: bool = False,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until `stop` is set (or SIGTERM/SIGINT when `stop` is None). Raises what
    `initialize()` raises (InvalidToken, NetworkError) before anything has started."""
    settings = with_webhook_secret(settings, webhook)  # run_bot has given it one already
    own_signals = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if own_signals:
        own_signals = _on_stop_signals(loop, stop)
    try:
        async with application:  # initialize (getMe: proves the token and the API URL)
            services = application.bot_data.get(SERVICES_KEY)
            if services is not None:
                await register_menus(application.bot, services)
            # Updates first, then the application, as run_polling does: once the application
            # runs, Telegram knows where updates go (setWebhook, or deleteWebhook to poll).
            await _start_updates(application, settings, webhook)
            try:
                await application.start()  # handlers, the job queue (the daily-tip schedule)
                log.info(
                    "Kisah is running as @%s (%s)",
                    application.bot.username,
                    "webhook" if use_webhook(settings, webhook) else "long polling",
                )
                await stop.wait()
                log.info("stopping")
            finally:
                if application.updater and application.updater.running:
                    await application.updater.stop()
                await _let_go(application)
                if application.running:
                    await application.stop()  # waits for the handlers still running
    finally:
        if own_signals:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)


async def _let_go(application: Application) -> None:
    """Stop within seconds with answers queued (issue 15 item 9): what still waits in the
    rate limiter (a group's 20 a minute can hold answers for minutes) is let go unsent. The
    questions were recorded as they arrived, not answered yet, and are answered after the
    restart (bot/transports/telegram/backlog.py); unsent hear-backs stay in their outbox."""
    limiter = application.bot.rate_limiter
    if isinstance(limiter, HandoverRateLimiter):
        waiting = limiter.close()
        if waiting:
            log.info("stopping: %d message(s) waiting in the rate limiter not sent", waiting)
        await asyncio.sleep(0)  # they learn it before the hear-backs stop
    team = application.bot_data.get(TEAM_KEY)
    if team is not None:
        await team.stop()


def _polling_error(error: TelegramError) -> None:
    """Telegram hiccups while polling: PTB retries with back-off; say so in one line (its
    default callback logs a full traceback on every retry)."""
    log.warning("getUpdates failed, retrying: %r", error)


def _on_stop_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> bool:
    """SIGTERM/SIGINT set `stop`; False where signals cannot be caught (not the main thread,
    or Windows), in which case the caller's own stop event is the only way out."""
    try:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        log.debug("stop signals not handled here: %r", exc)
        return False
    return True


async def _start_updates(application: Application, settings: Settings, webhook: bool) -> None:
    updater = application.updater
    assert updater is not None
    if not use_webhook(settings, webhook):
        await updater.start_polling(
            timeout=POLL_TIMEOUT_SECONDS,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,  # questions asked while we were down still count
            error_callback=_polling_error,
        )
        return
    url = (settings.webhook_url or "").rstrip("/")
    await updater.start_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=WEBHOOK_PATH,
        webhook_url=f"{url}/{WEBHOOK_PATH}",
        secret_token=settings.webhook_secret,
        allowed_updates=Update.ALL_TYPES,
    )


def with_webhook_secret(settings: Settings, webhook: bool) -> Settings:
    """In webhook mode, settings that have a webhook secret: BOT_WEBHOOK_SECRET, or a random
    one generated now.

    Without a secret the webhook takes any POST as an update from Telegram, so anyone who can
    reach it could pose as a team lead or an anonymous group admin. setWebhook hands the secret
    to Telegram at every start, and PTB answers 403 to a request without it, so a fresh one per
    run costs nothing. token_urlsafe only uses the characters Telegram allows (A-Z a-z 0-9 _ -).
    """
    if not use_webhook(settings, webhook) or settings.webhook_secret:
        return settings
    log.info(
        "BOT_WEBHOOK_SECRET is not set: generated a random webhook secret for this run; "
        "requests without it are refused"
    )
    return replace(settings, webhook_secret=secrets.token_urlsafe(32))


def _webhook_problem(settings: Settings) -> str | None:
    if not settings.webhook_url:
        return "webhook mode needs BOT_WEBHOOK_URL (the public HTTPS address Telegram calls)"
    if importlib.util.find_spec("tornado") is None:
        return (
            "webhook mode needs python-telegram-bot's webhook extra: "
            "pip install 'python-telegram-bot[webhooks]'"
        )
    return None


def run_bot(settings: Settings, webhook: bool = False, *, stderr: TextIO | None = None) -> int:
    """Run Kisah on Telegram until SIGTERM/SIGINT. Returns the process exit status; any
    start-up failure is one line on stderr (never a traceback, never the token)."""
    stderr = stderr or sys.stderr
    try:
        validate_token(settings.token)
    except SettingsError as exc:
        return _fail(stderr, settings, str(exc), EXIT_CONFIG)
    if use_webhook(settings, webhook):
        problem = _webhook_problem(settings)
        if problem:
            return _fail(stderr, settings, problem, EXIT_CONFIG)
    # Before the log filters go in, so that they know the secret and keep it out of the logs.
    settings = with_webhook_secret(settings, webhook)
    with _redacted_logs(settings):
        from bot.chat.services import build_services  # the knowledge base loads here

        try:
            services = build_services(settings)
        except KnowledgeError as exc:
            return _knowledge_failure(stderr, settings, exc.problems)
        try:
            problems = check_ui_texts(services.kb)  # the Telegram-only texts too
            if problems:
                return _knowledge_failure(stderr, settings, problems)
            return _run(services, settings, webhook, stderr)
        finally:
            services.close()


def _knowledge_failure(stderr: TextIO, settings: Settings, problems: list[str]) -> int:
    first = problems[0] if problems else "unknown problem"
    return _fail(
        stderr,
        settings,
        f"the knowledge base has {len(problems)} problem(s), first: {first} "
        "(`python -m bot check` lists all)",
        EXIT_CONFIG,
    )


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop where it is installed: it spends less CPU per reply than
    asyncio's own loop (bench/telegram_load.py; figures in docs/benchmarks.md)."""
    try:
        import uvloop
    except ImportError:  # not on Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _run(services: Services, settings: Settings, webhook: bool, stderr: TextIO) -> int:
    application = build_application(services)
    try:
        run_event_loop(serve(application, settings, webhook=webhook))
    except InvalidToken:
        return _fail(
            stderr,
            settings,
            "Telegram rejected TELEGRAM_BOT_TOKEN (unauthorized): copy it again from @BotFather",
            EXIT_CONFIG,
        )
    except NetworkError as exc:  # includes TimedOut
        return _fail(
            stderr,
            settings,
            f"cannot reach the Telegram Bot API at {settings.api_base_url}: {exc.message}",
            EXIT_UNAVAILABLE,
        )
    except TelegramError as exc:
        return _fail(
            stderr, settings, f"Telegram refused to start the bot: {exc.message}", EXIT_FAILURE
        )
    except OSError as exc:  # e.g. the webhook port is taken
        return _fail(stderr, settings, f"cannot start: {exc}", EXIT_FAILURE)
    log.info("stopped")
    return EXIT_OK
