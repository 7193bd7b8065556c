"""Situations and the concept table are content: checked with file:line, carried by the cache,
and read as evidence when a message tells a story's situation in other words."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from kbfixture import APOLOGY, SEEDS, THREAT, call_cli, write_kb

import bot.content.knowledge as knowledge
from bot.chat.services import build_core
from bot.content.model import KnowledgeError
from bot.engine.matcher import Matcher
from bot.settings import Settings

CONCEPTS = """\
concepts:
  missed_commitment: [lupa, kelewat, ketinggalan, lalai, skipped, dropped the ball]
  order: [pesanan, order, kiriman rutin]
  apology: [maaf, apologize]
  threat_end: [ancam, putus kontrak]
  salary: [gaji, salary, komisi]
"""


def with_situations() -> list[dict[str, object]]:
    apology = copy.deepcopy(APOLOGY)
    apology["situations"] = [
        {
            "id": "Penjual lupa pesanan pelanggan lalu minta maaf.",
            "en": "The seller forgot a customer's order and apologises.",
        }
    ]
    threat = copy.deepcopy(THREAT)
    threat["situations"] = [
        {"id": "Pelanggan mengancam putus kontrak.", "en": "A customer threatens to end it."}
    ]
    return [threat, apology]


def settings_with(tmp_path: Path, concepts: str = CONCEPTS, stories=None) -> Settings:
    responses = write_kb(tmp_path, stories or with_situations())
    (responses / "concepts.yaml").write_text(concepts, encoding="utf-8")
    return Settings(responses_dir=responses, seeds_dir=SEEDS, data_dir=tmp_path / "data")


def test_a_second_misspelt_section_of_the_concept_table_is_named(tmp_path: Path) -> None:
    """Concepts written under 'concept:' beside 'concepts:' would never be read."""
    extra = CONCEPTS + "concept:\n  payment: [bayar, invoice]\n"
    status, out, err = call_cli(["check"], settings_with(tmp_path, extra))
    assert status == 2 and out == ""
    assert "concepts.yaml: concept: unknown section; the concepts go under 'concepts'" in err


def test_check_names_file_and_line_of_a_broken_concept(tmp_path: Path) -> None:
    broken = CONCEPTS.replace("  order: [pesanan, order, kiriman rutin]\n", "  order: 5\n")
    broken += "  Bad Name: [x]\n"
    status, out, err = call_cli(["check"], settings_with(tmp_path, broken))
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert any(
        line.endswith(
            "concepts.yaml:3: concepts: order: must be a non-empty list of words and phrases"
        )
        for line in lines
    ), lines
    assert any("concepts.yaml:7: concepts: Bad Name:" in line for line in lines), lines
    assert "Traceback" not in err


def test_check_names_file_and_line_of_a_broken_situation(tmp_path: Path) -> None:
    stories = with_situations()
    stories[1]["situations"] = [{"id": "Penjual lupa pesanan."}]
    status, out, err = call_cli(["check"], settings_with(tmp_path, stories=stories))
    assert status == 2 and out == ""
    line = next(line for line in err.splitlines() if "situations" in line)
    assert "001-maaf-coklat.yaml:" in line and line.endswith(
        "situations.0: missing the 'en' language"
    )


def test_check_names_a_subject_member_the_stemmer_folds_into_a_story_concept(
    tmp_path: Path,
) -> None:
    """ "accounting" under salary folds to "account", a word of the customer the apology
    story's situation names ("pelanggan"): every message about a customer's account would
    name a salary, so `check` names the members that collide, the word they fold to and the
    subject's line; the same table without it passes."""
    table = CONCEPTS + "  customer: [pelanggan, account]\n"
    crossed = table.replace("salary: [gaji, salary, komisi]", "salary: [gaji, accounting]")
    status, out, err = call_cli(["check"], settings_with(tmp_path, crossed))
    assert status == 2 and out == ""
    line = next(line for line in err.splitlines() if "fold to one word" in line)
    assert "concepts.yaml:6: concepts: " in line, line
    assert "customer 'account'" in line and "salary 'accounting'" in line, line
    assert "fold to one word, 'account': salary is named by no story's situation" in line, line
    assert "Traceback" not in err
    status, _, err = call_cli(["check"], settings_with(tmp_path / "fine", table))
    assert status == 0, err


def test_a_valid_base_with_situations_passes_check(tmp_path: Path) -> None:
    status, out, _ = call_cli(["check"], settings_with(tmp_path))
    assert status == 0 and out.startswith("OK: 2 stories")


def test_situations_and_their_concepts_come_back_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_with(tmp_path)
    fresh = build_core(settings)
    knowledge._LAST_KB.clear()  # a new process: the base and the index come from the cache

    def no_build(*_: object, **__: object) -> None:
        raise AssertionError("built again instead of read from the cache")

    monkeypatch.setattr(Matcher, "_build", no_build)
    monkeypatch.setattr(knowledge, "load_story", no_build)
    monkeypatch.setattr("bot.engine.matcher.load_concepts", no_build)  # folded once, kept
    cached = build_core(settings)
    monkeypatch.undo()
    assert cached.kb.stories[1].situations == fresh.kb.stories[1].situations
    assert cached.matcher.situations.stories == fresh.matcher.situations.stories
    assert cached.matcher.concept_table == fresh.matcher.concept_table
    assert "missed_commitment" in cached.matcher.situations.stories[1][0]


def test_a_missed_commitment_in_other_words_is_read_as_the_story_situation(
    tmp_path: Path,
) -> None:
    """ "kelewat" and "skipped" share no word with "lupa": the concept does. The apology
    story's situation fits, the threat's does not, and `ask --json` ranks the apology first."""
    settings = settings_with(tmp_path)
    core = build_core(settings)
    questions = [
        "kiriman rutin ke customer kelewat, gimana minta maafnya",
        "we skipped a customer's order, how do I apologize",
    ]
    for question in questions:
        evidence = {a.id: e for a, e in core.matcher.evidence(question)}
        assert evidence["maaf-coklat"].situation > 0.5, evidence
        threat = evidence.get("ancaman-klien")
        assert threat is None or threat.situation == 0.0
    status, out, _ = call_cli(["ask", "--json"], settings, stdin="\n".join(questions) + "\n")
    assert status == 0
    for line in out.splitlines():
        record = json.loads(line)
        best = core.matcher.rank(record["question"])[0]
        assert best.story.id == "maaf-coklat"
        assert all(m["id"] == "maaf-coklat" for m in record["matches"][:1])


def test_a_word_the_story_never_uses_is_covered_by_the_concept_its_situation_names(
    tmp_path: Path,
) -> None:
    """ "skipped" is no word of the apology story, so its words leave it unexplained; its
    situation names the missed commitment "skipped" is, so the concept-widened coverage
    counts it for that story only, not for the threat story."""
    core = build_core(settings_with(tmp_path))
    evidence = {a.id: e for a, e in core.matcher.evidence("we skipped a customer's order")}
    apology = evidence["maaf-coklat"]
    assert apology.concept_coverage > apology.coverage + 0.2, apology
    threat = evidence.get("ancaman-klien")
    assert threat is None or threat.concept_coverage == pytest.approx(threat.coverage)


def test_a_subject_no_situation_names_is_uncovered(tmp_path: Path) -> None:
    core = build_core(settings_with(tmp_path))
    evidence = core.matcher.evidence("customer minta komisi, gaji saya kecil")
    assert evidence and all(e.uncovered > 0.5 for _, e in evidence)


def test_someone_served_named_by_a_concept_counts_as_a_customer(tmp_path: Path) -> None:
    """A message naming the table's `served` concepts by any member ("kepala dinas", a
    phrase no word of `customers` is) is about serving someone; one naming none is not."""
    concepts = CONCEPTS + "  official: [pejabat, kepala dinas, head of the agency]\n"
    concepts += "served: [official]\n"
    core = build_core(settings_with(tmp_path, concepts))
    for question in ("kepala dinas ngancam putus kontrak", "the head of the agency threatens"):
        evidence = core.matcher.evidence(question)
        assert evidence and all(e.customer for _, e in evidence), question
    evidence = core.matcher.evidence("rekan kerja ngancam putus kontrak")
    assert evidence and not any(e.customer for _, e in evidence)
    assert core.matcher.concept_table.served == frozenset({"official"})


def test_a_served_name_that_is_no_concept_is_named_with_its_line(tmp_path: Path) -> None:
    concepts = CONCEPTS + "served: [customer_typo]\n"
    status, out, err = call_cli(["check"], settings_with(tmp_path, concepts))
    assert status == 2 and out == ""
    assert "concepts.yaml:7: served: customer_typo: not a concept of this table" in err


def test_a_broken_concept_table_never_reaches_a_user_as_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError) as caught:
        build_core(settings_with(tmp_path, "concepts: [not, a, mapping]\n"))
    assert "concepts.yaml:1:" in str(caught.value)


def test_the_terminal_chat_tells_the_story_of_a_situation_told_in_other_words(
    tmp_path: Path,
) -> None:
    """A run-on, voice-typed message with no word of the story's triggers for "forgot": the
    concept of a missed commitment finds the apology story, and the chat tells it."""
    import io

    from bot.chat.replies import Replies
    from bot.transports.console import run_console

    settings = settings_with(tmp_path)
    core = build_core(settings)
    message = (
        "jadi gini kak kiriman rutin ke customer kami minggu lalu kelewat terus customernya "
        "kecewa nah gimana cara minta maafnya"
    )
    stdout = io.StringIO()
    status = run_console(Replies(core.kb, core.matcher), io.StringIO(message + "\n"), stdout)
    assert status == 0
    apology = core.kb.by_id("maaf-coklat")
    assert apology is not None
    assert apology.lessons[0].id.split(".")[0] in stdout.getvalue()


def test_editing_the_concept_table_reaches_the_cached_situations(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    assert "order" in build_core(settings).matcher.situations.stories[1][0]
    edited = CONCEPTS.replace("  order: [pesanan, order, kiriman rutin]\n", "")
    (settings.responses_dir / "concepts.yaml").write_text(edited, encoding="utf-8")
    knowledge._LAST_KB.clear()  # a restart after the edit, with the cache of the first run
    again = build_core(settings).matcher
    assert "order" not in again.situations.stories[1][0]
    assert "missed_commitment" in again.situations.stories[1][0]
