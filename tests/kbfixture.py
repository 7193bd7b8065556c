"""Small knowledge bases in temporary directories, so reply/console/CLI tests do not depend on
the real content (which the content author keeps changing). Content deliberately contains
HTML-like text and ampersands: every reply built from it must stay valid Telegram HTML."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import yaml

from bot import cli
from bot.content.model import KnowledgeBase
from bot.engine.language import detect_language
from bot.engine.matcher import Answer, Match
from bot.settings import Settings

PROJECT = Path(__file__).resolve().parent.parent
SEEDS = PROJECT / "seeds"
UI_DIR = PROJECT / "responses" / "ui"


def _text(id_text: str, en_text: str) -> dict[str, str]:
    return {"id": id_text, "en": en_text}


THREAT: dict[str, Any] = {
    "id": "ancaman-klien",
    "seed": "000_14f30f37fa898fbe.txt",
    "title": _text("Klien <b>mengancam</b> & marah", "A client <b>threatens</b> & rages"),
    "story": _text(
        "Seorang klien marah karena permintaan kunjungan ditolak lalu mengancam "
        "memutus kerjasama. Atasan menunggu emosinya reda. <script>alert(1)</script>",
        "A client got angry when a visit was refused and threatened to end the "
        "partnership. The manager waited for him to calm down. <script>alert(1)</script>",
    ),
    "lessons": [
        _text("Tunggu emosi reda sebelum bernegosiasi & tawarkan pengganti.", "Wait & offer."),
        _text("Pelajaran kedua <i>penting</i>.", "Second lesson <i>matters</i>."),
        _text("Pelajaran ketiga.", "Third lesson."),
    ],
    "triggers": {
        "id": [
            "klien mengancam putus kerjasama",
            "customer marah mengancam tidak mau kerjasama lagi",
            "pelanggan ngancam pindah vendor",
        ],
        "en": [
            "client threatens to end the partnership",
            "angry customer threatens to leave",
            "customer threatens to take their business elsewhere",
        ],
    },
    "tags": {"id": ["ancaman", "kerjasama"], "en": ["threat", "partnership"]},
    "tips": [
        _text("Tip satu & <dua>.", "Tip one & <two>."),
        _text("Tip dua.", "Tip two."),
        _text("Tip tiga.", "Tip three."),
    ],
}

APOLOGY: dict[str, Any] = {
    "id": "maaf-coklat",
    "seed": "003_2a1cc934e1029e1c.txt",
    "title": _text("Lupa pesanan, minta maaf dengan coklat", "A forgotten order, an apology"),
    "story": _text(
        "Penjual lupa memproses pesanan klien. Ia meminta maaf dengan tulus dan mengirim "
        "coklat, dan hampir semua pelanggan kembali.",
        "A seller forgot a client's order. She apologised sincerely and sent chocolate, "
        "and nearly every customer came back.",
    ),
    "lessons": [_text("Minta maaf dengan tulus.", "Apologise sincerely.")],
    "triggers": {
        "id": [
            "lupa pesanan pelanggan",
            "cara minta maaf ke customer",
            "kirim coklat permintaan maaf",
        ],
        "en": [
            "forgot a customer order",
            "how to apologise to a customer",
            "send chocolate to say sorry",
        ],
    },
    "tags": {"id": ["maaf", "pesanan"], "en": ["apology", "order"]},
    "tips": [
        _text("Minta maaf dulu.", "Apologise first."),
        _text("Kirim hadiah kecil.", "Send a small gift."),
        _text("Jangan ngeles.", "Do not make excuses."),
    ],
}


class _NoAliases(yaml.SafeDumper):
    """Writes a repeated object out again: the knowledge base refuses aliases (`*name`)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_kb(root: Path, stories: list[dict[str, Any]] | None = None, with_ui: bool = True) -> Path:
    """A responses dir under `root` with the given stories and the real UI texts
    (chat.yaml, telegram.yaml, team.yaml: `python -m bot check` wants every one)."""
    responses = root / "responses"
    (responses / "anecdotes").mkdir(parents=True, exist_ok=True)
    (responses / "ui").mkdir(parents=True, exist_ok=True)
    for number, story in enumerate(stories or [THREAT, APOLOGY]):
        path = responses / "anecdotes" / f"{number:03d}-{story['id']}.yaml"
        path.write_text(
            yaml.dump(story, Dumper=_NoAliases, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    if with_ui:
        for path in UI_DIR.glob("*.yaml"):
            shutil.copy(path, responses / "ui" / path.name)
    return responses


class FakeMatcher:
    """Returns the matches a test scripted for each question, so reply tests do not depend on
    matching quality (the matcher has its own tests). Records the language it was asked in."""

    def __init__(self, kb: KnowledgeBase, table: dict[str, list[tuple[str, int]]]) -> None:
        self.kb = kb
        self.table = table
        self.calls: list[tuple[str, str | None]] = []

    def ask(
        self,
        question: str,
        limit: int = 3,
        lang: str | None = None,
        *,
        chat_id: int | None = None,
    ) -> Answer:
        self.calls.append((question, lang))
        matches = []
        for story_id, score in self.table.get(question, [])[:limit]:
            story = self.kb.by_id(story_id)
            assert story is not None
            matches.append(Match(story=story, score=score))
        return Answer(question=question, lang=lang or "id", matches=tuple(matches))

    def language(self, text: str, default: str = "id") -> str:
        return detect_language(text, default)

    def rank(self, question: str, limit: int = 3, *, chat_id: int | None = None) -> list[Match]:
        return list(self.ask(question, limit).matches)


def call_cli(argv: list[str], settings: Settings, stdin: str = "") -> tuple[int, str, str]:
    """`python -m bot ARGV` in-process with injected settings and streams (fast):
    (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(argv, settings=settings, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def add_trigger(story_file: Path, trigger: str) -> None:
    """What an author does to a real story: one Indonesian trigger written first."""
    text = story_file.read_text(encoding="utf-8")
    assert "triggers:\n  id:\n" in text
    story_file.write_text(
        text.replace("triggers:\n  id:\n", f'triggers:\n  id:\n    - "{trigger}"\n', 1),
        encoding="utf-8",
    )
