"""`python -m bot taught [--export DIR | --prune]`: what team leads taught, merged into the YAML.

The round trip a content author makes: list, export, copy the files over the knowledge base,
`check`, and the matcher (rebuilt from the YAML alone) answers the taught questions; then
`--prune` marks merged exactly the phrasings the YAML now has and the stories answer.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from kbfixture import PROJECT, call_cli

from bot import cli
from bot.chat.services import build_core
from bot.exitcodes import EXIT_CONFIG
from bot.settings import Settings
from bot.storage.store import DB_FILENAME, Store
from bot.tools.taught import ExportError, add_trigger

COFFEE_ID = "pembeli minta kopi gratis tiap kali kunjungan"
COFFEE_EN = "customer wants a free coffee every visit"
MULTILINE = 'klien nanya\n  "harga khusus": boleh   gak? # bukan komentar'
ALREADY = "Orderan  PELANGGAN ketinggalan\ntidak terkirim"  # a trigger, other case/spaces
GONE_TEXT = "pertanyaan untuk cerita yang sudah dihapus"
LEAD = 4242
WHEN = datetime(2026, 11, 23, 5, 7, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A copy of the real knowledge base and seeds, so merging into it is safe."""
    shutil.copytree(PROJECT / "responses", tmp_path / "responses")
    shutil.copytree(PROJECT / "seeds", tmp_path / "seeds")
    return Settings(
        responses_dir=tmp_path / "responses",
        seeds_dir=tmp_path / "seeds",
        data_dir=tmp_path / "data",
    )


def teach(settings: Settings, taught: list[tuple[str, str, str | None]]) -> None:
    """Record each (text, lang, story) as an unanswered question from chat -100 and decide it
    like a team lead: taught to the story, or a content gap when the story is None."""
    with Store(settings.data_dir / DB_FILENAME, log_questions=True, clock=lambda: WHEN) as store:
        for text, lang, _ in taught:
            store.record_question(
                chat_id=-100,
                user_id=7,
                text=text,
                lang=lang,
                story_id=None,
                score=5,
                answered=False,
                source="group",
            )
        store.flush()
        waiting, _ = store.inbox(chat_id=None, limit=100)
        ids = {q.text: q.id for q in waiting}
        for text, _, story in taught:
            decision = "taught" if story else "gap"
            change = store.decide(
                ids[text], decision, story_id=story, by=LEAD, decided_in=-100, daily_limit=99
            )
            assert change.outcome == "changed"


TAUGHT = [
    (COFFEE_ID, "id", "lupa-pesanan-maaf"),
    (COFFEE_EN, "en", "wayang-bima"),
    (MULTILINE, "id", "lupa-pesanan-maaf"),
    (ALREADY, "id", "lupa-pesanan-maaf"),
    (GONE_TEXT, "id", "kisah-dihapus"),
    ("tidak ada cerita yang cocok untuk ini", "id", None),  # a gap: never listed or pruned
]


def test_without_a_database_there_are_none_and_none_is_created(settings: Settings) -> None:
    for argv in (["taught"], ["taught", "--prune"]):
        status, out, err = call_cli(argv, settings)
        assert status == 0, err
        assert out.startswith("No taught phrasings")
    assert not (settings.data_dir / DB_FILENAME).exists()


def test_the_listing_shows_when_story_who_chat_and_text_on_one_line(settings: Settings) -> None:
    long_text = "klien minta " + "diskon " * 30
    teach(settings, [*TAUGHT, (long_text, "id", "kerjasama-ancaman")])
    status, out, err = call_cli(["taught"], settings)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "6 taught phrasing(s), oldest first:"
    assert (
        f"  2026-11-23 05:07 UTC  lupa-pesanan-maaf  by user {LEAD}  in chat -100  [id] {COFFEE_ID}"
        in lines
    )
    assert (
        f"  2026-11-23 05:07 UTC  wayang-bima  by user {LEAD}  in chat -100  [en] {COFFEE_EN}"
        in lines
    )
    # Newlines and runs of spaces collapsed: one row per phrasing.
    assert any(
        line.endswith('[id] klien nanya "harga khusus": boleh gak? # bukan komentar')
        for line in lines
    )
    gone = [line for line in lines if GONE_TEXT in line]
    assert len(gone) == 1 and "kisah-dihapus (story gone: ignored)" in gone[0]
    long_row = next(line for line in lines if "klien minta diskon" in line)
    assert long_row.endswith("…") and len(long_row.split("] ", 1)[1]) == 100
    assert "tidak ada cerita" not in out  # gaps are not taught phrasings
    assert "taught --export DIR" in out


def test_export_check_and_the_matcher_answer_the_taught_questions(
    settings: Settings, tmp_path: Path
) -> None:
    def first_story(question: str, data_dir: str) -> str | None:
        # The YAML alone: a data directory without a database, so nothing taught is loaded.
        matcher = build_core(replace(settings, data_dir=tmp_path / data_dir)).matcher
        answer = matcher.ask(question)
        return answer.matches[0].story.id if answer.matches else None

    assert first_story(COFFEE_ID, "before") is None  # out of scope until merged
    assert first_story(COFFEE_EN, "before") is None
    teach(settings, TAUGHT)
    stories = settings.responses_dir / "anecdotes"
    before = {p.name: p.read_text(encoding="utf-8") for p in stories.glob("*.yaml")}
    export = tmp_path / "export" / "new"  # created, parents too

    status, out, err = call_cli(["taught", "--export", str(export)], settings)
    assert status == 0, err
    assert sorted(p.name for p in export.iterdir()) == [
        "001-wayang-bima.yaml",
        "003-lupa-pesanan-maaf.yaml",
    ]
    assert f"wrote {export / '003-lupa-pesanan-maaf.yaml'} (+2 trigger(s): id 2)" in out
    assert f"wrote {export / '001-wayang-bima.yaml'} (+1 trigger(s): en 1)" in out
    assert "skipped 1 already among their story's triggers" in out
    assert f"skipped (kisah-dihapus: story gone): {GONE_TEXT}" in out
    assert f"cp {export}/* {stories}/" in out
    assert "python -m bot check" in out and "python -m bot taught --prune" in out
    # The knowledge base itself is untouched until the author copies the files.
    assert {p.name: p.read_text(encoding="utf-8") for p in stories.glob("*.yaml")} == before

    # A textual insertion: the old file's lines all stay, comments included, in order; the
    # new lines are JSON-quoted scalars at the end of their language's list.
    wayang = (export / "001-wayang-bima.yaml").read_text(encoding="utf-8")
    old_lines = before["001-wayang-bima.yaml"].splitlines()
    new_lines = wayang.splitlines()
    added = [line for line in new_lines if line not in old_lines]
    assert added == [f'    - "{COFFEE_EN}"']
    assert [line for line in new_lines if line not in added] == old_lines
    assert new_lines[0].startswith("# Seed 001")
    assert yaml.safe_load(wayang)["triggers"]["en"][-1] == COFFEE_EN
    apology = yaml.safe_load((export / "003-lupa-pesanan-maaf.yaml").read_text(encoding="utf-8"))
    assert apology["triggers"]["id"][-2:] == [
        COFFEE_ID,
        'klien nanya "harga khusus": boleh gak? # bukan komentar',
    ]

    for path in export.iterdir():
        shutil.copy(path, stories / path.name)
    status, out, err = call_cli(["check"], settings)
    assert status == 0, err
    assert out.startswith("OK: 5 stories")

    assert first_story(COFFEE_ID, "after") == "lupa-pesanan-maaf"
    assert first_story(COFFEE_EN, "after") == "wayang-bima"

    # Prune: those now in the YAML that the stories answer on their own go (two exported, one
    # there already); the multi-line one is a trigger now, but the stories alone do not answer
    # it, so it stays taught and is named. The phrasing of the story that is gone stays, and
    # so does the content gap.
    status, out, err = call_cli(["taught", "--prune"], settings)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "pruned 3 taught phrasing(s) now in the YAML; 2 remain"
    assert lines[1].startswith("kept taught 1 that are triggers now")
    assert lines[2].split()[:3] == ["lupa-pesanan-maaf", "[id]", "klien"]
    assert lines[2].endswith("-> now: no story") and len(lines) == 3
    status, out, _ = call_cli(["taught"], settings)
    assert out.splitlines()[0] == "2 taught phrasing(s), oldest first:" and GONE_TEXT in out
    with Store.open(settings) as store:
        assert len(store.decisions("gap")) == 1
    status, out, _ = call_cli(["taught", "--prune"], settings)
    assert out.startswith("pruned 0 taught phrasing(s) now in the YAML; 2 remain\n")


def test_prune_keeps_phrasings_not_merged_yet(settings: Settings) -> None:
    teach(settings, TAUGHT[:2])
    status, out, err = call_cli(["taught", "--prune"], settings)
    assert status == 0, err
    assert out == "pruned 0 taught phrasing(s) now in the YAML; 2 remain\n"


def test_nothing_to_export_when_every_phrasing_is_in_the_yaml(
    settings: Settings, tmp_path: Path
) -> None:
    teach(settings, [(ALREADY, "id", "lupa-pesanan-maaf")])
    status, out, err = call_cli(["taught", "--export", str(tmp_path / "out")], settings)
    assert status == 0, err
    assert "Nothing to export" in out and "--prune" in out
    assert not (tmp_path / "out").exists()


def test_export_refuses_the_knowledge_base_and_never_overwrites(
    settings: Settings, tmp_path: Path
) -> None:
    teach(settings, TAUGHT[:1])
    stories = settings.responses_dir / "anecdotes"
    before = (stories / "003-lupa-pesanan-maaf.yaml").read_text(encoding="utf-8")
    for inside in (stories, stories / "sub", settings.responses_dir):
        status, out, err = call_cli(["taught", "--export", str(inside)], settings)
        assert status == EXIT_CONFIG
        assert out == "" and len(err.splitlines()) == 1
        assert "inside the knowledge base" in err
    assert (stories / "003-lupa-pesanan-maaf.yaml").read_text(encoding="utf-8") == before
    assert not (stories / "sub").exists()

    export = tmp_path / "out"
    export.mkdir()
    (export / "003-lupa-pesanan-maaf.yaml").write_text("# unmerged work\n", encoding="utf-8")
    status, out, err = call_cli(["taught", "--export", str(export)], settings)
    assert status == EXIT_CONFIG
    assert len(err.splitlines()) == 1 and "never overwritten" in err
    assert (export / "003-lupa-pesanan-maaf.yaml").read_text() == "# unmerged work\n"

    a_file = tmp_path / "file"
    a_file.write_text("x")
    status, _, err = call_cli(["taught", "--export", str(a_file)], settings)
    assert status == EXIT_CONFIG and "not a directory" in err


def test_export_and_prune_are_exclusive(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        call_cli(["taught", "--prune", "--export", str(tmp_path)], settings)
    assert raised.value.code == EXIT_CONFIG


STORY = """\
# a comment that must stay
id: x
triggers:  # the ways people ask
  id:
    - "satu"   # first
    - >-
      dua yang
      dilipat
  en: ["one", 'two']
tags: {id: [a], en: [b]}
"""


def test_add_trigger_keeps_the_layout_of_block_folded_and_flow_lists() -> None:
    text = add_trigger(STORY, "id", "tiga: 'kutip' # bukan")
    assert text.splitlines()[:8] == STORY.splitlines()[:8]
    assert text.splitlines()[8] == "    - \"tiga: 'kutip' # bukan\""
    assert yaml.safe_load(text)["triggers"]["id"] == [
        "satu",
        "dua yang dilipat",
        "tiga: 'kutip' # bukan",
    ]
    text = add_trigger(text, "en", 'three "quoted"')
    assert '  en: ["one", \'two\', "three \\"quoted\\""]' in text
    assert yaml.safe_load(text)["triggers"]["en"] == ["one", "two", 'three "quoted"']


def test_add_trigger_adds_a_missing_language_list() -> None:
    story = "id: x\ntriggers:\n  id:\n    - satu\ntags: []\n"
    text = add_trigger(story, "en", "one")
    assert text == 'id: x\ntriggers:\n  id:\n    - satu\n  en:\n    - "one"\ntags: []\n'
    flow = add_trigger("triggers: {id: [satu]}\n", "en", "one")
    assert yaml.safe_load(flow) == {"triggers": {"id": ["satu"], "en": ["one"]}}
    no_newline = add_trigger("triggers:\n  id:\n    - satu", "id", "dua")
    assert yaml.safe_load(no_newline) == {"triggers": {"id": ["satu", "dua"]}}
    with pytest.raises(ExportError):
        add_trigger("id: x\n", "id", "satu")


def test_taught_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["taught", "--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m bot taught")
    assert "--export DIR" in out and "--prune" in out


def test_export_beside_a_dangling_link_writes_nothing(settings: Settings, tmp_path: Path) -> None:
    """All or none: a dangling link named like a second file refuses before the first."""
    teach(settings, TAUGHT[:2])  # two stories: two files
    export = tmp_path / "out"
    export.mkdir()
    (export / "001-wayang-bima.yaml").symlink_to(tmp_path / "nowhere")
    names = sorted(p.name for p in (settings.responses_dir / "anecdotes").glob("*.yaml"))
    assert "001-wayang-bima.yaml" in names
    status, out, err = call_cli(["taught", "--export", str(export)], settings)
    assert status == EXIT_CONFIG
    assert len(err.splitlines()) == 1 and "never overwritten" in err
    assert [p.name for p in export.iterdir()] == ["001-wayang-bima.yaml"]
    assert not (tmp_path / "nowhere").exists()


def test_a_phrasing_with_control_characters_is_exported_cleaned_and_named(
    settings: Settings, tmp_path: Path
) -> None:
    dirty = "klien minta\x7f diskon\x85 akhir\x9b tahun"
    teach(settings, [(dirty, "id", "lupa-pesanan-maaf"), TAUGHT[1]])
    export = tmp_path / "out"
    status, out, err = call_cli(["taught", "--export", str(export)], settings)
    assert status == 0, err
    assert "removed control characters from: klien minta diskon akhir tahun" in out
    for path in export.iterdir():  # the merged base loads, with the cleaned trigger
        shutil.copy(path, settings.responses_dir / "anecdotes" / path.name)
    assert call_cli(["check"], settings)[0] == 0
    kb = build_core(replace(settings, data_dir=tmp_path / "plain")).kb
    story = kb.by_id("lupa-pesanan-maaf")
    assert story is not None and "klien minta diskon akhir tahun" in story.triggers["id"]
    status, out, _ = call_cli(["taught", "--prune"], settings)
    assert status == 0 and "pruned 2 " in out


def test_prune_keeps_a_merged_trigger_the_stories_do_not_answer_on_their_own(
    settings: Settings, tmp_path: Path
) -> None:
    """A lead taught the one word "kado" (answered at once with the birthday story). Merged as
    a trigger it is one phrasing among the story's many, and the stories alone only offer the
    story for it: prune keeps it taught and says why, so Kisah still answers it; a longer
    phrasing the stories now answer themselves is marked merged. When every phrasing is
    merged, the listing says they were taught, not that none ever was."""
    birthday = "kado-ultah-pelanggan"
    longer = "pelanggan setia ulang tahun, kado diantar sendiri atau lewat kurir?"
    teach(settings, [("kado", "id", birthday), (longer, "id", birthday)])
    export = tmp_path / "export"
    status, _, err = call_cli(["taught", "--export", str(export)], settings)
    assert status == 0, err
    for path in export.iterdir():
        shutil.copy(path, settings.responses_dir / "anecdotes" / path.name)
    assert call_cli(["check"], settings)[0] == 0

    status, out, err = call_cli(["taught", "--prune"], settings)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "pruned 1 taught phrasing(s) now in the YAML; 1 remain"
    assert "do not answer with their story yet" in lines[1]
    assert lines[2].split()[:3] == [birthday, "[id]", "kado"]
    status, out, _ = call_cli(["taught"], settings)
    assert out.splitlines()[0] == "1 taught phrasing(s), oldest first:" and "kado" in out

    with Store.open(settings) as store:  # the author writes the longer trigger instead
        assert store.merge_decisions([d.question_id for d in store.decisions("taught")]) == 1
    status, out, _ = call_cli(["taught"], settings)
    assert out.startswith("No taught phrasings left: the 2 taught so far are triggers")
