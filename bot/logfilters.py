"""Log filters every entry point installs: secrets never reach the output, and with
BOT_LOG_QUESTIONS=false neither does a user's text.

One module for both, used by the CLI's logging set-up and by the Telegram runner (which may be
started directly, by tests or other entry points), so there is one redactor, not two.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.settings import Settings


class RedactSecrets(logging.Filter):
    """Last line of defence: whatever a library logs, the token and the webhook secret never
    reach the output (httpx and PTB messages can carry request URLs with the token; PTB logs
    setWebhook's parameters at DEBUG). Tracebacks are redacted too."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.settings.token and not self.settings.webhook_secret:
            return True
        message = record.getMessage()
        redacted = self.settings.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.settings.redact(
                logging.Formatter().formatException(record.exc_info)
            )
        return True


class HideUserText(logging.Filter):
    """BOT_LOG_QUESTIONS=false means no question text is kept anywhere, the log included.

    Kisah's own lines never carry message text (see `where()` in
    bot/transports/telegram/common.py), but
    python-telegram-bot dumps every update and every API call with its parameters at DEBUG,
    and httpx/httpcore trace requests there: below INFO those libraries are dropped whole,
    since nothing short of parsing their dumps tells which line holds someone's words. From
    INFO up they keep their lines, but the raw payloads a few of them print (an update PTB
    could not parse, an invalid JSON answer) are replaced.
    """

    LIBRARIES = ("telegram", "httpx", "httpcore")
    HIDDEN = "<hidden: BOT_LOG_QUESTIONS=false>"

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        if self.settings.log_questions:
            return True
        name = record.name
        if not any(name == lib or name.startswith(lib + ".") for lib in self.LIBRARIES):
            return True
        if record.levelno < logging.INFO:
            return False
        if isinstance(record.args, tuple):
            record.args = tuple(self._hide(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            # A lone dict argument arrives as the mapping itself: it may be the payload.
            record.args = {
                key: value if isinstance(value, int | float) else self.HIDDEN
                for key, value in record.args.items()
            }
        return True

    @classmethod
    def _hide(cls, value: object) -> object:
        """Payloads are containers, bytes or JSON text; numbers, names and errors stay."""
        if isinstance(value, Mapping | list | tuple | bytes | bytearray):
            return cls.HIDDEN
        if isinstance(value, str) and "{" in value:
            return cls.HIDDEN
        return value
