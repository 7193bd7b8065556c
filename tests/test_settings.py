"""Settings: what an operator writes in .env is what the bot runs with, or a clear error."""

from pathlib import Path

import pytest

from bot.settings import (
    DEFAULT_API_BASE_URL,
    SettingsError,
    load_settings,
    validate_token,
)


def test_defaults_when_nothing_is_set() -> None:
    settings = load_settings({}, dotenv=None)
    assert settings.token is None
    assert settings.api_base_url == DEFAULT_API_BASE_URL
    assert settings.data_dir == Path("data")
    assert settings.timezone == "Asia/Jakarta"
    assert settings.default_language == "id"
    assert settings.log_questions is True


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nTEAM_LEAD_IDS=1, 2\nexport BOT_LANGUAGE='en'\nBOT_DATA_DIR=/tmp/x\n"
    )
    settings = load_settings({"BOT_DATA_DIR": "/srv/kisah"}, dotenv=dotenv)
    assert settings.team_lead_ids == frozenset({1, 2})
    assert settings.default_language == "en"
    assert settings.data_dir == Path("/srv/kisah")


def test_api_base_url_gives_matching_file_url() -> None:
    settings = load_settings({"TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot"}, dotenv=None)
    assert settings.api_file_url == "http://127.0.0.1:8081/file/bot"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("TEAM_LEAD_IDS", "12,abc", "TEAM_LEAD_IDS"),
        ("TEAM_LEAD_IDS", "--5", "TEAM_LEAD_IDS"),
        ("TEAM_LEAD_IDS", "\u00b2", "TEAM_LEAD_IDS"),
        ("BOT_WEBHOOK_PORT", "\u00b2", "BOT_WEBHOOK_PORT"),
        ("BOT_WEBHOOK_PORT", "70000", "BOT_WEBHOOK_PORT"),
        ("BOT_TIMEZONE", "Mars/Olympus", "BOT_TIMEZONE"),
        ("BOT_LANGUAGE", "fr", "BOT_LANGUAGE"),
        ("BOT_LOG_QUESTIONS", "maybe", "BOT_LOG_QUESTIONS"),
        ("BOT_WEBHOOK_SECRET", "has spaces!", "BOT_WEBHOOK_SECRET"),
        ("BOT_WEBHOOK_SECRET", "x" * 257, "BOT_WEBHOOK_SECRET"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings({name: value}, dotenv=None)


def test_token_validation_explains_how_to_fix() -> None:
    with pytest.raises(SettingsError, match="BotFather"):
        validate_token(None)
    with pytest.raises(SettingsError, match="does not look like"):
        validate_token("not-a-token")
    token = "123456:" + "A" * 35
    assert validate_token(token) == token


def test_redact_hides_the_token() -> None:
    token = "123456:" + "B" * 35
    settings = load_settings({"TELEGRAM_BOT_TOKEN": token}, dotenv=None)
    assert token not in settings.redact(f"POST https://api.telegram.org/bot{token}/getMe")


def test_redact_hides_the_webhook_secret_but_not_ordinary_words() -> None:
    settings = load_settings({"BOT_WEBHOOK_SECRET": "s3cret-hook_value"}, dotenv=None)
    assert settings.redact("{'secret_token': 's3cret-hook_value'}") == (
        "{'secret_token': '<webhook-secret>'}"
    )
    short = load_settings({"BOT_WEBHOOK_SECRET": "abc"}, dotenv=None)  # valid, but weak
    assert short.redact("abcdef") == "abcdef"
