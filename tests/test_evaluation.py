"""Evaluation report: the numbers a lead reads and the summary line tools grep for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kbfixture import PROJECT

from bot.chat.replies import Replies
from bot.content.knowledge import load_knowledge
from bot.content.model import KnowledgeBase, Story, Text
from bot.engine.matcher import Matcher
from bot.tools.calibration import RULE_MARGIN, RULE_REJECTION, rule_threshold
from bot.tools.evaluation import (
    EvalFileError,
    combined,
    evaluate,
    format_report,
    load_items,
    parse_items,
    threshold_sweep,
    trigger_holdout,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _story(story_id: str, seed: str, triggers: list[str], title: str) -> Story:
    return Story(
        id=story_id,
        seed=seed,
        title=Text(title, title),
        story=Text("cerita", "story"),
        lessons=(Text("pelajaran", "lesson"),),
        triggers={"id": tuple(triggers), "en": tuple(triggers)},
        tags={"id": ("tag",), "en": ("tag",)},
        tips=(Text("tip", "tip"),) * 3,
        source=Path(f"{story_id}.yaml"),
    )


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    kb = KnowledgeBase(
        stories=(
            _story(
                "telat",
                "003_a.txt",
                ["pesanan pelanggan terlambat", "minta maaf karena pesanan telat"],
                "Pesanan telat",
            ),
            _story(
                "teknisi",
                "004_b.txt",
                ["teknisi pacaran dengan staf klien", "teknisi sering bolos kerja"],
                "Teknisi cinlok",
            ),
        ),
        ui={},
        seeds_dir=SEEDS,
    )
    return Matcher(kb)


ITEMS = [
    {"q": "pesanan pelanggan terlambat, minta maaf gimana", "expect": ["003"], "lang": "id"},
    {"q": "teknisi kami pacaran sama staf klien", "expect": ["004"], "lang": "id"},
    # labelled 003 but clearly about the technician: must show up as a miss
    {"q": "teknisi sering bolos kerja", "expect": ["003"], "lang": "id"},
    {"q": "what is the weather in Bali tomorrow", "expect": [], "lang": "en"},
    {"q": "convert dollars to rupiah", "expect": [], "lang": "id"},  # wrong language label
]


def test_scores(matcher: Matcher) -> None:
    result = evaluate(matcher, ITEMS)
    assert result.top1 == pytest.approx(2 / 3)
    assert result.top3 == pytest.approx(2 / 3)
    assert result.oos_reject == 1.0
    assert result.lang == pytest.approx(4 / 5)
    assert [r.item.question for r in result.misses] == ["teknisi sering bolos kerja"]


def test_report_format(matcher: Matcher) -> None:
    report = format_report(evaluate(matcher, ITEMS))
    lines = report.splitlines()
    assert re.fullmatch(r"top1=0\.67 top3=0\.67 oos_reject=1\.00 lang=0\.80 n=5", lines[-1]), lines[
        -1
    ]
    assert "misses (1):" in report
    assert "[003 -> 004:" in report and "teknisi sering bolos kerja" in report
    assert "[id -> en] convert dollars to rupiah" in report
    # confusion table: rows are expected stories, columns the answers
    header = next(line for line in lines if line.startswith("expected"))
    assert header.split()[-3:] == ["003", "004", "none"]
    row_003 = next(line for line in lines if line.startswith("003 "))
    assert row_003.split()[1:] == ["1", "1", "0"]


def test_out_of_scope_answered_is_a_miss(matcher: Matcher) -> None:
    result = evaluate(matcher, [{"q": "teknisi pacaran dengan staf klien", "expect": []}])
    assert result.oos_reject == 0.0
    assert "[none -> 004:" in format_report(result)


def test_refused_in_scope_question_reports_the_best_guess() -> None:
    kb = KnowledgeBase(
        stories=(_story("telat", "003_a.txt", ["pesanan pelanggan terlambat"], "Telat"),),
        ui={},
        seeds_dir=SEEDS,
    )
    result = evaluate(Matcher(kb, threshold=101), [{"q": "pesanan terlambat", "expect": ["003"]}])
    assert result.top1 == 0.0
    assert "best below threshold: 003:" in format_report(result)


def test_malformed_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="item 0"):
        parse_items([{"question": "no q key"}])
    with pytest.raises(EvalFileError, match="expect"):
        parse_items([{"q": "x", "expect": "003"}])
    path = tmp_path / "eval.yaml"
    path.write_text("- q: halo\n  expect: []\n  lang: id\n", encoding="utf-8")
    assert load_items(path)[0].expect == ()


def test_raw_items_name_their_position(matcher: Matcher) -> None:
    with pytest.raises(EvalFileError, match="item 1"):
        evaluate(matcher, [{"q": "ok", "expect": []}, {"q": "bad", "expect": "003"}])


def test_threshold_sweep_shows_the_trade_off(matcher: Matcher) -> None:
    result = evaluate(matcher, ITEMS)
    rows = threshold_sweep(result, [0, 20, 40, 60, 80, 101])
    top1s = [top1 for _, top1, _, _ in rows]
    rejects = [rej for _, _, _, rej in rows]
    assert top1s == sorted(top1s, reverse=True)  # a higher bar answers fewer questions...
    assert rejects == sorted(rejects)  # ...and refuses more
    assert rows[0][1] == pytest.approx(2 / 3)  # no bar: the ranking's own top-1
    assert rows[-1][1:] == (0.0, 0.0, 1.0)  # an impossible bar answers nothing
    assert "<- current" in format_report(result)


def test_trigger_holdout_asks_each_trigger_once_without_it() -> None:
    story = _story(
        "telat",
        "003_a.txt",
        ["pesanan pelanggan terlambat", "pelanggan kecewa pesanan telat", "pesanan lama datang"],
        "Pesanan telat",
    )
    other = _story(
        "teknisi",
        "004_b.txt",
        ["teknisi pacaran dengan staf klien", "teknisi jatuh cinta di kantor klien", "cinlok"],
        "Teknisi cinlok",
    )
    kb = KnowledgeBase(stories=(story, other), ui={}, seeds_dir=SEEDS)
    result = trigger_holdout(kb, folds=3)
    asked = sorted(r.item.question for r in result.items)
    expected = sorted(t for a in (story, other) for lang in ("id", "en") for t in a.triggers[lang])
    assert asked == expected
    right = [
        r.best_unthresholded and r.best_unthresholded[0] in r.item.expect for r in result.items
    ]
    assert sum(right) / len(right) >= 0.5  # unseen phrasings still rank their story first


def test_combined_pools_the_evidence(matcher: Matcher) -> None:
    first = evaluate(matcher, ITEMS)
    second = evaluate(matcher, ITEMS[:1])
    pooled = combined([first, second])
    assert len(pooled.items) == len(first.items) + len(second.items)
    assert pooled.threshold == matcher.threshold
    # the pooled sweep weighs each question once, whichever file it came from
    rows = threshold_sweep(pooled, [0])
    in_scope = pooled.in_scope
    right = sum(r.ranked[0][0] in r.item.expect for r in in_scope if r.ranked)
    assert rows[0][1] == pytest.approx(right / len(in_scope))
    other = Matcher(matcher.kb, threshold=matcher.threshold + 1)
    with pytest.raises(ValueError, match="different thresholds"):
        combined([first, evaluate(other, ITEMS)])


def test_rule_threshold_is_the_best_safe_one_plus_the_margin(matcher: Matcher) -> None:
    result = evaluate(matcher, ITEMS)
    chosen = rule_threshold([result]) - RULE_MARGIN
    rows = {t: (top1, reject) for t, top1, _, reject in threshold_sweep(result, range(101))}
    assert rows[chosen][1] >= RULE_REJECTION  # every out-of-scope question still refused...
    safe = [top1 for top1, reject in rows.values() if reject >= RULE_REJECTION]
    assert rows[chosen][0] == max(safe)  # ...at the best top-1 that allows


def test_eval_reads_lesson_labels_and_reports_the_lesson_first_and_length(
    tmp_path: Path,
) -> None:
    """`lesson` (one index or several) is read; the report gives lesson-first accuracy per
    kind and the first message's words, through the real replies on the real base."""
    path = tmp_path / "lessons.yaml"
    path.write_text(
        "- {q: 'klien nutup telpon sambil marah, telpon balik sekarang atau nunggu?',"
        " expect: ['000'], lesson: 1, kind: short}\n"
        "- {q: 'saya kesel sampai pengen lepas proyeknya', expect: ['000'], lesson: [0],"
        " kind: long}\n",
        encoding="utf-8",
    )
    items = load_items(path)
    assert [item.lessons for item in items] == [(1,), (0,)]
    with pytest.raises(EvalFileError, match="lesson"):
        parse_items([{"q": "x", "expect": ["000"], "lesson": "first"}])
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    matcher = Matcher(kb)
    result = evaluate(matcher, items, Replies(kb, matcher))
    assert result.lesson_first == pytest.approx(0.5)  # the angry one asks for lesson 3
    report = format_report(result)
    assert "lesson shown first fits (right story, lesson-labelled): 0.50 n=2" in report
    assert re.search(r"  short +n=  1  lesson-first=1\.00", report)
    assert re.search(r"  id: n=  2  median=\d+  p90=\d+  max=\d+", report)
    # the author sees which dilemma got which lesson, in the file's own indices
    assert "lesson misses (1, lesson indices as in the file):" in report
    assert re.search(r"  \[000: shown [1-3], labelled 0\] saya kesel sampai pengen lepas", report)
