"""`python -m bot run` as an operator runs it: a real process against the fake Bot API server
(through TELEGRAM_API_BASE_URL). Start-up failures must be one clear line, never a traceback,
never the token; SIGTERM and SIGINT must stop the bot cleanly."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
from fakebot import DEFAULT_TOKEN, FakeTelegram

from bot.settings import Settings
from bot.transports.telegram.runner import EXIT_CONFIG, EXIT_UNAVAILABLE, run_bot

pytestmark = pytest.mark.slow  # end to end: `make test-fast` skips these

OTHER_TOKEN = "987654321:ANOTHER-valid-looking-token-000000000"


def bot_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env.update({"BOT_DATA_DIR": str(tmp_path / "data"), "BOT_LOG_LEVEL": "WARNING", **values})
    return env


async def start_run(tmp_path: Path, *args: str, **env: str) -> asyncio.subprocess.Process:
    """`python -m bot run ARGS` as an operator starts it: its own directory (no stray .env from
    the project), only the given settings, output captured."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        *args,
        cwd=tmp_path,
        env=bot_env(tmp_path, **env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_cli(
    tmp_path: Path, *args: str, timeout: float = 30, **env: str
) -> tuple[int, str, str]:
    process = await start_run(tmp_path, *args, **env)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def assert_one_line(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_runs_answers_and_stops_cleanly_on_signal(
    tmp_path: Path, fake_telegram: FakeTelegram, stop_signal: signal.Signals
) -> None:
    process = await start_run(
        tmp_path,
        TELEGRAM_BOT_TOKEN=fake_telegram.token,
        TELEGRAM_API_BASE_URL=fake_telegram.base_url,
        BOT_LOG_LEVEL="DEBUG",  # the most talkative level still must not leak the token
    )
    try:
        await fake_telegram.wait_until(
            lambda: fake_telegram.get_updates_calls > 0, timeout=20, what="polling"
        )
        assert fake_telegram.commands("all_private_chats"), "menus registered at start"
        user = fake_telegram.user(8001)
        fake_telegram.send_text(
            fake_telegram.private_chat(user), user, "customer ngancam gak mau kerjasama lagi"
        )
        [reply] = await fake_telegram.wait_sent(1, user.id, timeout=10)
        assert reply.bold()
        process.send_signal(stop_signal)
        out, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = err.decode()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert DEFAULT_TOKEN not in stderr + out.decode()
    assert "Kisah is running as @kisah_test_bot" in stderr
    assert "stopped" in stderr.strip().splitlines()[-1]


async def test_malformed_token_is_one_line(tmp_path: Path) -> None:
    code, _, err = await run_cli(tmp_path, TELEGRAM_BOT_TOKEN="not-a-token")
    assert code != 0
    assert_one_line(err, "TELEGRAM_BOT_TOKEN")


async def test_rejected_token_is_one_line(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    code, _, err = await run_cli(
        tmp_path, TELEGRAM_BOT_TOKEN=OTHER_TOKEN, TELEGRAM_API_BASE_URL=fake_telegram.base_url
    )
    assert code == EXIT_CONFIG
    assert_one_line(err, "rejected TELEGRAM_BOT_TOKEN")
    assert OTHER_TOKEN not in err


async def test_unreachable_api_is_one_line(tmp_path: Path) -> None:
    fake = await FakeTelegram().start()
    closed_url = fake.base_url
    await fake.stop()  # nothing listens on that port any more
    code, _, err = await run_cli(
        tmp_path, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN, TELEGRAM_API_BASE_URL=closed_url
    )
    assert code == EXIT_UNAVAILABLE
    assert_one_line(err, "cannot reach the Telegram Bot API", closed_url)
    assert DEFAULT_TOKEN not in err


async def test_broken_knowledge_base_is_one_line(tmp_path: Path) -> None:
    responses = tmp_path / "responses"
    (responses / "anecdotes").mkdir(parents=True)
    (responses / "ui").mkdir()
    (responses / "anecdotes" / "000-x.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    code, _, err = await run_cli(
        tmp_path, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN, BOT_RESPONSES_DIR=str(responses)
    )
    assert code == EXIT_CONFIG
    assert_one_line(err, "knowledge base", "000-x.yaml")


def test_a_missing_team_text_stops_the_start_with_one_line(tmp_path: Path) -> None:
    """A text only the team commands use is checked at start, before Telegram is contacted:
    the bot must not run and fail on the first /daily."""
    from kbfixture import write_kb

    responses = write_kb(tmp_path / "kb")
    team = responses / "ui" / "team.yaml"
    team.write_text(
        team.read_text(encoding="utf-8").replace("team_stats_title:", "team_stats_titel:"),
        encoding="utf-8",
    )
    settings = Settings(
        token=DEFAULT_TOKEN,
        api_base_url="http://127.0.0.1:9/bot",  # never reached: the check comes first
        data_dir=tmp_path / "data",
        responses_dir=responses,
    )
    stderr = io.StringIO()
    assert run_bot(settings, stderr=stderr) == EXIT_CONFIG
    assert_one_line(stderr.getvalue(), "knowledge base", "team.yaml: team_stats_title: missing")


async def test_webhook_mode_without_url_is_one_line(tmp_path: Path) -> None:
    code, _, err = await run_cli(tmp_path, "--webhook", TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN)
    assert code == EXIT_CONFIG
    assert_one_line(err, "BOT_WEBHOOK_URL")


async def test_run_bot_in_process_unreachable(tmp_path: Path) -> None:
    """run_bot itself (not only through the CLI) reports on the stream it is given."""
    stderr = io.StringIO()
    settings = Settings(
        token=DEFAULT_TOKEN, api_base_url="http://127.0.0.1:9/bot", data_dir=tmp_path / "d"
    )
    code = await asyncio.to_thread(run_bot, settings, stderr=stderr)
    assert code == EXIT_UNAVAILABLE
    assert_one_line(stderr.getvalue(), "cannot reach")


async def test_debug_logs_never_carry_questions_when_question_logging_is_off(
    tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    """BOT_LOG_QUESTIONS=false keeps no question text, and that includes the logs: at DEBUG,
    python-telegram-bot dumps every update and API call, which carry the user's words."""
    marker = "zirkonquokka"  # in no story and no UI text: it can only come from the user
    process = await start_run(
        tmp_path,
        TELEGRAM_BOT_TOKEN=fake_telegram.token,
        TELEGRAM_API_BASE_URL=fake_telegram.base_url,
        BOT_LOG_LEVEL="DEBUG",
        BOT_LOG_QUESTIONS="false",
    )
    try:
        await fake_telegram.wait_until(
            lambda: fake_telegram.get_updates_calls > 0, timeout=20, what="polling"
        )
        user = fake_telegram.user(8002)
        chat = fake_telegram.private_chat(user)
        # A matched question, and one out of scope (whose reply quotes the question back).
        fake_telegram.send_text(chat, user, f"customer ngancam gak mau kerjasama lagi {marker}")
        await fake_telegram.wait_sent(1, user.id, timeout=10)
        fake_telegram.send_text(chat, user, f"resep {marker} yang enak")
        [_, echo] = await fake_telegram.wait_sent(2, user.id, timeout=10)
        assert marker in echo.text  # the words did travel through the bot
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = err.decode()
    assert process.returncode == 0, stderr
    assert " DEBUG " in stderr  # the bot really logged at DEBUG
    assert marker not in stderr + out.decode()


async def test_webhook_without_a_secret_generates_one_and_never_logs_it(
    tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    """The operator's path: `run` with BOT_WEBHOOK_URL and no BOT_WEBHOOK_SECRET gives Telegram
    a generated secret, refuses a forged POST, and even at DEBUG (where PTB prints setWebhook's
    parameters) neither the secret nor the token reaches the log."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await start_run(
        tmp_path,
        TELEGRAM_BOT_TOKEN=fake_telegram.token,
        TELEGRAM_API_BASE_URL=fake_telegram.base_url,
        BOT_WEBHOOK_URL=f"http://127.0.0.1:{port}",
        BOT_WEBHOOK_LISTEN="127.0.0.1",
        BOT_WEBHOOK_PORT=str(port),
        BOT_LOG_LEVEL="DEBUG",
    )
    try:
        hook = await fake_telegram.wait_until(lambda: fake_telegram.webhook, 20, "setWebhook")
        secret = hook["secret_token"]
        assert isinstance(secret, str) and len(secret) >= 32
        user = fake_telegram.user(8003)
        chat = fake_telegram.private_chat(user)
        forged = {
            "update_id": 990002,
            "message": {
                "message_id": 990002,
                "date": 0,
                "chat": chat.to_dict(),
                "from": user.to_dict(),
                "text": "customer ngancam gak mau kerjasama lagi",
            },
        }
        async with httpx.AsyncClient() as client:
            response = await client.post(hook["url"], json=forged)
        assert response.status_code == 403
        fake_telegram.send_text(chat, user, "customer ngancam gak mau kerjasama lagi")
        await fake_telegram.wait_sent(1, user.id, timeout=10)  # Telegram's own POST gets in
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = err.decode()
    assert process.returncode == 0, stderr
    assert len(fake_telegram.sent_to(user.id)) == 1  # the forged question got no answer
    assert "INFO bot.transports.telegram.runner: BOT_WEBHOOK_SECRET is not set: generated" in stderr
    assert "<webhook-secret>" in stderr  # PTB's DEBUG dump of setWebhook, redacted
    assert secret not in stderr + out.decode()
    assert DEFAULT_TOKEN not in stderr + out.decode()
