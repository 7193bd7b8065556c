"""`python -m bot`: the JSON contract of `ask`, `check` on broken files, and clean failures."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from kbfixture import APOLOGY, PROJECT, SEEDS, THREAT, add_trigger, call_cli, write_kb

from bot import cli
from bot.content.knowledge import load_knowledge
from bot.engine.params import DEFAULT_THRESHOLD
from bot.settings import Settings
from bot.storage.store import DB_FILENAME, Store

THREAT_EN = "client threatens to end the partnership"
APOLOGY_ID = "cara minta maaf ke customer karena lupa pesanan"
WEATHER = "Berapa suhu di Medan hari ini?"
WEATHER_EN = "What's the weather in Medan today?"


def run_bot(
    tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in a clean directory (no .env), as a user or a tool runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=clean_env(tmp_path, **(env or {})),
        timeout=60,
    )


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any bot setting, data in `tmp_path`, plus `extra`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "BOT_", "TEAM_"))
    }
    environment.update(PYTHONPATH=str(PROJECT), BOT_DATA_DIR=str(tmp_path / "data"))
    environment.update(extra)
    return environment


@pytest.fixture
def responses(tmp_path: Path) -> Path:
    return write_kb(tmp_path)


@pytest.fixture
def settings(tmp_path: Path, responses: Path) -> Settings:
    return Settings(responses_dir=responses, seeds_dir=SEEDS, data_dir=tmp_path / "data")


def check_record(record: dict[str, Any], question: str) -> None:
    """The exact `ask --json` shape other tools parse."""
    assert list(record) == ["question", "lang", "matches"]
    assert record["question"] == question
    assert record["lang"] in ("id", "en")
    assert isinstance(record["matches"], list) and len(record["matches"]) <= 3
    scores = []
    for match in record["matches"]:
        assert list(match) == ["id", "seed", "title", "score", "lesson"]
        assert isinstance(match["score"], int) and 0 <= match["score"] <= 100
        assert all(isinstance(match[key], str) and match[key] for key in ("id", "seed", "title"))
        scores.append(match["score"])
    assert scores == sorted(scores, reverse=True)


def test_ask_json_reads_stdin_one_line_per_question(tmp_path: Path, responses: Path) -> None:
    questions = [THREAT_EN, WEATHER, "", APOLOGY_ID, '<b>&amp; "quoted" ünïcode']
    result = run_bot(
        tmp_path, "--responses", str(responses), "ask", "--json", stdin="\n".join(questions) + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(questions)
    records = [json.loads(line) for line in lines]
    for record, question in zip(records, questions, strict=True):
        check_record(record, question)
    threat, weather, empty, apology, odd = records
    assert threat["lang"] == "en"
    assert threat["matches"][0] == {
        "id": "ancaman-klien",
        "seed": "000_14f30f37fa898fbe.txt",
        "title": "A client <b>threatens</b> & rages",  # raw title: JSON is not HTML
        "score": threat["matches"][0]["score"],
        "lesson": threat["matches"][0]["lesson"],
    }
    assert weather == {"question": WEATHER, "lang": "id", "matches": []}
    assert empty["matches"] == []
    assert apology["lang"] == "id"
    assert apology["matches"][0]["id"] == "maaf-coklat"
    assert apology["matches"][0]["title"] == "Lupa pesanan, minta maaf dengan coklat"
    assert odd["matches"] == []


@pytest.mark.slow  # a subprocess
def test_ask_json_with_a_question_argument(tmp_path: Path, responses: Path) -> None:
    result = run_bot(tmp_path, "ask", "--json", WEATHER_EN, "--responses", str(responses))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout) == {"question": WEATHER_EN, "lang": "en", "matches": []}


@pytest.mark.slow  # a subprocess
def test_ask_json_on_the_real_base(tmp_path: Path) -> None:
    result = run_bot(
        tmp_path,
        "ask",
        "--json",
        stdin="customer ngancam gak mau kerjasama lagi\nConvert 100 dollars to rupiah\n",
    )
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    check_record(first, "customer ngancam gak mau kerjasama lagi")
    assert first["matches"] and first["matches"][0]["seed"].startswith("000_")
    assert second["matches"] == [] and second["lang"] == "en"


def test_ask_plain_output(settings: Settings) -> None:
    status, out, _ = call_cli(["ask"], settings, stdin=f"{THREAT_EN}\n{WEATHER}\n")
    assert status == 0
    first, second = out.splitlines()
    assert first.startswith(f"{THREAT_EN}\t[en] ancaman-klien (000) ")
    assert second == f"{WEATHER}\t[id] no story (out of scope)"


def test_check_ok(settings: Settings) -> None:
    status, out, err = call_cli(["check"], settings)
    kb = load_knowledge(settings.responses_dir, SEEDS)
    assert status == 0, err
    assert out == f"OK: 2 stories, 6 tips, 0 quiz questions, {len(kb.ui)} UI texts\n"


@pytest.mark.slow  # a subprocess
def test_check_on_the_real_base(tmp_path: Path) -> None:
    result = run_bot(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ") and " stories, " in result.stdout


@pytest.mark.slow  # a subprocess
def test_check_does_not_load_python_telegram_bot(tmp_path: Path) -> None:
    """Every UI text declaration is importable without PTB (bot/transports/telegram/texts.py and the
    core), so validating content never loads the Telegram library."""
    code = (
        "import sys\n"
        "from bot import cli\n"
        "status = cli.main(['check'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'telegram')\n"
        "assert not loaded, loaded\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=PROJECT,
        env=clean_env(tmp_path),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ")


@pytest.mark.slow  # a subprocess
def test_check_broken_files_names_file_field_and_line(tmp_path: Path) -> None:
    broken_title = dict(APOLOGY, title={"id": "Hanya bahasa Indonesia"})
    responses = write_kb(tmp_path, [THREAT, broken_title])
    (responses / "anecdotes" / "002-syntax.yaml").write_text(
        "id: x\nstory: [unclosed\n", encoding="utf-8"
    )
    result = run_bot(tmp_path, "--responses", str(responses), "check")
    assert result.returncode == cli.EXIT_CONFIG == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert any(
        line.endswith("001-maaf-coklat.yaml:3: title: missing the 'en' language") for line in lines
    ), lines
    assert any("002-syntax.yaml:3: invalid YAML" in line for line in lines), lines


def test_check_refuses_a_key_written_twice_instead_of_losing_the_first(tmp_path: Path) -> None:
    """YAML keeps the last of two equal keys and drops the first without a word: a second
    `lessons:` block, or a concept defined again further down, would lose content."""
    responses = write_kb(tmp_path)
    story = responses / "anecdotes" / "001-maaf-coklat.yaml"
    text = story.read_text(encoding="utf-8")
    story.write_text(text + "lessons:\n  - id: Satu saja.\n    en: Only one.\n", "utf-8")
    lines_before = text.count("\n")
    result = run_bot(tmp_path, "--responses", str(responses), "check")
    assert result.returncode == cli.EXIT_CONFIG
    assert "Traceback" not in result.stderr
    assert f"001-maaf-coklat.yaml:{lines_before + 1}: invalid YAML: 'lessons' is written twice" in (
        result.stderr
    )
    story.write_text(text, "utf-8")
    (responses / "concepts.yaml").write_text(
        "concepts:\n  order: [pesanan]\n  apology: [maaf]\n  order: [order]\n", "utf-8"
    )
    result = run_bot(tmp_path, "--responses", str(responses), "check")
    assert result.returncode == cli.EXIT_CONFIG
    assert "'order' is written twice" in result.stderr and "line 4" in result.stderr


@pytest.mark.slow  # a subprocess
def test_check_reports_missing_chat_texts(tmp_path: Path) -> None:
    responses = write_kb(tmp_path)
    chat = responses / "ui" / "chat.yaml"
    chat.write_text(
        chat.read_text(encoding="utf-8").replace("{lesson}", "{lesson"), encoding="utf-8"
    )
    result = run_bot(tmp_path, "--responses", str(responses), "check")
    assert result.returncode == cli.EXIT_CONFIG
    assert "chat.yaml: story.id: broken {placeholder}" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_validates_the_telegram_and_team_texts_too(settings: Settings) -> None:
    """A text only team.py or the Telegram menu uses is checked like the chat texts: missing,
    misspelt placeholders, broken HTML, a list with the wrong number of words."""
    ui = settings.responses_dir / "ui"
    team = ui / "team.yaml"
    text = team.read_text(encoding="utf-8")
    start = text.index("team_only_leads:")
    end = text.index("\n\n", start)
    text = text[:start] + text[end + 2 :]  # the refusal a member gets: gone
    text = text.replace("{given}", "{gievn}", 1)
    text = text.replace("Senin Selasa", "Senin", 1)
    team.write_text(text, encoding="utf-8")
    telegram = ui / "telegram.yaml"
    telegram.write_text(
        telegram.read_text(encoding="utf-8").replace("tg_cmd_tip:", "tg_cmd_tips:"),
        encoding="utf-8",
    )
    status, out, err = call_cli(["check"], settings)
    assert status == cli.EXIT_CONFIG and out == ""
    assert "responses/ui/team.yaml: team_only_leads: missing UI text" in err
    assert "team.yaml: team_daily_usage.id: unknown placeholder {gievn}" in err
    assert "team.yaml: team_weekday_names.id: needs exactly 7 words" in err
    assert "responses/ui/telegram.yaml: tg_cmd_tip: missing UI text" in err
    # the misspelt key itself is read by nothing: named, with the text it was meant to be
    assert "tg_cmd_tips: no part of the bot reads this text; did you mean 'tg_cmd_tip'?" in err
    assert "Traceback" not in err


def test_every_ui_text_the_code_uses_is_declared_for_the_check() -> None:
    """A literal UI key in the code that no module declares would escape `check`."""
    import re

    from bot.transports.telegram.app import UI_TEXTS

    declared = {key for spec in UI_TEXTS for key in spec.texts}
    used: set[str] = set()
    for path in (PROJECT / "bot").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"(?:_t|\.text|_button)\(\s*\"([a-z][a-z0-9_]*)\"", source))
    assert used and used - declared == set()


@pytest.mark.parametrize("command", [["ask", "x"], ["chat"], ["run"], ["eval", "f.yaml"]])
@pytest.mark.slow  # a subprocess
def test_every_command_refuses_a_broken_base_without_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    responses = write_kb(tmp_path, [dict(THREAT, seed="nope.txt"), APOLOGY])
    (tmp_path / "f.yaml").write_text("- {q: x, expect: []}\n", encoding="utf-8")
    result = run_bot(tmp_path, "--responses", str(responses), *command, stdin="/quit\n")
    assert result.returncode == cli.EXIT_CONFIG
    assert "000-ancaman-klien.yaml:2: seed: seed file 'nope.txt' does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # a subprocess
def test_settings_errors_end_cleanly(tmp_path: Path) -> None:
    result = run_bot(tmp_path, "check", env={"BOT_LANGUAGE": "fr"})
    assert result.returncode == cli.EXIT_CONFIG
    assert (
        result.stderr.strip() == "Configuration error: BOT_LANGUAGE must be 'id' or 'en', got 'fr'"
    )
    result = run_bot(tmp_path, "check", env={"BOT_LOG_LEVEL": "chatty"})
    assert result.returncode == cli.EXIT_CONFIG
    assert "BOT_LOG_LEVEL" in result.stderr and "Traceback" not in result.stderr


def test_team_lead_ids_that_are_no_user_id_are_refused(tmp_path: Path) -> None:
    """A group's id (negative), 0 or a number past 2^52 is never a user: a typo to be told."""
    for value in ("-5", "0", "12345678901234567890123", "7, -100123"):
        result = run_bot(tmp_path, "check", env={"TEAM_LEAD_IDS": value})
        assert result.returncode == cli.EXIT_CONFIG, value
        line = result.stderr.strip()
        assert line.startswith("Configuration error: TEAM_LEAD_IDS: ") and "\n" not in line
        assert "is not a Telegram user id" in line
    assert run_bot(tmp_path, "check", env={"TEAM_LEAD_IDS": "4503599627370495"}).returncode == 0


@pytest.mark.slow  # a subprocess
def test_unusable_data_dir_ends_cleanly(tmp_path: Path, responses: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    result = run_bot(
        tmp_path,
        "--responses",
        str(responses),
        "chat",
        stdin="/quit\n",
        env={"BOT_DATA_DIR": str(blocker / "data")},
    )
    assert result.returncode == cli.EXIT_FAILURE == 1  # a failure at work, not a setting
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_run_without_token_explains_and_starts_the_chat(settings: Settings) -> None:
    status, out, _ = call_cli(["run"], settings, stdin="/topics\n/quit\n")
    assert status == 0
    first_line = out.splitlines()[0]
    assert (
        "TELEGRAM_BOT_TOKEN" in first_line and "@BotFather" in first_line and ".env" in first_line
    )
    assert "Cerita yang saya punya (2)" in out


@pytest.mark.slow  # a subprocess
def test_run_with_token_starts_the_telegram_runner(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Settings, bool]] = []

    def fake_run_bot(given: Settings, webhook: bool = False, *, stderr: Any = None) -> int:
        calls.append((given, webhook))
        return 3

    runner = types.ModuleType("bot.transports.telegram.runner")
    runner.run_bot = fake_run_bot  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bot.transports.telegram.runner", runner)
    token = "123456789:" + "A" * 35
    with_token = Settings(**{**settings.__dict__, "token": token})
    assert call_cli(["run", "--webhook"], with_token)[0] == 3
    assert call_cli(["run"], with_token)[0] == 3
    assert [webhook for _, webhook in calls] == [True, False]
    assert calls[0][0].token == token


def test_run_with_a_malformed_token_ends_with_one_line(settings: Settings) -> None:
    bad = Settings(**{**settings.__dict__, "token": "not-a-token"})
    status, out, err = call_cli(["run"], bad)
    assert status != 0 and out == ""
    assert "does not look like a BotFather token" in err
    assert "not-a-token" not in err and "Traceback" not in err


def test_report_gets_its_own_options(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.tools import report

    seen: list[tuple[int, int, float]] = []

    def fake_run(services: Any, options: Any, stdout: Any = None) -> int:
        assert services.store is not None and services.replies is not None
        seen.append((options.days, options.top, options.threshold))
        return 0

    monkeypatch.setattr(report, "run", fake_run)
    Store.open(settings).close()  # the bot ran: there is a database to report on
    assert call_cli(["report", "--days", "7"], settings)[0] == 0
    assert call_cli(["report", "--top", "3", "--threshold", "80"], settings)[0] == 0
    assert seen == [(7, 10, report.DEFAULT_THRESHOLD), (30, 3, 80.0)]
    for bad in (["--days", "0"], ["--days", "abc"], ["--threshold", "150"], ["--nope"]):
        with pytest.raises(SystemExit) as raised:
            call_cli(["report", *bad], settings)
        assert raised.value.code == cli.EXIT_CONFIG
    assert "--days: must be a positive whole number, got 'abc'" in capsys.readouterr().err


def test_report_help_lists_the_report_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["report", "--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    for option in ("--days", "--top", "--threshold", "--responses"):
        assert option in out


def test_report_prints_the_report(settings: Settings) -> None:
    """A data folder the bot never ran with (a mistyped BOT_DATA_DIR) is named, not filled
    with an empty database whose zeros would read as "nobody used the bot"."""
    status, out, err = call_cli(["report"], settings)
    assert status == cli.EXIT_FAILURE and out == ""
    assert f"Error: no database at {settings.data_dir / DB_FILENAME}" in err
    assert not settings.data_dir.exists()
    Store.open(settings).close()  # the bot ran once
    status, out, err = call_cli(["report", "--days", "7", "--top", "2"], settings)
    assert status == 0, err
    assert out.startswith("Kisah usage report (all chats)")


def test_ask_refuses_a_data_dir_that_is_a_file(tmp_path: Path, settings: Settings) -> None:
    """A mistyped BOT_DATA_DIR must not quietly answer without what team leads taught."""
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x", encoding="utf-8")
    status, out, err = call_cli(["ask", THREAT_EN], replace(settings, data_dir=a_file))
    assert status == cli.EXIT_FAILURE and out == ""
    assert f"Error: BOT_DATA_DIR {a_file} is not a directory" in err


def test_unknown_options_are_refused_for_our_commands(settings: Settings) -> None:
    with pytest.raises(SystemExit) as raised:
        call_cli(["check", "--days", "7"], settings)
    assert raised.value.code == 2


def test_eval_prints_the_report(tmp_path: Path, settings: Settings) -> None:
    labeled = tmp_path / "questions.yaml"
    labeled.write_text(
        f"- {{q: '{THREAT_EN}', expect: ['000'], lang: en}}\n"
        f"- {{q: '{APOLOGY_ID}', expect: ['003'], lang: id}}\n"
        f"- {{q: '{WEATHER}', expect: [], lang: id}}\n",
        encoding="utf-8",
    )
    status, out, err = call_cli(["eval", str(labeled)], settings)
    assert status == 0, err
    assert "top1=1.00 top3=1.00 oos_reject=1.00" in out.strip().splitlines()[-1]
    status, _, err = call_cli(["eval", str(tmp_path / "missing.yaml")], settings)
    assert status == cli.EXIT_CONFIG and "missing.yaml" in err
    # a scoring parameter varied for one run: nothing reaches a threshold of 101
    status, out, err = call_cli(["eval", str(labeled), "--set", "threshold=101"], settings)
    assert status == 0, err
    assert "top1=0.00" in out.strip().splitlines()[-1] and "threshold 101" in out
    status, _, err = call_cli(["eval", str(labeled), "--set", "treshold=1"], settings)
    assert status == cli.EXIT_CONFIG and "unknown parameter" in err
    status, _, err = call_cli(["eval", str(labeled), "--set", "threshold"], settings)
    assert status == cli.EXIT_CONFIG and "write NAME=VALUE, e.g. --set threshold=40" in err
    status, _, err = call_cli(["eval", str(labeled), "--set", "threshold=high"], settings)
    assert status == cli.EXIT_CONFIG and "threshold needs a whole number" in err


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("- q: 'halo'\n  expect: []\n  lang: fr\n", "item 0: 'lang' must be one of id, en, mixed"),
        ('- q: "halo\n  expect: [\n', "questions.yaml:3: invalid YAML: found unexpected end"),
    ],
)
def test_eval_names_a_malformed_file_in_one_line(
    tmp_path: Path, settings: Settings, content: str, said: str
) -> None:
    labeled = tmp_path / "questions.yaml"
    labeled.write_text(content, encoding="utf-8")
    status, out, err = call_cli(["eval", str(labeled)], settings)
    assert status == cli.EXIT_CONFIG and out == ""
    assert said in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("label", "said"),
    [
        ("expect: ['999']", "expect '999' is no story's seed prefix"),
        ("expect: ['ancaman-klien']", "expect 'ancaman-klien' is no story's seed prefix"),
        ("expect: ['000'], lesson: [7]", "lesson 7 is beyond story 000's"),
    ],
)
def test_eval_refuses_a_label_no_story_has(
    tmp_path: Path, settings: Settings, label: str, said: str
) -> None:
    """A mistyped label (a number no seed has, a story's id, a lesson past the last) would
    only score 0.00 and send an author looking for a matching problem that is not there."""
    labeled = tmp_path / "questions.yaml"
    labeled.write_text(f"- {{q: '{THREAT_EN}', {label}, lang: en}}\n", encoding="utf-8")
    status, out, err = call_cli(["eval", str(labeled)], settings)
    assert status == cli.EXIT_CONFIG and out == ""
    assert "item 0" in err and said in err
    # calibrate would fit it as a wrong answer and write the model anyway
    weights = settings.responses_dir / "calibration.yaml"
    before = weights.read_bytes() if weights.exists() else None
    with labeled.open("a", encoding="utf-8") as more:
        more.write(f"- {{q: '{WEATHER}', expect: [], lang: id}}\n")
    status, out, err = call_cli(["calibrate", str(labeled)], settings)
    assert status == cli.EXIT_CONFIG and said in err
    assert (weights.read_bytes() if weights.exists() else None) == before


def test_eval_says_n_a_for_a_rate_it_has_no_items_for(tmp_path: Path, settings: Settings) -> None:
    """A file of in-scope questions only has no out-of-scope rejection to report: "n/a", not
    a 0.00 that reads as a failure (or a 1.00 that reads as a success); and the reverse."""
    in_scope = tmp_path / "in-scope.yaml"
    in_scope.write_text(f"- {{q: '{THREAT_EN}', expect: ['000'], lang: en}}\n", encoding="utf-8")
    status, out, err = call_cli(["eval", str(in_scope)], settings)
    assert status == 0, err
    assert re.search(r"out-of-scope rejected: +n/a", out)
    assert "oos_reject=n/a" in out.strip().splitlines()[-1]
    assert re.search(rf"  {DEFAULT_THRESHOLD}: 1\.00 1\.00 n/a  <- current", out)
    off_topic = tmp_path / "off-topic.yaml"
    off_topic.write_text(f"- {{q: '{WEATHER}', expect: [], lang: id}}\n", encoding="utf-8")
    status, out, err = call_cli(["eval", str(off_topic)], settings)
    assert status == 0, err
    assert re.search(r"top-1 \(best answer right\): +n/a", out)
    assert out.strip().splitlines()[-1].startswith("top1=n/a top3=n/a oos_reject=1.00")


@pytest.mark.parametrize("command", ["run", "chat", "ask", "eval", "calibrate", "check", "report"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main([command, "--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m bot {command}")
    assert "--responses" in out


@pytest.mark.slow  # a subprocess
def test_top_level_help_lists_the_commands(tmp_path: Path) -> None:
    result = run_bot(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("run", "chat", "ask", "eval", "check", "report"):
        assert command in result.stdout
    epilog = result.stdout.split("exit status:", 1)[1]
    for code, meaning in ((1, "failed while working"), (2, "configuration"), (3, "Telegram")):
        assert any(
            line.split()[:1] == [str(code)] and meaning in line for line in epilog.splitlines()
        ), epilog


def test_runner_and_cli_share_the_exit_codes() -> None:
    from bot.transports.telegram import runner

    assert (runner.EXIT_CONFIG, runner.EXIT_UNAVAILABLE) == (cli.EXIT_CONFIG, 3) == (2, 3)


@pytest.mark.slow  # a subprocess
def test_ask_stops_quietly_when_the_reader_goes_away(tmp_path: Path, responses: Path) -> None:
    """`python -m bot ask --json < questions | head -1` must not end in a traceback."""
    environment = clean_env(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--responses", str(responses), "ask", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=environment,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"x\n" * 5000)  # ~250 kB of answers: more than a pipe buffers
    process.stdin.close()
    assert json.loads(process.stdout.readline())["matches"] == []
    process.stdout.close()
    assert process.stderr is not None
    err = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert b"Traceback" not in err and b"BrokenPipe" not in err


@pytest.mark.slow  # a subprocess
def test_ask_json_is_utf8_whatever_the_locale(tmp_path: Path, responses: Path) -> None:
    environment = clean_env(tmp_path, LC_ALL="C", LANG="C", PYTHONIOENCODING="")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--responses", str(responses), "ask", "--json"],
        input="cliént \xff\n".encode("latin-1") + "klien ngancam 😀\n".encode(),
        capture_output=True,
        cwd=tmp_path,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.decode("utf-8").splitlines())
    assert first["question"] == "cli\ufffdnt \ufffd"  # undecodable bytes replaced, no crash
    assert second["question"] == "klien ngancam 😀"


@pytest.mark.slow  # a subprocess
def test_a_broken_normalisation_table_is_a_knowledge_error(tmp_path: Path) -> None:
    """A knowledge base's own normalize.yaml is content too: reported, never a traceback."""
    responses = write_kb(tmp_path)
    (responses / "normalize.yaml").write_text("slang:\n  gak: 5\n", encoding="utf-8")
    result = run_bot(tmp_path, "--responses", str(responses), "check")
    assert result.returncode == cli.EXIT_CONFIG and result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert "normalize.yaml" in first and "slang" in first and "gak" in first
    assert "Traceback" not in result.stderr


def test_a_misspelt_section_of_the_normalisation_table_is_named(settings: Settings) -> None:
    """'stopword:' would be dropped without a word, and every stopword read as content."""
    table = (PROJECT / "responses" / "normalize.yaml").read_text(encoding="utf-8")
    assert "\nstopwords:" in table
    (settings.responses_dir / "normalize.yaml").write_text(
        table.replace("\nstopwords:", "\nstopword:", 1), encoding="utf-8"
    )
    status, out, err = call_cli(["check"], settings)
    assert status == cli.EXIT_CONFIG and out == ""
    assert "normalize.yaml: stopword: unknown section; did you mean 'stopwords'?" in err
    assert "Traceback" not in err


def test_a_legal_subject_a_story_may_follow_must_exist(settings: Settings) -> None:
    """A misspelt subject in `legal_story_after` would silently offer no story after it."""
    table = (PROJECT / "responses" / "normalize.yaml").read_text(encoding="utf-8")
    assert "legal_story_after: [gift for an official," in table
    (settings.responses_dir / "normalize.yaml").write_text(
        table.replace("legal_story_after: [gift for an official,", "legal_story_after: [gift,"),
        encoding="utf-8",
    )
    status, out, err = call_cli(["check"], settings)
    assert status == cli.EXIT_CONFIG and out == ""
    assert "legal_story_after: must list subjects of `legal`; unknown: gift" in err
    assert "Traceback" not in err


def test_a_misspelt_kind_of_small_talk_is_named(settings: Settings) -> None:
    """'greetng:' has no reply text: its greetings would get the greeting only by luck."""
    talk = (PROJECT / "responses" / "smalltalk.yaml").read_text(encoding="utf-8")
    assert "\ngreeting:" in talk
    # read beside the base's own normalisation table, as calibration.yaml is
    shutil.copy(PROJECT / "responses" / "normalize.yaml", settings.responses_dir)
    (settings.responses_dir / "smalltalk.yaml").write_text(
        talk.replace("\ngreeting:", "\ngreetng:", 1), encoding="utf-8"
    )
    status, out, err = call_cli(["check"], settings)
    assert status == cli.EXIT_CONFIG and out == ""
    assert "smalltalk.yaml: greetng: unknown kind; did you mean 'greeting'?" in err


def test_logs_go_to_stderr_at_the_configured_level_and_are_restored(settings: Settings) -> None:
    import logging

    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    status, out, err = call_cli(["check"], Settings(**{**settings.__dict__, "log_level": "debug"}))
    assert status == 0 and out.startswith("OK: ")
    assert "INFO bot.chat.services: knowledge base ready: 2 stories" in err
    assert (list(root.handlers), root.level) == before
    status, _, err = call_cli(["check"], Settings(**{**settings.__dict__, "log_level": "WARNING"}))
    assert status == 0 and err == ""


def test_library_lines_carry_no_user_text_when_question_logging_is_off() -> None:
    """BOT_LOG_QUESTIONS=false: library DEBUG dumps are dropped, and the payloads a library
    prints at a higher level are hidden; Kisah's own DEBUG lines and the library's words stay."""
    import logging

    secret = "zirkonquokka"
    stream = io.StringIO()
    with cli.configured_logging(Settings(log_level="DEBUG", log_questions=False), stream):
        updater = logging.getLogger("telegram.ext.Updater")
        updater.debug("Webhook received data: %s", json.dumps({"text": secret}))
        logging.getLogger("httpcore.http11").debug("body %s", secret.encode())
        updater.critical("Received data was: %r", {"update_id": 7, "message": {"text": secret}})
        updater.critical("Received data was: %r", {"text": secret})
        logging.getLogger("telegram.request").error("Can not load invalid JSON data: %s", [secret])
        logging.getLogger("telegram.ext.Application").info("Rate limit hit. Retry in %f s", 1.5)
        logging.getLogger("bot.transports.telegram.handlers").debug("own line kept")
    out = stream.getvalue()
    assert secret not in out
    assert "Received data was" in out and "Can not load invalid JSON data" in out
    assert "Retry in 1.500000 s" in out and "own line kept" in out
    assert "Webhook received data" not in out

    stream = io.StringIO()
    with cli.configured_logging(Settings(log_level="DEBUG"), stream):  # logging questions: as is
        logging.getLogger("telegram.ext.Updater").critical("Received data was: %r", {"t": secret})
    assert secret in stream.getvalue()


def test_calibrate_cross_validates_without_writing(tmp_path: Path) -> None:
    """`calibrate --folds N`: the honest figure for a new set of the last file's kind, and
    the calibration the bot reads is left as it was."""
    calibration = PROJECT / "responses" / "calibration.yaml"
    before = calibration.read_bytes()
    dev, dev2 = (PROJECT / "eval" / name for name in ("dev-questions.yaml", "dev-questions-2.yaml"))
    result = run_bot(
        tmp_path,
        "--responses",
        str(PROJECT / "responses"),
        "calibrate",
        "--folds",
        "5",
        str(dev),
        str(dev2),
    )
    assert result.returncode == 0, result.stderr
    assert "cross-validated on" in result.stdout and "nothing written" in result.stdout
    top1 = float(re.search(r"top-1 \(best answer right\):\s+([0-9.]+)", result.stdout)[1])
    assert 0.5 < top1 <= 1.0
    assert "long" in result.stdout  # the file's kinds, one line each
    assert calibration.read_bytes() == before

    responses = tmp_path / "responses"  # a copy: writing the model must not touch the repo's
    shutil.copytree(PROJECT / "responses", responses)
    fitted = run_bot(tmp_path, "--responses", str(responses), "calibrate", str(dev), str(dev2))
    assert fitted.returncode == 0, fitted.stderr
    assert "threshold by the rule on these files:" in fitted.stdout
    assert (responses / "calibration.yaml").read_text(encoding="utf-8").startswith("# Confidence")
    # ...and the scope words it reads beside it, fitted on the same questions
    scope = (responses / "scope_words.yaml").read_text(encoding="utf-8")
    assert scope.startswith("# Scope words") and "wrote" in fitted.stdout
    assert any(line.split(":")[0] == "customer" for line in scope.splitlines())
    # ...and the story words, by story id: none from two small sets (each story needs 100
    # labelled questions; tests/test_new_story.py fits one that has them)
    told = (responses / "story_words.yaml").read_text(encoding="utf-8")
    assert told.startswith("# Story words") and "kerjasama-ancaman" not in told

    refused = run_bot(tmp_path, "calibrate", "--folds", "1", str(dev), str(dev2))
    assert refused.returncode == 2 and "--folds must be 2 or more" in refused.stderr


def test_a_planted_cache_file_runs_no_code(tmp_path: Path, settings: Settings) -> None:
    """Whatever lies in <data_dir>/cache is read as data: a pickle planted there (the format
    of old caches) is never executed by `ask` or `check`."""
    import pickle

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    cache = settings.data_dir / "cache"
    cache.mkdir(parents=True)
    bomb = pickle.dumps({"key": "x", "value": Payload()})
    for name in ("knowledge.pickle", "index.pickle", "cache.sqlite3"):
        (cache / name).write_bytes(bomb)
    for command in (["ask", "--json", THREAT_EN], ["check"]):
        status, _, err = call_cli(command, settings)
        assert status == 0, err
    assert not marker.exists()


def test_the_data_directory_and_database_are_private(tmp_path: Path, settings: Settings) -> None:
    """Every question asked is in the database: other local users must not read it."""
    os.umask(umask := os.umask(0o022))
    try:
        status, _, err = call_cli(["chat"], settings, stdin=f"{THREAT_EN}\n")
    finally:
        os.umask(umask)
    assert status == 0, err
    data = settings.data_dir
    assert data.stat().st_mode & 0o777 == 0o700
    databases = list(data.glob("*.db")) + list(data.glob("*.sqlite*"))
    assert databases
    for path in [*databases, *(data / "cache").iterdir()]:
        assert path.stat().st_mode & 0o077 == 0, path


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_check_refuses_a_non_finite_weight_with_file_and_line(
    tmp_path: Path, settings: Settings, value: str
) -> None:
    """A NaN weight makes every score nonsense: out-of-scope questions were told a story."""
    shutil.copy(PROJECT / "responses" / "normalize.yaml", settings.responses_dir)
    target = settings.responses_dir / "calibration.yaml"
    target.write_text(f"# weights\nlexical: 1.0\ncoverage: {value}\nbias: -7\n", encoding="utf-8")
    status, out, err = call_cli(["check"], settings)
    assert status == 2
    assert f"{target}:3: coverage: must be a finite number" in out + err
    assert "Traceback" not in out + err


def test_the_scope_words_weigh_on_whether_a_story_is_told(tmp_path: Path) -> None:
    """The scope words are content the matcher reads: a word the labelled questions only
    ever used out of scope makes a message that names it less likely to be told a story,
    and a malformed file is reported by file and line, not with a traceback."""
    responses = tmp_path / "responses"  # the real base, whose model reads the scope
    shutil.copytree(PROJECT / "responses", responses)
    settings = Settings(responses_dir=responses, seeds_dir=SEEDS, data_dir=tmp_path / "data")
    (responses / "scope_words.yaml").unlink()
    # not a phrasing of the story (an author's own phrasing is told whatever the models say)
    question = "customer ngancam gak mau kerjasama lagi karena saya gak bisa dateng besok"
    status, out, err = call_cli(["ask", "--json", question], settings)
    assert status == 0, err
    assert json.loads(out)["matches"]  # told story 000 without the file
    target = settings.responses_dir / "scope_words.yaml"
    against = "".join(f"{word}: -40.0\n" for word in ("customer", "ancam", "kerjasama", "besok"))
    target.write_text(f"# scope\n{against}", encoding="utf-8")
    status, out, err = call_cli(["ask", "--json", question], settings)
    assert status == 0, err
    assert json.loads(out)["matches"] == []
    target.write_text("# scope\nklien: 1.5\nmarah: lots\n", encoding="utf-8")
    status, out, err = call_cli(["check"], settings)
    assert status == 2
    assert f"{target}:3: marah: must be a finite number" in out + err
    assert "Traceback" not in out + err


def test_the_story_words_weigh_on_which_story_is_told(tmp_path: Path) -> None:
    """The story words are content the matcher reads: words the labelled questions only ever
    used about other stories make a message that names them less likely to be told this
    one, and a malformed file is reported by file and line, not with a traceback."""
    responses = tmp_path / "responses"  # the real base, whose model reads the story words
    shutil.copytree(PROJECT / "responses", responses)
    settings = Settings(responses_dir=responses, seeds_dir=SEEDS, data_dir=tmp_path / "data")
    (responses / "story_words.yaml").unlink()
    # not a phrasing of the story (an author's own phrasing is told whatever the models say)
    question = "customer ngancam gak mau kerjasama lagi karena saya gak bisa dateng besok"
    status, out, err = call_cli(["ask", "--json", question], settings)
    assert status == 0, err
    told = json.loads(out)["matches"]
    assert told and told[0]["seed"].startswith("000")  # told story 000 without the file
    target = settings.responses_dir / "story_words.yaml"
    against = "".join(f"  {word}: -30.0\n" for word in ("customer", "ancam", "kerjasama", "besok"))
    # every story named (a story the words never saw is not weighed against the others)
    others = "".join(
        f"{story.stem.split('-', 1)[1]}:\n  klien: 0.0\n"
        for story in sorted((responses / "anecdotes").glob("00[1-9]-*.yaml"))
    )
    target.write_text(f"# story words\nkerjasama-ancaman:\n{against}{others}", encoding="utf-8")
    status, out, err = call_cli(["ask", "--json", question], settings)
    assert status == 0, err
    assert all(not m["seed"].startswith("000") for m in json.loads(out)["matches"])
    target.write_text("# story words\nkerjasama-ancaman:\n  klien: lots\n", encoding="utf-8")
    status, out, err = call_cli(["check"], settings)
    assert status == 2
    assert f"{target}:2: kerjasama-ancaman: klien: must be a finite number" in out + err
    assert "Traceback" not in out + err


def write_questions(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(items), encoding="utf-8")  # JSON is YAML
    return path


@pytest.mark.parametrize(
    ("items", "folds", "missing"),
    [
        ([{"q": "jadwal kereta ke yogya besok", "expect": []}], None, "in-scope"),
        (
            [{"q": "jadwal kereta", "expect": []}, {"q": "harga cabai", "expect": []}],
            "2",
            "in-scope",
        ),
        ([{"q": THREAT_EN, "expect": ["000"]}], None, "out-of-scope"),
        ([{"q": "???", "expect": ["000"]}], None, "out-of-scope"),
    ],
)
def test_calibrate_refuses_a_file_without_both_kinds_of_question(
    tmp_path: Path, settings: Settings, items: list[dict[str, Any]], folds: str | None, missing: str
) -> None:
    calibration = settings.responses_dir / "calibration.yaml"
    questions = write_questions(tmp_path / "q.yaml", items)
    argv = ["calibrate", *(["--folds", folds] if folds else []), str(questions)]
    status, out, err = call_cli(argv, settings)
    assert status == 2
    assert err.strip().count("\n") == 0 and f"no {missing} question" in err
    assert not calibration.exists()


def test_calibrate_on_content_free_questions_ends_in_one_line(
    tmp_path: Path, settings: Settings
) -> None:
    """No candidate story for any question: nothing to fit, said in one line, no traceback."""
    items = [{"q": "???", "expect": ["000"]}, {"q": "!!!", "expect": []}]
    questions = write_questions(tmp_path / "q.yaml", items)
    for argv in (["calibrate", str(questions)], ["calibrate", "--folds", "2", str(questions)]):
        status, out, err = call_cli(argv, settings)
        assert status == 2, err
        assert err.strip().count("\n") == 0 and "cannot fit" in err
    assert not (settings.responses_dir / "calibration.yaml").exists()


def test_ask_json_escapes_unicode_line_breaks(settings: Settings) -> None:
    """A reader that splits with str.splitlines() still gets one record per question."""
    question = f"{THREAT_EN}\u2028next\u2029para\x85nel"
    status, out, err = call_cli(["ask", "--json", question], settings)
    assert status == 0, err
    assert len(out.splitlines()) == 1
    assert "\\u2028" in out and "\\u2029" in out and "\\u0085" in out
    check_record(json.loads(out), question)


@pytest.mark.parametrize("story_id", ["cerita-ü", "ancaman٣", "kisahⅣ", "ĳ-story", "Salah-Kirim"])
def test_check_refuses_a_story_id_beyond_ascii(tmp_path: Path, story_id: str) -> None:
    """Its buttons would all answer "expired": the id changes form in button data; and
    "/story salah-kirim" (typed in any case, read as lower case) would not find it."""
    responses = write_kb(tmp_path, [dict(THREAT, id=story_id), APOLOGY])
    settings = Settings(responses_dir=responses, seeds_dir=SEEDS, data_dir=tmp_path / "data")
    status, out, err = call_cli(["check"], settings)
    assert status == 2
    assert re.search(r"000-.*\.yaml:1: id: use only lower-case ASCII letters, digits", err), err


def test_check_validates_when_summary_and_caution_subjects(tmp_path: Path) -> None:
    """The fields of issue 17 are checked like the others, naming file, field and line: one
    `when` item per lesson, and caution subjects that normalize.yaml defines."""
    threat = dict(
        THREAT,
        summary={"id": "Ringkas."},
        when=[{"id": ["klien marah"], "en": ["angry client"]}],
    )
    apology = dict(
        APOLOGY,
        caution={"id": "Hati-hati.", "en": "Careful."},
        applies_to=["officals"],
        caution_short={"id": "Hati-hati.", "en": "Careful."},
    )
    settings = Settings(
        responses_dir=write_kb(tmp_path, [threat, apology]), seeds_dir=SEEDS, data_dir=tmp_path
    )
    status, out, err = call_cli(["check"], settings)
    assert status == cli.EXIT_CONFIG and out == ""
    assert re.search(r"000-ancaman-klien\.yaml:\d+: summary: missing the 'en' language", err)
    assert re.search(r"000-ancaman-klien\.yaml:\d+: when: needs one item per lesson", err)
    fixed = dict(THREAT, when=[{"id": ["x"], "en": ["y"]}] * len(THREAT["lessons"]))
    settings = Settings(
        responses_dir=write_kb(tmp_path, [fixed, apology]), seeds_dir=SEEDS, data_dir=tmp_path
    )
    status, _, err = call_cli(["check"], settings)
    assert status == cli.EXIT_CONFIG
    assert re.search(r"001-maaf-coklat\.yaml:\d+: applies_to\.0: unknown subject 'officals'", err)


# A story whose lessons each have their own dilemmas (`when`), for the lesson order's tests.
THREAT_WHEN = dict(
    THREAT,
    when=[
        {
            "id": ["klien masih marah, tunggu dia tenang dulu sebelum nego"],
            "en": ["the client is still furious: wait until he calms down before negotiating"],
        },
        {
            "id": ["tawarkan teknisi pengganti yang bisa datang"],
            "en": ["offer a replacement technician who can visit instead"],
        },
        {
            "id": ["lapor ke atasan dan minta dia yang bicara"],
            "en": ["report to your manager and let the manager talk to him"],
        },
    ],
)
LESSON_QUESTIONS = [
    ("client threatens to end the partnership, he is furious, wait until he calms down?", 0),
    ("angry customer threatens to leave, should I offer a replacement technician?", 1),
    ("client threatens to end the partnership, do I report to my manager?", 2),
    ("klien mengancam putus kerjasama, masih marah, tunggu tenang dulu sebelum nego?", 0),
    ("pelanggan ngancam pindah vendor, tawarkan teknisi pengganti?", 1),
    ("customer marah mengancam tidak mau kerjasama lagi, lapor ke atasan?", 2),
]


@pytest.fixture
def lesson_settings(tmp_path: Path) -> Settings:
    responses = write_kb(tmp_path, [THREAT_WHEN, APOLOGY])
    # Its own word table: the matcher reads the weights beside it (else the project's).
    shutil.copy(PROJECT / "responses" / "normalize.yaml", responses)
    return Settings(responses_dir=responses, seeds_dir=SEEDS, data_dir=tmp_path / "data")


def test_calibrate_lessons_writes_weights_that_check_accepts(
    tmp_path: Path, lesson_settings: Settings
) -> None:
    """`calibrate --lessons`: the cross-validated lesson-first figure per fold and pooled,
    then the weights written where the matcher reads them, a file `check` accepts."""
    items = [{"q": q, "expect": ["000"], "lesson": [n]} for q, n in LESSON_QUESTIONS]
    questions = write_questions(tmp_path / "lessons.yaml", items)
    status, out, err = call_cli(
        ["calibrate", "--lessons", "--folds", "2", str(questions)], lesson_settings
    )
    assert status == 0, err
    assert re.search(r"fold 1: n=\s*\d+", out) and re.search(r"fold 2: n=\s*\d+", out)
    assert re.search(r"pooled: n=\s*6\s+[0-9.]+ -> [0-9.]+", out)
    written = lesson_settings.responses_dir / "lesson_weights.yaml"
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert set(data) == {"fit", "phrase_rss", "words", "bias"}
    assert all(isinstance(value, float) for value in data.values())
    # ...and the lesson words, by story id and lesson number
    words = lesson_settings.responses_dir / "lesson_words.yaml"
    assert set(yaml.safe_load(words.read_text(encoding="utf-8"))) == {"ancaman-klien"}
    assert "lesson_words.yaml" in out
    status, out, err = call_cli(["check"], lesson_settings)
    assert status == 0, err
    assert out.startswith("OK:")


def test_calibrate_lessons_without_lesson_labels_ends_in_one_line(
    tmp_path: Path, lesson_settings: Settings
) -> None:
    questions = write_questions(tmp_path / "q.yaml", [{"q": THREAT_EN, "expect": ["000"]}])
    status, _, err = call_cli(["calibrate", "--lessons", str(questions)], lesson_settings)
    assert status == 2
    assert err.strip().count("\n") == 0 and "lesson-labelled" in err
    assert not (lesson_settings.responses_dir / "lesson_weights.yaml").exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fit: 10.0\nphrase_rss: lots\n", ":2: phrase_rss: must be a number"),
        ("# weights\nfit: 10.0\nphrase_rss: 0.9\nfitt: 1.0\n", ":4: fitt: unknown weight"),
        ("fit: 10.0\nphrase_rss: .nan\n", ":2: phrase_rss: must be a finite number"),
        ("fit: 10.0\n", ":1: phrase_rss: missing"),
        ("- fit\n", ":1: must map"),
    ],
)
def test_check_refuses_broken_lesson_weights_with_file_and_line(
    lesson_settings: Settings, text: str, problem: str
) -> None:
    target = lesson_settings.responses_dir / "lesson_weights.yaml"
    target.write_text(text, encoding="utf-8")
    status, out, err = call_cli(["check"], lesson_settings)
    assert status == 2
    assert f"{target}{problem}" in err
    assert "Traceback" not in out + err


def test_ask_json_lesson_follows_the_lesson_weights(lesson_settings: Settings) -> None:
    """The lesson shown first is the weights' choice: weights that invert the fit's sign
    show first a lesson that fits the question less."""
    question = "pelanggan ngancam pindah vendor, tawarkan teknisi pengganti?"
    target = lesson_settings.responses_dir / "lesson_weights.yaml"

    def lesson_shown_first() -> int:
        status, out, err = call_cli(["ask", "--json", question], lesson_settings)
        assert status == 0, err
        matches = json.loads(out)["matches"]
        assert matches and matches[0]["id"] == "ancaman-klien"
        return int(matches[0]["lesson"])

    without = lesson_shown_first()  # no file: the fit alone
    target.write_text("fit: 10.0\nphrase_rss: 0.9\nbias: -3.0\n", encoding="utf-8")
    fitted = lesson_shown_first()
    target.write_text("fit: -10.0\nphrase_rss: 0.0\nbias: -3.0\n", encoding="utf-8")
    inverted = lesson_shown_first()
    assert without == fitted == 1
    assert inverted != 1
    # Labelled messages that said "vendor" about lesson 2: the lesson words weigh it there.
    target.write_text("fit: 10.0\nphrase_rss: 0.9\nwords: 5.0\nbias: -3.0\n", encoding="utf-8")
    words = lesson_settings.responses_dir / "lesson_words.yaml"
    words.write_text("ancaman-klien:\n  2: {vendor: 3.0}\n", encoding="utf-8")
    assert lesson_shown_first() == 2
    words.write_text("ancaman-klien:\n  2: {vendor: lots}\n", encoding="utf-8")
    status, out, err = call_cli(["check"], lesson_settings)
    assert status == 2 and f"{words}:1: ancaman-klien: 2: vendor: must be a finite number" in err
    assert "Traceback" not in out + err


def test_a_trigger_an_author_adds_is_told_for_its_own_words(tmp_path: Path) -> None:
    """An author who adds a phrasing to a story gets that story for a message saying it,
    though the words are other stories' and no labelled message ever used them about it: the
    models learned from labelled messages do not overrule the author's own phrasing."""
    responses = tmp_path / "responses"
    shutil.copytree(PROJECT / "responses", responses)
    settings = Settings(responses_dir=responses, seeds_dir=SEEDS, data_dir=tmp_path / "data")
    question = "gudangnya kebanjiran lagi, pelanggan marah besar"
    status, out, err = call_cli(["ask", "--json", question], settings)
    assert status == 0, err
    assert all(m["id"] != "wayang-bima" for m in json.loads(out)["matches"])
    add_trigger(responses / "anecdotes" / "001-wayang-bima.yaml", question)
    status, out, err = call_cli(["ask", "--json", question], settings)
    assert status == 0, err
    assert [m["id"] for m in json.loads(out)["matches"]][:1] == ["wayang-bima"]


@pytest.mark.parametrize("command", [["ask"], ["new-story", "seeds/x.txt"], ["report"]])
def test_a_wrong_option_is_refused_with_the_commands_own_usage(
    settings: Settings, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        call_cli([*command, "--bogus"], settings)
    assert raised.value.code == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"usage: python -m bot {command[0]} " in err
    assert f"python -m bot {command[0]}: error: unrecognized arguments: --bogus" in err
