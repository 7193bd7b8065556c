"""The store when things go wrong around it, as a user notices it: another process holds the
database's write lock (answers keep coming, no question is lost), the data directory cannot be
used, or the file is damaged (one line at start that names the file and says why)."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import StartBot
from fakebot import FakeTelegram, FloodLimits
from kbfixture import write_kb

from bot import cli
from bot.settings import Settings
from bot.storage import writer as writer_module
from bot.storage.store import DB_FILENAME, Store, StoreError

PROJECT = Path(__file__).resolve().parent.parent
# Generous on purpose: the busy timeout a blocked write used to wait out is 10 s.
PROMPT = 1.0


def ask(store: Store, text: str, chat_id: int = 1) -> None:
    store.record_question(
        chat_id=chat_id,
        user_id=7,
        text=text,
        lang="id",
        story_id=None,
        score=10,
        answered=False,
        source="private",
    )


def count(path: Path, table: str) -> int:
    """Rows in `table` as another process sees them (a fresh connection)."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


class WriteLock:
    """Another connection (as another process would) holding the database's write lock."""

    def __init__(self, path: Path, mode: str = "IMMEDIATE") -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute(f"BEGIN {mode}")

    def release(self) -> None:
        if self.db.in_transaction:
            self.db.execute("COMMIT")
        self.db.close()


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / DB_FILENAME
    Store(path).close()  # created and migrated, as after a first start
    yield path


# ------------------------------------------------------------------------ a locked database
@pytest.mark.parametrize("mode", ["IMMEDIATE", "EXCLUSIVE"])
def test_recording_and_reading_do_not_wait_for_a_locked_database(path: Path, mode: str) -> None:
    store = Store(path)
    lock = WriteLock(path, mode)
    try:
        started = time.monotonic()
        for n in range(20):
            ask(store, f"pertanyaan {n}")
        store.record_feedback(chat_id=1, user_id=7, story_id="x", positive=True)
        assert store.chat_language(1) is None  # what every answer reads first
        store.stats(days=1)  # /stats shows what is committed so far
        assert time.monotonic() - started < PROMPT
        # Held longer than any single retry of the writer waits, then released.
        time.sleep(0.6)
        assert count(path, "questions") == 0
    finally:
        lock.release()
    assert store.flush(timeout=10)
    assert count(path, "questions") == 20
    assert count(path, "feedback") == 1
    assert store.stats(days=1).asked == 20
    assert store.dropped_records == 0
    store.close()


def test_queued_records_are_written_on_close_once_the_lock_is_released(path: Path) -> None:
    store = Store(path)
    lock = WriteLock(path)
    for n in range(50):
        ask(store, f"pertanyaan {n}")
    releaser = threading.Timer(0.5, lock.release)
    releaser.start()
    try:
        store.close()  # a clean stop while the records still wait for the lock
    finally:
        releaser.join()
    assert count(path, "questions") == 50


def test_records_are_not_lost_on_close(path: Path) -> None:
    with Store(path) as store:
        for n in range(500):
            ask(store, f"pertanyaan {n}", chat_id=n % 7)
            if n % 10 == 0:
                store.record_feedback(chat_id=1, user_id=None, story_id="x", positive=False)
    assert count(path, "questions") == 500
    assert count(path, "feedback") == 50
    with Store(path) as reopened:
        assert reopened.stats(days=1).asked == 500


def test_a_caller_faster_than_the_database_waits_instead_of_losing_records(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "MAX_QUEUED_RECORDS", 5)
    with Store(path) as store:
        for n in range(300):
            ask(store, f"pertanyaan {n}")
        assert store.dropped_records == 0
    assert count(path, "questions") == 300


def test_a_long_lock_drops_and_logs_what_does_not_fit_in_the_queue(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Memory stays bounded however long another process holds the lock; what is dropped
    is counted and logged, and what was queued is written once the lock is released."""
    monkeypatch.setattr(writer_module, "MAX_QUEUED_RECORDS", 5)
    store = Store(path)
    lock = WriteLock(path)
    try:
        ask(store, "pertama")
        assert not store.flush(timeout=0.6)  # the writer found the database locked
        started = time.monotonic()
        for n in range(10):
            ask(store, f"pertanyaan {n}")
        assert time.monotonic() - started < PROMPT
    finally:
        lock.release()
    assert store.dropped_records == 6
    assert "record dropped" in caplog.text
    store.close()
    assert count(path, "questions") == 5


def test_a_record_after_close_is_refused(path: Path) -> None:
    store = Store(path)
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(sqlite3.ProgrammingError):
        ask(store, "too late")


def test_a_read_right_after_a_record_sees_it(path: Path) -> None:
    with Store(path) as store:
        ask(store, "cara bikin kopi")
        assert store.unanswered_questions() == ["cara bikin kopi"]
        assert store._read("SELECT COUNT(*) FROM questions")[0][0] == 1  # noqa: SLF001


@pytest.fixture
def responses(tmp_path: Path) -> Path:
    root = write_kb(tmp_path / "kb")
    for ui in (PROJECT / "responses" / "ui").glob("*.yaml"):
        shutil.copy(ui, root / "ui" / ui.name)
    return root


@pytest.mark.slow  # end to end
async def test_answers_and_stats_stay_prompt_while_another_process_locks_the_database(
    start_bot: StartBot, fake_telegram: FakeTelegram, responses: Path
) -> None:
    """The issue as a user saw it: answers took 10-19 s and /stats over a minute while another
    process held the write lock, and the questions asked meanwhile were never recorded."""
    fake_telegram.limits = FloodLimits(private_burst=30)
    lead = fake_telegram.user(4242, language_code="en")
    bot = await start_bot(responses_dir=responses, team_lead_ids=frozenset({lead.id}))
    path = Path(bot.settings.data_dir) / DB_FILENAME
    chat = fake_telegram.private_chat(lead)
    lock = WriteLock(path)
    try:
        for n, text in enumerate(
            ["customer ngancam gak mau kerjasama lagi", "cara bikin kopi", "lupa pesanan"]
        ):
            started = time.monotonic()
            fake_telegram.send_text(chat, lead, text)
            await fake_telegram.wait_sent(n + 1, chat.id, timeout=5)
            assert time.monotonic() - started < PROMPT, f"answer {n + 1} was slow"
        started = time.monotonic()
        fake_telegram.send_text(chat, lead, "/stats")
        await fake_telegram.wait_sent(4, chat.id, timeout=5)
        assert time.monotonic() - started < PROMPT, "/stats was slow"
    finally:
        lock.release()
    await bot.stop()  # a clean stop: whatever still waited for the lock is written
    assert count(path, "questions") == 3


# -------------------------------------------------------------- an unusable data directory
@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions"
)
def test_a_read_only_data_directory_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        with pytest.raises(StoreError) as raised:
            Store(data / DB_FILENAME)
    finally:
        data.chmod(0o755)
    message = str(raised.value)
    assert str(data) in message and "not writable" in message
    assert "\n" not in message


def test_a_data_directory_inside_a_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    with pytest.raises(StoreError) as raised:
        Store(blocker / "data" / DB_FILENAME)
    message = str(raised.value)
    assert str(blocker) in message and "not a directory" in message


def test_a_database_path_sqlite_cannot_open_is_named(tmp_path: Path) -> None:
    """SQLite's own "unable to open database file" (here: the file is a directory, which
    stops root too) comes with the path and the reason."""
    target = tmp_path / "data" / DB_FILENAME
    target.mkdir(parents=True)
    with pytest.raises(StoreError) as raised:
        Store(target)
    message = str(raised.value)
    assert str(target) in message and "is a directory" in message
    assert "\n" not in message


def test_cli_names_the_unusable_data_directory_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    stdout, stderr = io.StringIO(), io.StringIO()
    status = cli.main(
        ["report"], settings=Settings(data_dir=blocker / "data"), stdout=stdout, stderr=stderr
    )
    assert status == cli.EXIT_FAILURE
    [line] = stderr.getvalue().strip().splitlines()
    assert line.startswith("Error: ") and str(blocker) in line


# ------------------------------------------------------------------------ a damaged file
def damaged_copy(tmp_path: Path) -> Path:
    """A valid database spanning many pages, copied, with one page in the middle overwritten."""
    original = tmp_path / "original" / DB_FILENAME
    with Store(original) as store:
        for n in range(2000):
            ask(store, f"pertanyaan nomor {n} " + "panjang " * 20, chat_id=n)
    copy = tmp_path / "data" / DB_FILENAME
    copy.parent.mkdir()
    shutil.copy(original, copy)
    size = copy.stat().st_size
    page = 4096
    assert size >= 20 * page, "not enough pages to damage one in the middle"
    with copy.open("r+b") as file:
        file.seek((size // page // 2) * page)
        file.write(b"\xde\xad\xbe\xef" * (page // 4))
    return copy


def test_a_damaged_database_is_refused_at_open_with_one_line(tmp_path: Path) -> None:
    path = damaged_copy(tmp_path)
    with pytest.raises(StoreError) as raised:
        Store(path)
    message = str(raised.value)
    assert str(path) in message and "damaged" in message
    assert "\n" not in message


def test_cli_refuses_a_damaged_database(tmp_path: Path) -> None:
    path = damaged_copy(tmp_path)
    stderr = io.StringIO()
    status = cli.main(
        ["report"], settings=Settings(data_dir=path.parent), stdout=io.StringIO(), stderr=stderr
    )
    assert status == cli.EXIT_FAILURE
    [line] = stderr.getvalue().strip().splitlines()
    assert str(path) in line and "damaged" in line
