"""One frozen settings object, read once from the environment (and `.env`) and passed down.

No other module reads `os.environ`: that keeps tests free to build any configuration they
need and makes every knob visible in one place (mirrored by `.env.example`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.content.model import LANGUAGES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
# BotFather tokens look like "123456789:AA...": digits, colon, 30+ url-safe characters.
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
# What setWebhook accepts as secret_token; anything else fails only at start, in Telegram.
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_INTEGER = re.compile(r"-?[0-9]+")


# Telegram user ids have at most 52 significant bits (Bot API: "fits in a double").
MAX_USER_ID = 2**52


class SettingsError(ValueError):
    """A configuration value a human must fix; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    token: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    data_dir: Path = Path("data")
    timezone: str = "Asia/Jakarta"
    team_lead_ids: frozenset[int] = field(default_factory=frozenset)
    default_language: str = "id"
    log_level: str = "INFO"
    log_questions: bool = True
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    responses_dir: Path = PROJECT_ROOT / "responses"
    seeds_dir: Path = PROJECT_ROOT / "seeds"

    @property
    def api_file_url(self) -> str:
        """File URL derived from the API URL, as python-telegram-bot expects both."""
        base = self.api_base_url
        return base[: -len("bot")] + "file/bot" if base.endswith("bot") else base

    def redact(self, text: str) -> str:
        """Remove the token and the webhook secret from anything on its way to a log: with
        either, whoever reads the log could act as the bot, or as Telegram to its webhook.
        A secret under 8 characters is left alone: masking it would blank out ordinary words,
        and it protects little anyway."""
        if self.token:
            text = text.replace(self.token, "<token>")
        if self.webhook_secret and len(self.webhook_secret) >= 8:
            text = text.replace(self.webhook_secret, "<webhook-secret>")
        return text


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; comments, blanks and `export ` prefixes are allowed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    """Build Settings; real environment variables win over `.env` entries."""
    env: dict[str, str] = read_dotenv(dotenv) if dotenv else {}
    env.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    token = get("TELEGRAM_BOT_TOKEN")
    lead_ids: set[int] = set()
    for part in (get("TEAM_LEAD_IDS") or "").split(","):
        part = part.strip()
        if not part:
            continue
        # ASCII digits only: str.isdigit() accepts "²", and "--5" passes lstrip("-")
        if not _INTEGER.fullmatch(part):
            raise SettingsError(f"TEAM_LEAD_IDS must be comma-separated user ids: {part!r}")
        if not 0 < int(part) < MAX_USER_ID:  # a group's id is negative: never a lead
            raise SettingsError(
                f"TEAM_LEAD_IDS: {part} is not a Telegram user id "
                "(a positive whole number below 2^52)"
            )
        lead_ids.add(int(part))
    tz = get("BOT_TIMEZONE") or "Asia/Jakarta"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"BOT_TIMEZONE {tz!r} is not a known time zone") from exc
    language = (get("BOT_LANGUAGE") or "id").lower()
    if language not in LANGUAGES:
        raise SettingsError(f"BOT_LANGUAGE must be 'id' or 'en', got {language!r}")
    port_raw = get("BOT_WEBHOOK_PORT") or "8443"
    if not _INTEGER.fullmatch(port_raw) or not 0 < int(port_raw) < 65536:
        raise SettingsError(f"BOT_WEBHOOK_PORT must be a port number, got {port_raw!r}")
    webhook_secret = get("BOT_WEBHOOK_SECRET")
    if webhook_secret and not WEBHOOK_SECRET_PATTERN.fullmatch(webhook_secret):
        raise SettingsError(
            "BOT_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - (1 to 256 characters); "
            "leave it empty to have a random one generated at every start"
        )
    kwargs: dict[str, object] = {}
    if get("BOT_RESPONSES_DIR"):
        kwargs["responses_dir"] = Path(get("BOT_RESPONSES_DIR") or "")
    return Settings(
        token=token,
        api_base_url=get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL,
        data_dir=Path(get("BOT_DATA_DIR") or "data"),
        timezone=tz,
        team_lead_ids=frozenset(lead_ids),
        default_language=language,
        log_level=(get("BOT_LOG_LEVEL") or "INFO").upper(),
        log_questions=_bool("BOT_LOG_QUESTIONS", get("BOT_LOG_QUESTIONS") or "true"),
        webhook_url=get("BOT_WEBHOOK_URL"),
        webhook_listen=get("BOT_WEBHOOK_LISTEN") or "0.0.0.0",
        webhook_port=int(port_raw),
        webhook_secret=webhook_secret,
        **kwargs,  # type: ignore[arg-type]
    )


def validate_token(token: str | None) -> str:
    """Return the token or raise with a sentence that says how to get a valid one."""
    if not token:
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN is not set: get one from @BotFather and put it in .env"
        )
    if not TOKEN_PATTERN.match(token):
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN does not look like a BotFather token (digits:letters)"
        )
    return token
