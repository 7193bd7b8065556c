"""A large base parsed and analysed by forked workers answers and reports exactly as one
process does: the cores a machine has never change what a salesperson is told.

One core is forced with `taskset`, the same command run on every core is the other side.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from kbfixture import PROJECT, SEEDS

from bot.forked import MIN_ITEMS, forked_result, workers
from bot.storage.cache import FILE as CACHE_FILE

pytestmark = [
    pytest.mark.slow,  # subprocesses over a few hundred stories
    pytest.mark.skipif(
        workers() < 2 or shutil.which("taskset") is None,
        reason="needs two cores and taskset to compare with one",
    ),
]

QUESTIONS = [
    "klien marah minta saya datang besok padahal saya lagi sibuk, gimana?",
    "customer ulang tahun, kado apa yang berkesan?",
    "lupa pesanan pelanggan, acaranya udah lewat",
    "teknisi kami pacaran sama staf klien",
    "how do I win over an official our sales team let down",
    "kata7 kata19 gudang",  # words of the copies' own triggers
    "cuaca jakarta hari ini",
]


def _large_base(root: Path, broken: bool = False) -> Path:
    """The real stories copied until there are more than the workers' minimum, each copy with
    its own id and one trigger of its own; `broken`: one copy misses its title."""
    responses = root / "responses"
    shutil.copytree(PROJECT / "responses", responses)
    stories = sorted((responses / "anecdotes").glob("*.yaml"))
    copies = MIN_ITEMS // len(stories) + 1
    for path in stories:
        text = path.read_text(encoding="utf-8")
        story_id = re.search(r"^id: (\S+)$", text, re.M)
        assert story_id is not None and "triggers:\n  id:\n" in text
        for n in range(copies):
            copy = text.replace(f"id: {story_id[1]}\n", f"id: c{n}-{story_id[1][:16]}\n", 1)
            copy = copy.replace(
                "triggers:\n  id:\n", f'triggers:\n  id:\n    - "kata{n} kata{n + 12} gudang"\n', 1
            )
            if broken and n == copies // 2:
                copy = re.sub(r"^title:", "judul:", copy, count=1, flags=re.M)
            (path.parent / f"{path.stem}-c{n}.yaml").write_text(copy, encoding="utf-8")
    return responses


def _run(args: list[str], data: Path, one_core: bool, stdin: str = "") -> tuple[int, str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BOT_", "TELEGRAM_", "TEAM_"))
    }
    env.update(BOT_DATA_DIR=str(data), PYTHONPATH=str(PROJECT))
    command = [sys.executable, "-m", "bot", *args]
    if one_core:
        command = ["taskset", "-c", "0", *command]
    result = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=data.parent,
        env=env,
        timeout=300,
    )
    return result.returncode, result.stdout, result.stderr


def test_a_large_base_answers_the_same_on_one_core_and_on_several(tmp_path: Path) -> None:
    responses = _large_base(tmp_path)
    args = ["ask", "--json", "--responses", str(responses), "--seeds", str(SEEDS)]
    stdin = "\n".join(QUESTIONS) + "\n"
    one = _run(args, tmp_path / "one", one_core=True, stdin=stdin)
    several = _run(args, tmp_path / "several", one_core=False, stdin=stdin)
    assert one[0] == several[0] == 0, one[2] + several[2]
    assert several[1] == one[1]
    assert len(several[1].splitlines()) == len(QUESTIONS)
    assert '"seed": "001' in several[1]  # real answers, not refusals only
    # the cache the workers filled answers the same again
    assert _run(args, tmp_path / "several", one_core=False, stdin=stdin)[1] == one[1]
    # every story's analysis was written (by a forked writer), as on one core
    for data in ("one", "several"):
        with sqlite3.connect(tmp_path / data / "cache" / CACHE_FILE) as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM entries WHERE key LIKE 'story:%'"
            ).fetchone()
        db.close()
        assert count == len(list((responses / "anecdotes").glob("*.yaml")))


def test_a_broken_file_in_a_large_base_is_reported_the_same_on_one_core_and_on_several(
    tmp_path: Path,
) -> None:
    responses = _large_base(tmp_path, broken=True)
    args = ["check", "--responses", str(responses), "--seeds", str(SEEDS)]
    one = _run(args, tmp_path / "one", one_core=True)
    several = _run(args, tmp_path / "several", one_core=False)
    assert one[0] == several[0] == 2
    assert several[1] + several[2] == one[1] + one[2]
    assert re.search(r"-c\d+\.yaml:\d+: .*title", several[1] + several[2])


def test_a_forked_result_comes_back_or_is_worked_out_here() -> None:
    """`forked_result`: the child's bytes (megabytes through the pipe), or, when the child
    fails, the same work done in this process."""
    parent = os.getpid()
    big = bytes(range(256)) * 40_000
    assert forked_result(lambda: big if os.getpid() != parent else b"")() == big

    def fails_in_the_child() -> bytes:
        if os.getpid() != parent:
            raise RuntimeError("child")
        return b"here"

    assert forked_result(fails_in_the_child)() == b"here"
