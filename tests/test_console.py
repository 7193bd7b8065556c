"""The terminal chat, driven through stdin like a user (or a pipe) would."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from kbfixture import PROJECT, SEEDS, FakeMatcher, call_cli, write_kb

from bot.chat.replies import Replies
from bot.chat.request import CONSOLE_CHAT_ID
from bot.content.knowledge import load_knowledge
from bot.content.model import KnowledgeBase
from bot.engine.matcher import Matcher
from bot.leads.tips import cycle_order, deck
from bot.settings import Settings
from bot.storage.store import DB_FILENAME, Store
from bot.transports.console import Console, html_to_text, run_console

THREAT_Q = "How do I handle a client who threatens to take his business elsewhere?"
APOLOGY_Q = "gimana cara minta maaf kalo lupa pesanan customer"


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return load_knowledge(write_kb(tmp_path), SEEDS)


@pytest.fixture
def replies(kb: KnowledgeBase) -> Replies:
    table = {
        THREAT_Q: [("ancaman-klien", 91), ("maaf-coklat", 55)],
        APOLOGY_Q: [("maaf-coklat", 88)],
    }
    return Replies(kb, FakeMatcher(kb, table))  # type: ignore[arg-type]


def chat(replies: Replies, lines: list[str], store: Store | None = None) -> str:
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    stdout = io.StringIO()
    assert run_console(replies, stdin, stdout, store=store) == 0
    return stdout.getvalue()


def tip_text(replies: Replies, key: str) -> str:
    """A tip as the console prints it."""
    story_id, _, index = key.partition(":")
    story = replies.kb.by_id(story_id)
    assert story is not None
    return story.tips[int(index)].id


def test_tips_follow_the_rotation_and_cover_the_whole_deck(replies: Replies) -> None:
    keys = deck(replies.kb)
    out = chat(replies, ["/tip"] * (len(keys) + 1))
    for key in keys:
        assert tip_text(replies, key) in out
    order = cycle_order(keys, CONSOLE_CHAT_ID, 0)
    assert out.index(tip_text(replies, order[0])) < out.index(tip_text(replies, order[1]))


def test_html_to_text() -> None:
    assert html_to_text("<b>A &amp; B</b> &lt;i&gt;x&lt;/i&gt;") == "A & B <i>x</i>"


def test_greets_answers_and_numbers_the_buttons(replies: Replies) -> None:
    out = chat(replies, [THREAT_Q])
    assert out.startswith(replies.kb.text("console_welcome", "id"))
    assert "Contoh pertanyaan" in out  # the /start greeting
    # The story, as plain text: content shows literally, markup is gone.
    assert "📌 A client <b>threatens</b> & rages" in out
    assert "<script>alert(1)</script>" in out
    assert "💡 Lesson: Wait & offer." in out
    assert "  [1] 📖 Full story" in out
    assert "  [2] 💡 Another lesson" in out
    assert "  [3] 👍 Helpful" in out
    assert "  [4] 👎 Not helpful" in out
    assert "  [5] 🔎 A forgotten order, an apology" in out
    assert out.rstrip().endswith(replies.kb.text("console_bye", "en"))


def test_typing_a_number_presses_the_button(replies: Replies) -> None:
    out = chat(replies, [THREAT_Q, "1", "1", "5"])
    assert "📖 A client <b>threatens</b> & rages" in out  # full story header
    assert "“Besok bisa ke M gak?”, tanya BM." in out
    # [1] after the full story is "another lesson": the one after the lesson the answer
    # showed, not the first again
    assert "Lesson 2 of 3" in out
    assert "There is no choice number 5." in out


def test_a_story_is_opened_by_its_posts_number_too(replies: Replies) -> None:
    """Authors and the eval labels name a story by its post's number ("003")."""
    out = chat(replies, ["/story 003", "/story 3"])
    assert out.count("📌 Lupa pesanan, minta maaf dengan coklat") == 1
    assert "Cerita “3” tidak ada." in out  # not a post's number: the list, as for any name


def test_a_story_is_opened_by_a_word_of_its_title_or_id(replies: Replies) -> None:
    """ "/story coklat" finds the one story whose title has the word; a word two stories
    share, or a short one, gets the list."""
    out = chat(replies, ["/story coklat", "/story Coklat"])
    assert out.count("📌 Lupa pesanan, minta maaf dengan coklat") == 2
    assert "Cerita “ini” tidak ada." in chat(replies, ["/story ini"])


def test_commands(replies: Replies) -> None:
    out = chat(
        replies,
        [
            "/help",
            "/topics",
            "2",
            "/story ancaman-klien",
            "/story",
            "/story nope",
            "/tip",
            "/tip",
            "/ask",
            f"/ask {APOLOGY_Q}",
            "/whatever",
            "",
            "/quit",
            "this line is never read",
        ],
    )
    assert "/lang id|en" in out
    assert "Cerita yang saya punya (2)" in out
    assert "📌 Lupa pesanan, minta maaf dengan coklat" in out  # topic [2] pressed
    assert "📌 Klien <b>mengancam</b> & marah" in out
    assert "Tulis id ceritanya setelah /story" in out
    assert "Cerita “nope” tidak ada." in out
    first, second = cycle_order(deck(replies.kb), CONSOLE_CHAT_ID, 0)[:2]
    assert tip_text(replies, first) in out and tip_text(replies, second) in out  # one per /tip
    assert "Tulis pertanyaannya setelah /ask" in out
    assert "Perintah itu tidak saya kenal." in out
    assert "never read" not in out
    assert out.count("Sampai jumpa") == 1


def test_language_switch_and_question_language(replies: Replies) -> None:
    out = chat(replies, ["/lang", "/lang en", "/help", APOLOGY_Q, "/lang id", "/topics"])
    assert "Pilih bahasa:" in out
    assert "OK, I'll use English." in out
    assert "How to use Kisah" in out
    assert "📌 Lupa pesanan, minta maaf dengan coklat" in out  # Indonesian question
    assert "Cerita yang saya punya" in out


def test_questions_and_feedback_are_recorded(replies: Replies, tmp_path: Path) -> None:
    store = Store(tmp_path / "kisah.sqlite3")
    try:
        chat(replies, [THREAT_Q, "3", "weather in Medan today?", "/lang en"], store=store)
        stats = store.stats(days=1)
        assert (stats.asked, stats.answered) == (2, 1)
        assert (stats.thumbs_up, stats.thumbs_down) == (1, 0)
        assert store.chat_language(CONSOLE_CHAT_ID) == "en"
        # The choice is remembered by the next session.
        out = chat(replies, ["/help"], store=store)
        assert "How to use Kisah" in out
    finally:
        store.close()


def test_no_prompt_when_stdin_is_not_a_terminal(replies: Replies) -> None:
    stdout = io.StringIO()
    Console(replies, io.StringIO("/quit\n"), stdout).run()
    assert "> " not in stdout.getvalue()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prompt_at_a_terminal_and_ctrl_c_leaves_politely(replies: Replies) -> None:
    stdout = io.StringIO()
    assert Console(replies, _Terminal("/help\n"), stdout).run() == 0
    assert stdout.getvalue().count("> ") == 2  # before /help and before the end of input

    class Interrupted(_Terminal):
        def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
            raise KeyboardInterrupt

    stdout = io.StringIO()
    assert Console(replies, Interrupted(), stdout).run() == 0
    assert stdout.getvalue().rstrip().endswith(replies.kb.text("console_bye", "id"))


@pytest.mark.slow  # a subprocess
def test_console_through_a_pipe(tmp_path: Path) -> None:
    """`python -m bot chat` with stdin piped, as the CLI really runs it."""
    responses = write_kb(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env.update(BOT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(PROJECT))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--responses", str(responses), "chat"],
        input="/topics\n1\n/tip\n/quit\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Cerita yang saya punya (2)" in result.stdout
    assert "📌 Klien <b>mengancam</b> & marah" in result.stdout
    kb = load_knowledge(responses, SEEDS)
    first_tip = cycle_order(deck(kb), CONSOLE_CHAT_ID, 0)[0]
    replies = Replies(kb, FakeMatcher(kb, {}))  # type: ignore[arg-type]
    assert tip_text(replies, first_tip) in result.stdout
    assert "Traceback" not in result.stderr
    assert (tmp_path / "data" / "kisah.sqlite3").is_file()


def test_buttons_answer_in_the_language_of_the_reply_they_came_with(replies: Replies) -> None:
    """Chat language Indonesian, an English question: its buttons continue in English."""
    out = chat(replies, ["/lang id", THREAT_Q, "1", "1"])
    full_story = out.split("  [5] 🔎 A forgotten order, an apology", 1)[1]
    assert "📖 A client <b>threatens</b> & rages" in full_story  # [1] full story, in English
    assert "Lesson 2 of 3" in full_story  # then [1] another lesson, still English
    assert "Pelajaran" not in full_story


def test_tips_continue_across_sessions_with_a_store(replies: Replies, tmp_path: Path) -> None:
    """With a store the console walks the stored rotation: a second session goes on where
    the first stopped, and the deck is used up before any tip repeats."""
    keys = deck(replies.kb)
    store = Store(tmp_path / "kisah.sqlite3")
    try:
        half = len(keys) // 2
        first = chat(replies, ["/tip"] * half, store=store)
        second = chat(replies, ["/tip"] * (len(keys) - half), store=store)
    finally:
        store.close()
    seen_first = {key for key in keys if tip_text(replies, key) in first}
    seen_second = {key for key in keys if tip_text(replies, key) in second}
    assert len(seen_first) == half
    assert seen_first.isdisjoint(seen_second)
    assert seen_first | seen_second == set(keys)


# ---------------------------------------------------------------------------- team commands
MONDAY_7AM_JAKARTA = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def test_team_commands_work_in_the_terminal(replies: Replies, tmp_path: Path) -> None:
    """The terminal user is the team lead of the local chat: /daily, /timezone, /tipnow and
    /stats answer there as in Telegram, from the same command table and the same texts."""
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: MONDAY_7AM_JAKARTA)
    try:
        lines = ["/lang en", "/daily", "/daily 08:00", "/daily", "/timezone WITA"]
        lines += ["/tipnow", THREAT_Q, "weather in Medan today?", "/stats", "/daily off"]
        out = chat(replies, lines, store=store)
        assert "This chat has no daily tip." in out
        assert "Done! This chat will get one tip every day at 08:00" in out
        assert "This chat's daily schedule: one tip every day at 08:00" in out
        assert "Next tip: Monday 23 Nov at 08:00" in out  # 07:00 in Jakarta now
        assert "This chat's time zone is now Asia/Makassar (WITA) (it is 08:00 there now)" in out
        assert "one tip every day at 08:00, time zone Asia/Makassar (WITA).\nNext tip:" in out
        # It is 08:00 in WITA: the daily tip is due and shown before the next reply, then
        # /tipnow's; each delivery marked sent once printed.
        daily, now = store.deliveries(0)
        assert [daily.kind, now.kind] == ["daily", "now"]
        assert daily.state == now.state == "sent"
        for delivery in (daily, now):
            assert html_to_text(replies.tip(delivery.tip_key, "en").text).rstrip() in out
        assert "Kisah statistics" in out
        assert "7 days: questions 2, answered 50%" in out
        assert "• weather in Medan today? ×1" in out  # the lead sees unanswered questions
        assert "Daily schedule: tips, every day 08:00, Asia/Makassar (WITA)" in out
        assert "No quiz answers yet." in out and "weakest first" not in out  # no empty heading
        assert "Daily tips and quizzes stopped for this chat." in out
        assert store.subscription(CONSOLE_CHAT_ID) is None
    finally:
        store.close()


def test_stats_of_a_chat_nobody_asked_in_say_so(replies: Replies, tmp_path: Path) -> None:
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: MONDAY_7AM_JAKARTA)
    try:
        out = chat(replies, ["/lang en", "/stats"], store=store)
    finally:
        store.close()
    assert "7 days: no questions yet" in out and "answered 0%" not in out


def test_the_daily_tip_arrives_in_the_terminal_when_the_user_next_types(
    replies: Replies, tmp_path: Path
) -> None:
    """The terminal runs no clock between lines: a daily tip that fell due while it waited
    is shown before the reply to the next line typed (or when the chat starts), once for
    its day, and /daily then names tomorrow's, never a time already past."""
    now = [MONDAY_7AM_JAKARTA]
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: now[0])
    try:
        out = chat(replies, ["/lang en", "/daily 08:00"], store=store)
        assert "Next tip: Monday 23 Nov at 08:00" in out and not store.deliveries(0)
        now[0] = MONDAY_7AM_JAKARTA + timedelta(hours=1, minutes=5)  # 08:05 in Jakarta
        out = chat(replies, ["/lang en", "/daily"], store=store)
        [delivery] = store.deliveries(0)
        assert delivery.state == "sent" and delivery.local_date == date(2026, 11, 23)
        tip = html_to_text(replies.tip(delivery.tip_key, "en").text).rstrip()
        assert out.count(tip) == 1
        assert "Next tip: Tuesday 24 Nov at 08:00" in out
        now[0] += timedelta(minutes=30)
        out = chat(replies, ["halo"], store=store)
        assert tip not in out and len(store.deliveries(0)) == 1
    finally:
        store.close()


def test_the_schedule_names_what_it_sends(replies: Replies, tmp_path: Path) -> None:
    """A lead who asks for a daily quiz is told a quiz is coming, not a tip."""
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: MONDAY_7AM_JAKARTA)
    try:
        lines = ["/lang en", "/daily 08:00 mon-fri quiz", "/daily", "/daily 08:00 mix"]
        out = chat(replies, lines, store=store)
    finally:
        store.close()
    assert "This chat will get one quiz on weekdays (Monday–Friday) at 08:00" in out
    assert "Next quiz: Monday 23 Nov at 08:00" in out
    assert "This chat's daily schedule: one quiz on weekdays" in out
    assert (
        "This chat will get a tip or a quiz, in turn, on weekdays (Monday–Friday) at 08:00" in out
    )
    assert "one tip" not in out


def test_a_new_time_alone_keeps_the_days_and_what_is_sent(replies: Replies, tmp_path: Path) -> None:
    """The hint says "change the time: /daily 07:45": a team on weekday quizzes that moves
    the hour keeps weekday quizzes, not quizzes on Saturday and Sunday too."""
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: MONDAY_7AM_JAKARTA)
    try:
        out = chat(replies, ["/lang en", "/daily 08:00 mon-fri quiz", "/daily 09:15"], store=store)
    finally:
        store.close()
    assert "This chat will get one quiz on weekdays (Monday–Friday) at 09:15" in out


def chat_on_monday(replies: Replies, tmp_path: Path, lines: list[str]) -> str:
    """An English terminal chat on a store whose clock says Monday 07:00 in Jakarta."""
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: MONDAY_7AM_JAKARTA)
    try:
        return chat(replies, ["/lang en", *lines], store=store)
    finally:
        store.close()


def test_daily_takes_named_days_lists_and_ranges_in_either_language(
    replies: Replies, tmp_path: Path
) -> None:
    """A team that meets on Monday, Wednesday and Friday, or works on Saturday, says so in
    the words it uses; the schedule names those days and the next one is one of them."""
    lines = ["/daily 08:00 quiz sen,rab,jum", "/daily fri-mon", "/daily sabtu minggu 09:00"]
    out = chat_on_monday(replies, tmp_path, [*lines, "/stats"])  # days before or after the time
    assert "one quiz on Friday, Saturday, Sunday, Monday at 08:00" in out  # the range's order
    assert "one quiz on Monday, Wednesday, Friday at 08:00" in out
    assert "one quiz on Saturday, Sunday at 09:00" in out
    assert "Next quiz: Saturday 28 Nov at 09:00." in out
    assert "Daily schedule: quizzes, on Saturday, Sunday 09:00" in out


def test_the_days_change_alone_once_a_schedule_exists(replies: Replies, tmp_path: Path) -> None:
    """As "/daily 07:45" changes only the time, "/daily sen,rab,jum" changes only the days;
    with no schedule yet there is no time to keep, and the reply asks for one."""
    out = chat_on_monday(
        replies, tmp_path, ["/daily weekend", "/daily 08:00 quiz", "/daily sen,rab,jum"]
    )
    assert "I didn't understand weekend." in out
    assert "one quiz on Monday, Wednesday, Friday at 08:00" in out


def test_what_is_sent_changes_alone_and_stands_anywhere_after_the_time(
    replies: Replies, tmp_path: Path
) -> None:
    """ "/daily mix" changes only what is sent (the hint under every schedule says so), and
    the mode word may come before the days."""
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: MONDAY_7AM_JAKARTA)
    try:
        out = chat(replies, ["/lang en", "/daily 07:00 quiz mon-fri", "/daily mix"], store=store)
        assert store.daily_mode(CONSOLE_CHAT_ID) == "mix"
    finally:
        store.close()
    assert "This chat will get one quiz on weekdays (Monday–Friday) at 07:00" in out
    assert (
        "This chat will get a tip or a quiz, in turn, on weekdays (Monday–Friday) at 07:00" in out
    )
    assert "Change it with /daily tips (tips) or /daily quiz (quizzes)" in out  # not mix again
    assert "Change it with /daily tips (tips) or /daily mix (in turn)" in out  # after quiz


def test_team_commands_refuse_bad_input_and_help_lists_them(replies: Replies) -> None:
    """Without a store there is nothing to schedule: team commands are unknown there, while
    /help lists them (the text is the same everywhere)."""
    out = chat(replies, ["/lang en", "/help lead", "/daily 08:00", "/stats"])
    assert "For team leads" in out and "/daily 08:30" in out
    assert out.count("I don't know that command.") == 2


def test_team_usage_hints(replies: Replies, tmp_path: Path) -> None:
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: MONDAY_7AM_JAKARTA)
    try:
        out = chat(
            replies, ["/lang en", "/daily 25:00", "/timezone Mars/Base", "/daily quiz"], store=store
        )
    finally:
        store.close()
    assert "I didn't understand 25:00." in out
    # "/daily quiz" lacks the time: the reply echoes what was typed and shows the modes
    assert "I didn't understand quiz." in out and "/daily 08:30 quiz" in out
    assert "I don't know the time zone Mars/Base." in out


def test_the_terminal_shows_what_telegram_shows(replies: Replies, tmp_path: Path) -> None:
    """Each inbox question has its choices under it (as its buttons sit under its message),
    the chat is "this chat", and with one chat /stats has one block."""
    store = Store(tmp_path / "kisah.sqlite3", clock=lambda: MONDAY_7AM_JAKARTA)
    asked = ["resep nasi goreng", "jadwal kereta besok", "cuaca di Medan"]
    try:
        out = chat(replies, ["/lang en", *asked, "/stats", "/inbox"], store=store)
    finally:
        store.close()
    stats = out[out.index("Kisah statistics") : out.index("Question inbox")]
    assert "This chat" in stats and "All chats" not in stats
    inbox = out[out.index("Which story fits?") :]
    assert "this chat" in inbox and "chat 0" not in inbox
    # Newest first: each question's four choices (two stories, "no story fits", "skip")
    # come before the next question.
    positions = [inbox.index(text) for text in ("[1]", "[4]", "jadwal kereta", "[5]", "[8]")]
    assert positions == sorted(positions)
    assert "resep nasi goreng" in inbox[inbox.index("[8]") :]


def test_the_prompt_is_in_the_language_of_the_buttons(replies: Replies) -> None:
    """After /lang en, an Indonesian question gets an Indonesian answer with Indonesian
    buttons: the prompt above them is Indonesian too."""
    out = chat(replies, ["/lang en", APOLOGY_Q])
    answer = out[out.index("Lupa pesanan, minta maaf") :]
    assert "Ketik angka untuk memilih:" in answer
    assert "Type a number to choose:" not in answer


def test_a_phrasing_taught_in_the_terminal_is_listed_as_the_terminals(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    """`taught` names where a phrasing was taught: the terminal chat, not "chat 0 by ?"."""
    replies = Replies(kb, Matcher(kb))  # a real matcher: teaching adds to its index
    settings = Settings(
        responses_dir=tmp_path / "responses", seeds_dir=SEEDS, data_dir=tmp_path / "data"
    )
    settings.data_dir.mkdir()
    store = Store(settings.data_dir / DB_FILENAME, clock=lambda: MONDAY_7AM_JAKARTA)
    try:
        chat(replies, ["cuaca di Medan", "/inbox", "1"], store=store)
    finally:
        store.close()
    status, out, err = call_cli(["taught"], settings)
    assert status == 0, err
    assert "1 taught phrasing(s)" in out and "cuaca di Medan" in out
    assert "in the terminal chat" in out and "chat 0" not in out and " by " not in out
