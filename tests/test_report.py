"""`python -m bot report`: the figures of /stats for all chats, unanswered questions grouped."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path

import pytest

from bot.chat.services import Core, Services, build_core
from bot.settings import Settings
from bot.storage.store import DB_FILENAME, Store
from bot.tools.report import group_questions, main, question_key


@cache
def core() -> Core:
    return build_core(Settings())


def services_with(tmp_path: Path, *, log_questions: bool = True) -> Services:
    now = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    store = Store(tmp_path / DB_FILENAME, log_questions=log_questions, clock=lambda: now)
    c = core()
    return Services(Settings(log_questions=log_questions), c.kb, c.matcher, c.replies, store)


def record(services: Services, text: str, *, chat_id: int = 1, answered: bool = False) -> None:
    story = services.kb.stories[0].id
    services.store.record_question(
        chat_id=chat_id,
        user_id=None,
        text=text,
        lang="id",
        story_id=story if answered else None,
        score=90 if answered else 5,
        answered=answered,
        source="group",
    )


def test_informal_variants_of_one_question_form_one_group() -> None:
    groups = group_questions(
        [
            "Gimana cara bikin kopi?",
            "cara bikin kopi",
            "cara buat kopi enak gmn",
            "cust minta diskon gede bgt",
            "customer minta diskon besar",
            "harga",
            "harga naik terus customer kabur",
        ]
    )
    as_sets = [set(g.wordings) for g in groups]
    assert {"Gimana cara bikin kopi?", "cara bikin kopi", "cara buat kopi enak gmn"} in as_sets
    assert {"cust minta diskon gede bgt", "customer minta diskon besar"} in as_sets
    # A single shared word is not enough: "harga" alone stays apart from a longer complaint.
    assert {"harga"} in as_sets and {"harga naik terus customer kabur"} in as_sets
    assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)


def test_grouping_is_deterministic_and_keeps_every_question() -> None:
    texts = ["kopi", "kopi enak", "cuaca besok", "besok cuaca gimana", "🙂", "  ", "x"] * 3
    first = group_questions(texts)
    assert [(g.key, g.count) for g in first] == [(g.key, g.count) for g in group_questions(texts)]
    assert sum(g.count for g in first) == len([t for t in texts if t.strip()])
    assert question_key("🙂") != ""  # emoji-only questions still get a group of their own


def test_threshold_100_only_groups_identical_meanings() -> None:
    texts = ["cara bikin kopi", "Cara bikin kopi!", "kopi enak"]
    groups = group_questions(texts, threshold=100)
    assert sorted(g.count for g in groups) == [1, 2]


def test_report_shows_periods_stories_and_groups(tmp_path: Path) -> None:
    services = services_with(tmp_path)
    for text in ("customer marah", "customer marah banget"):
        record(services, text, answered=True)
    for text in ("cara bikin kopi", "gimana bikin kopi", "cuaca besok"):
        record(services, text, chat_id=2)
    services.store.record_feedback(chat_id=1, user_id=None, story_id="x", positive=False)
    services.store.subscribe(1, time(8, 30), 0b11111)
    services.store.take_tip(1, ["a:0"])  # a /tipnow: not a scheduled delivery
    out = io.StringIO()
    assert main(services, ["--days", "30"], stdout=out) == 0
    report = out.getvalue()
    assert "Last  7 days: questions 5, answered 40%, unanswered 3, 👍 0 / 👎 1" in report
    story = services.kb.stories[0]
    assert f"2  {story.id}: {story.title.en}" in report
    assert "3, in 2 groups" in report
    assert "2x  cara bikin kopi" in report and "also: gimana bikin kopi" in report
    assert "chats subscribed 1; scheduled deliveries so far: none; sent on demand" in report
    assert "(/tipnow, /quiznow): 1" in report
    services.close()


def test_report_never_prints_question_texts_when_logging_is_off(tmp_path: Path) -> None:
    services = services_with(tmp_path)
    record(services, "nomor hp pak budi 0812")  # logged before the switch was turned off
    services.close()
    private = services_with(tmp_path, log_questions=False)
    record(private, "alamat rumah klien")
    out = io.StringIO()
    main(private, [], stdout=out)
    report = out.getvalue()
    assert "0812" not in report and "alamat" not in report
    assert "questions 2," in report and "BOT_LOG_QUESTIONS=false" in report
    private.close()


def test_report_options_are_validated(tmp_path: Path) -> None:
    services = services_with(tmp_path)
    with pytest.raises(SystemExit):
        main(services, ["--threshold", "150"], stdout=io.StringIO())
    with pytest.raises(SystemExit):
        main(services, ["--days", "0"], stdout=io.StringIO())
    services.close()


def test_old_questions_fall_out_of_the_period(tmp_path: Path) -> None:
    moment = [datetime(2026, 10, 1, tzinfo=UTC)]
    store = Store(tmp_path / DB_FILENAME, clock=lambda: moment[0])
    c = core()
    services = Services(Settings(), c.kb, c.matcher, c.replies, store)
    record(services, "pertanyaan lama sekali")
    moment[0] += timedelta(days=40)
    out = io.StringIO()
    main(services, [], stdout=out)
    assert "lama" not in out.getvalue() and "Last 30 days: no questions\n" in out.getvalue()
    assert "answered 0%" not in out.getvalue()
    services.close()


def mark_gaps(services: Services, texts: list[str]) -> None:
    """Ask each text unanswered, then decide it "no story fits" like a team lead."""
    for text in texts:
        record(services, text, chat_id=3)
    services.store.flush()
    waiting, _ = services.store.inbox(chat_id=None, limit=100)
    for question in waiting:
        if question.text in texts:
            change = services.store.decide(question.id, "gap", by=9, decided_in=3, daily_limit=10)
            assert change.outcome == "changed"


def content_gaps(report: str) -> list[str]:
    return report.split("Content gaps", 1)[1].splitlines()


def test_report_lists_content_gaps_grouped_as_candidates_for_new_stories(tmp_path: Path) -> None:
    services = services_with(tmp_path)
    out = io.StringIO()
    main(services, [], stdout=out)
    gaps = content_gaps(out.getvalue())
    assert "all time: 0, in 0 groups" in gaps[0] and gaps[1] == "  none"

    record(services, "pertanyaan biasa tanpa keputusan")
    mark_gaps(services, ["cara bikin kopi", "gimana bikin kopi"])
    out = io.StringIO()
    main(services, [], stdout=out)
    assert "all time: 2, in 1 group;" in content_gaps(out.getvalue())[0]
    mark_gaps(services, ["cuaca besok"])
    out = io.StringIO()
    main(services, [], stdout=out)
    gaps = content_gaps(out.getvalue())
    assert "no story fits" in gaps[0] and "all time: 3, in 2 groups" in gaps[0]
    assert "candidates for new stories" in gaps[0]
    assert any(
        line.endswith("2x  gimana bikin kopi") or line.endswith("2x  cara bikin kopi")
        for line in gaps
    )
    assert any("also:" in line and "bikin kopi" in line for line in gaps)
    assert any(line.endswith("1x  cuaca besok") for line in gaps)
    assert "pertanyaan biasa" not in "\n".join(gaps)  # undecided: not a gap
    services.close()


def test_unanswered_questions_a_lead_settled_are_counted_apart(tmp_path: Path) -> None:
    """The count and the list agree: a question marked "no story fits" is a content gap,
    listed there, not among the open ones."""
    services = services_with(tmp_path)
    for text in ("cara bikin kopi", "jadwal kereta"):
        record(services, text)
    mark_gaps(services, ["cuaca besok"])  # asked, then decided
    out = io.StringIO()
    main(services, [], stdout=out)
    report = out.getvalue()
    assert "unanswered 3" in report
    assert "30 days: 3; 1 settled by team leads" in report and "2 open, in 2 groups" in report
    services.close()


def test_content_gaps_are_only_counted_when_logging_is_off(tmp_path: Path) -> None:
    services = services_with(tmp_path)
    mark_gaps(services, ["nomor hp pak budi 0812"])
    services.close()
    private = services_with(tmp_path, log_questions=False)
    out = io.StringIO()
    main(private, [], stdout=out)
    report = out.getvalue()
    assert "0812" not in report
    assert "Content gaps (team leads: no story fits), all time: 1." in report
    private.close()
