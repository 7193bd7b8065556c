"""`python -m bot new-story`: a draft story from a seed, refused by `check` until filled in."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from kbfixture import APOLOGY, PROJECT, SEEDS, THREAT, call_cli, write_kb

from bot.settings import Settings
from bot.storage.store import DB_FILENAME, Store
from bot.tools.newstory import seed_title, similar_questions, slugify

SEED = "005_a1b2c3d4.txt"
SEED_TEXT = """Klien Minta Diskon Besar di Akhir Tahun

12 Des 2010

Menjelang akhir tahun, seorang klien menelepon dan meminta diskon besar untuk perpanjangan
kontrak. Katanya vendor lain menawarkan harga jauh lebih murah.

Saya tidak langsung menurunkan harga. Saya tanyakan dulu apa yang sebenarnya dia butuhkan,
lalu menawarkan paket dengan layanan tambahan tanpa memotong harga.
Share this:
Leave a Reply
Komentar pembaca: mantap gan, kunjungi blog saya
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for story in (THREAT, APOLOGY):
        shutil.copy(SEEDS / story["seed"], seeds / story["seed"])
    (seeds / SEED).write_text(SEED_TEXT, encoding="utf-8")
    responses = write_kb(tmp_path)
    return Settings(responses_dir=responses, seeds_dir=seeds, data_dir=tmp_path / "data")


def draft_path(settings: Settings) -> Path:
    return settings.responses_dir / "anecdotes" / "005-klien-minta-diskon-besar.yaml"


def fill_in(path: Path) -> None:
    """What the author does: every TODO replaced with real text."""
    counter = iter(range(1000))
    text = re.sub(
        r"\bTODO\b(?=\]|$)",
        lambda _: f"Teks {next(counter)}",
        path.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    path.write_text(text, encoding="utf-8")


def test_the_draft_has_every_field_marked_todo(settings: Settings) -> None:
    status, out, err = call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)
    assert status == 0, err
    path = draft_path(settings)
    assert str(path) in out
    assert not (settings.data_dir / DB_FILENAME).exists()  # no database: none created
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["id"] == "klien-minta-diskon-besar"
    assert len(data["id"]) <= 24
    assert data["seed"] == SEED
    assert data["title"] == {"id": "Klien Minta Diskon Besar di Akhir Tahun", "en": "TODO"}
    assert data["story"] == {"id": "TODO", "en": "TODO"}
    assert data["lessons"] == [{"id": "TODO", "en": "TODO"}]
    assert data["triggers"] == {"id": ["TODO"], "en": ["TODO"]}
    assert data["situations"] == [{"id": "TODO", "en": "TODO"}]  # README's step 3 asks for it
    assert data["tags"] == {"id": ["TODO"], "en": ["TODO"]}
    assert data["tips"] == [{"id": "TODO", "en": "TODO"}] * 3
    assert data["summary"] == {"id": "TODO", "en": "TODO"}  # the answer's short retelling
    assert data["when"] == [{"id": ["TODO"], "en": ["TODO"]}]  # it picks the first lesson
    # The cleaned seed, as comments, without the blog's debris.
    assert "# Menjelang akhir tahun, seorang klien menelepon" in text
    assert "# lalu menawarkan paket dengan layanan tambahan tanpa memotong harga." in text
    for debris in ("Share this", "Leave a Reply", "kunjungi blog saya"):
        assert debris not in text
    assert "No unanswered questions" in text


def test_check_names_every_todo_field_with_its_line_until_filled_in(settings: Settings) -> None:
    assert call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)[0] == 0
    path = draft_path(settings)
    lines = path.read_text(encoding="utf-8").splitlines()

    status, _, err = call_cli(["check"], settings)
    assert status == 2
    problems = [line for line in err.splitlines() if "still TODO" in line]
    fields = [line.split(": ")[1] for line in problems]
    assert fields == [
        "title.en",
        "story.id",
        "story.en",
        "lessons.0.id",
        "lessons.0.en",
        "triggers.id.0",
        "triggers.en.0",
        "situations.0.id",
        "situations.0.en",
        "tags.id.0",
        "tags.en.0",
        *(f"tips.{i}.{lang}" for i in range(3) for lang in ("id", "en")),
        "summary.id",
        "summary.en",
        "when.0.id.0",
        "when.0.en.0",
    ]
    for problem in problems:
        where = problem.split(": ", 1)[0]
        assert where.startswith(f"{path}:")
        assert "TODO" in lines[int(where.rsplit(":", 1)[1]) - 1]  # the line of the TODO
    assert f"{path}:11: story.en: still TODO (a draft from new-story)" in problems

    fill_in(path)
    status, out, err = call_cli(["check"], settings)
    assert status == 0, err
    assert out.startswith("OK: 3 stories") and "note:" not in out

    renamed = path.with_name("diskon.yaml")  # valid, but not where an author looks for it
    path.rename(renamed)
    status, out, err = call_cli(["check"], settings)
    assert status == 0, err
    assert (
        f"note: {renamed} holds the story 'klien-minta-diskon-besar' of post 005; name it "
        "005-klien-minta-diskon-besar.yaml" in out
    )


def test_a_draft_is_left_out_of_the_serving_commands_with_a_warning(settings: Settings) -> None:
    """An author who runs `new-story` on the server must not take the bot down at its next
    start: `ask` and `chat` serve the finished stories and say which draft they left out;
    `check` still refuses it."""
    assert call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)[0] == 0
    left_out = f"story draft left out: {draft_path(settings)} (21 field(s) still TODO"

    status, out, err = call_cli(
        ["ask", "--json"], settings, stdin=f"{THREAT['triggers']['id'][0]}\n"
    )
    assert status == 0, err
    assert json.loads(out)["matches"][0]["id"] == THREAT["id"]
    assert left_out in err
    status, out, err = call_cli(["chat"], settings, stdin="/topics\n/quit\n")
    assert status == 0, err
    assert left_out in err and "TODO" not in out
    assert "Klien Minta Diskon Besar" not in out  # the draft's title is not on the list
    assert call_cli(["check"], settings)[0] == 2

    fill_in(draft_path(settings))  # finished: served like the others
    status, out, err = call_cli(["chat"], settings, stdin="/topics\n/quit\n")
    assert status == 0 and "left out" not in err
    assert "Klien Minta Diskon Besar di Akhir Tahun" in out  # on the list of stories now


def test_an_existing_draft_is_never_overwritten(settings: Settings) -> None:
    assert call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)[0] == 0
    path = draft_path(settings)
    path.write_text("# the author's work\n", encoding="utf-8")
    status, out, err = call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "already exists" in err and str(path) in err
    assert path.read_text(encoding="utf-8") == "# the author's work\n"


def test_the_title_is_the_seeds_title_line_not_its_date_line(settings: Settings) -> None:
    """A blog export that starts with the date ("Sunday, April 27, 2008", as seed 002 does)."""
    seed_text = (SEEDS / "002_2fcabcac5da554e5.txt").read_text(encoding="utf-8")
    assert seed_text.startswith("Sunday, April 27, 2008")
    (settings.seeds_dir / "007_copy.txt").write_text(seed_text, encoding="utf-8")
    status, out, err = call_cli(["new-story", str(settings.seeds_dir / "007_copy.txt")], settings)
    assert status == 0, err
    path = settings.responses_dir / "anecdotes" / "007-tentang-sebuah-proses.yaml"
    assert str(path) in out
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["title"]["id"] == "Tentang Sebuah Proses...."


@pytest.mark.parametrize(
    "line", ["Sunday, April 27, 2008", "11 Feb 2009", "30 10 2007", "Senin, 3 Maret 2008"]
)
def test_date_lines_are_recognised(line: str) -> None:
    assert seed_title(f"{line}\n\nJudul Sebenarnya\n\nIsi.") == "Judul Sebenarnya"
    assert seed_title("Customer oh customer....\n\n11 Feb 2009") == "Customer oh customer...."


def test_a_seed_a_story_already_tells_is_refused_unless_forced(settings: Settings) -> None:
    seed = settings.seeds_dir / THREAT["seed"]
    stories = settings.responses_dir / "anecdotes"
    before = sorted(stories.iterdir())
    status, out, err = call_cli(["new-story", str(seed)], settings)
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert "already told by" in err and "--force" in err
    assert sorted(stories.iterdir()) == before
    status, out, err = call_cli(["new-story", "--force", str(seed)], settings)
    assert status == 0, err
    assert (stories / "000-masih-mau-kerjasama-gak.yaml").is_file()


def test_a_copy_of_a_told_post_under_another_name_is_refused_unless_forced(
    settings: Settings,
) -> None:
    copy = settings.seeds_dir / "006_copy_of_000.txt"
    original = (settings.seeds_dir / THREAT["seed"]).read_text(encoding="utf-8")
    copy.write_text(original.replace("\n\n", "\n \n") + "\nLeave a Reply\n", encoding="utf-8")
    stories = settings.responses_dir / "anecdotes"
    before = sorted(stories.iterdir())
    status, out, err = call_cli(["new-story", str(copy)], settings)
    assert status == 2 and out == ""
    assert f"the same post as {THREAT['seed']}, already told by" in err and "--force" in err
    assert sorted(stories.iterdir()) == before
    status, _, err = call_cli(["new-story", "--force", str(copy)], settings)
    assert status == 0, err
    # a different post beside it is drafted as before
    assert call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)[0] == 0


def test_a_post_numbered_as_another_told_post_is_refused_by_new_story_and_check(
    settings: Settings,
) -> None:
    """The labels in eval/ name a story by its seed's number: a second post numbered 000
    would make `expect: ["000"]` name two stories. new-story refuses it (even with --force,
    which is for a second story of the same post) and check refuses a story citing it."""
    other = settings.seeds_dir / "000_another_post.txt"
    other.write_text(SEED_TEXT, encoding="utf-8")
    stories = settings.responses_dir / "anecdotes"
    before = sorted(stories.iterdir())
    for argv in (["new-story", str(other)], ["new-story", "--force", str(other)]):
        status, out, err = call_cli(argv, settings)
        assert status == 2 and out == "" and len(err.splitlines()) == 1
        assert f"the number 000 is {THREAT['seed']}'s" in err
        assert sorted(stories.iterdir()) == before

    renamed = settings.seeds_dir / "009_another_post.txt"  # what the author does next
    other.rename(renamed)
    assert call_cli(["new-story", str(renamed)], settings)[0] == 0
    draft = next(stories.glob("009-*.yaml"))
    fill_in(draft)
    assert call_cli(["check"], settings)[0] == 0
    renamed.rename(other)  # a story citing a post numbered as another's: check names it
    draft.write_text(
        draft.read_text(encoding="utf-8").replace(renamed.name, other.name), encoding="utf-8"
    )
    status, out, err = call_cli(["check"], settings)
    assert status == 2
    assert f"{draft}:" in err and f"seed: '{other.name}' has the number 000" in err


def test_force_is_documented_in_the_help_and_the_readme(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        call_cli(["new-story", "--help"], Settings())
    assert exited.value.code == 0
    assert "--force" in capsys.readouterr().out
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `new-story"))
    assert "--force" in row


def test_a_seed_named_as_the_seeds_directory_lists_it_is_found_there(
    settings: Settings,
) -> None:
    """`new-story 005_x.txt`, the name `ls seeds/` shows: the post in the seeds directory."""
    status, out, err = call_cli(["new-story", SEED], settings)
    assert status == 0, err
    assert str(draft_path(settings)) in out
    status, _, err = call_cli(["new-story", "006_missing.txt"], settings)
    assert status == 2 and "no such seed file" in err


def test_a_seed_outside_the_seeds_directory_or_missing_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / SEED
    outside.write_text(SEED_TEXT, encoding="utf-8")
    status, _, err = call_cli(["new-story", str(outside)], settings)
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "not in" in err and "copy the post there" in err

    status, _, err = call_cli(["new-story", str(settings.seeds_dir / "006_missing.txt")], settings)
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "no such seed file" in err

    unnumbered = settings.seeds_dir / "post.txt"
    unnumbered.write_text(SEED_TEXT, encoding="utf-8")
    status, _, err = call_cli(["new-story", str(unnumbered)], settings)
    assert status == 2
    assert "NNN_name.txt" in err
    assert list((settings.responses_dir / "anecdotes").glob("005-*")) == []


SIMILAR = [
    "klien minta diskon besar padahal kontrak mau diperpanjang",
    "customer bilang vendor lain lebih murah, minta turun harga",
]
# The last shares its one word with the post, which makes it no trigger and no situation.
DISSIMILAR = ["berapa suhu di medan hari ini", "cara bikin kopi enak", "klien"]


def unanswered(store: Store, texts: list[str]) -> None:
    """Questions of a group chat that got no story, written before the command reads them."""
    for text in texts:
        store.record_question(
            chat_id=1,
            user_id=None,
            text=text,
            lang="id",
            story_id=None,
            score=5,
            answered=False,
            source="group",
        )
    store.flush()


def test_similar_unanswered_questions_are_listed_and_dissimilar_ones_not(
    settings: Settings,
) -> None:
    with Store.open(settings) as store:
        unanswered(store, [*SIMILAR, *DISSIMILAR, SIMILAR[0]])
    status, out, err = call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)
    assert status == 0, err
    assert "2 similar unanswered questions" in out
    text = draft_path(settings).read_text(encoding="utf-8")
    assert f"#   - {SIMILAR[0]} (2x)" in text
    assert f"#   - {SIMILAR[1]} (1x)" in text
    for question in DISSIMILAR:
        assert f"#   - {question} (" not in text


def test_similar_questions_keep_the_top_ten() -> None:
    questions = [f"klien minta diskon besar nomor {i}" for i in range(15)]
    assert len(similar_questions(SEED_TEXT, questions)) == 10


def test_slugs_are_ascii_lowercase_hyphenated_and_short() -> None:
    assert slugify("Masih Mau Kerjasama Gak?") == "masih-mau-kerjasama-gak"
    assert slugify("Café über Señor") == "cafe-uber-senor"
    assert slugify("Jatuh Cinta dengan Customer?") == "jatuh-cinta"  # not "...-dengan"
    assert slugify("Salah Kirim Barang ke Customer") == "salah-kirim-barang"
    assert slugify("Supercalifragilisticexpialidocious") == "supercalifragilisticexpi"
    assert slugify("!!!") == ""


GAP = "klien minta potongan harga besar sebelum perpanjang kontrak"
TAUGHT_ELSEWHERE = "customer bilang vendor lain lebih murah, minta turun harga"


def test_content_gaps_come_first_then_the_other_unanswered_questions(
    settings: Settings,
) -> None:
    with Store.open(settings) as store:
        unanswered(store, [GAP, *SIMILAR, *DISSIMILAR, "cuaca panas tidak ada ceritanya"])
        ids = {q.text: q.id for q in store.inbox(chat_id=None, limit=50)[0]}
        for text, decision, story in (
            (GAP, "gap", None),
            ("cuaca panas tidak ada ceritanya", "gap", None),  # a gap unlike the seed
            (TAUGHT_ELSEWHERE, "taught", THREAT["id"]),  # answered now: no head start
        ):
            change = store.decide(
                ids[text], decision, story_id=story, by=9, decided_in=1, daily_limit=10
            )
            assert change.outcome == "changed"
    status, out, err = call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)
    assert status == 0, err
    assert "(1 similar content gaps, 1 similar unanswered questions)" in out
    text = draft_path(settings).read_text(encoding="utf-8")
    listed = [line for line in text.splitlines() if line.startswith("#   - ")]
    assert listed == [f"#   - {GAP} (1x)", f"#   - {SIMILAR[0]} (1x)"]  # the gap first
    assert text.index("# Content gaps like this post") < text.index("# Unanswered questions")
    assert TAUGHT_ELSEWHERE not in text and "cuaca" not in text
    assert text.count(GAP) == 1  # a gap is not listed again among the unanswered


def test_a_line_break_yaml_knows_cannot_inject_a_key_into_the_draft(settings: Settings) -> None:
    """U+2028, U+2029 and U+0085 end a YAML comment: the seed's text after one would be read
    as a field of the draft."""
    seed_text = SEED_TEXT.replace(
        "Katanya vendor lain",
        "Katanya\u2028story: injected\u2029tips: [x]\x85caution: {id: a, en: b}\nvendor lain",
    )
    (settings.seeds_dir / SEED).write_text(seed_text, encoding="utf-8")
    status, _, err = call_cli(["new-story", str(settings.seeds_dir / SEED)], settings)
    assert status == 0, err
    data = yaml.safe_load(draft_path(settings).read_text(encoding="utf-8"))
    assert data["story"] == {"id": "TODO", "en": "TODO"}
    assert data["tips"] == [{"id": "TODO", "en": "TODO"}] * 3
    assert data["summary"] == {"id": "TODO", "en": "TODO"}  # the answer's short retelling
    assert data["when"] == [{"id": ["TODO"], "en": ["TODO"]}]  # it picks the first lesson
    assert "caution" not in data


DAMAGED_POST = """Barang Rusak di Jalan

3 Mar 2010

Pak Hadi, pembeli mesin fotokopi kami, marah besar karena mesinnya tiba dengan panel retak.
Saya tidak membela diri. Siang itu juga saya datang membawa unit pengganti dan mengurus klaim
ke ekspedisi belakangan. Bulan berikutnya ia memesan tiga mesin lagi.
"""
DAMAGED_STORY = {
    "id": "barang-rusak-di-jalan",
    "seed": "006_barang_rusak.txt",
    "title": {"id": "Barang rusak di jalan", "en": "Damaged in transit"},
    "story": {
        "id": "Mesin Pak Hadi tiba retak; penjual membawa pengganti siang itu juga.",
        "en": "Mr Hadi's machine arrived cracked; the seller brought a replacement that day.",
    },
    "lessons": [
        {
            "id": "Ganti dulu barang yang rusak, klaim belakangan.",
            "en": "Replace first, claim later.",
        }
    ],
    "triggers": {
        "id": ["customer komplain mesin datang pecah", "barang sampai di customer rusak"],
        "en": ["the machine arrived broken at the customer"],
    },
    "situations": [
        {
            "id": "barang yang dibeli pelanggan tiba rusak dan pelanggan marah",
            "en": "goods a customer bought arrive damaged and the customer is angry",
        }
    ],
    "tags": {"id": ["barang rusak"], "en": ["damaged goods"]},
    "tips": [
        {"id": "Barang tiba rusak? Bawa pengganti hari itu juga.", "en": "Replace it today."},
        {"id": "Urus klaim ekspedisi setelah pelanggan tenang.", "en": "Claim later."},
        {"id": "Jangan salahkan ekspedisi di depan pelanggan.", "en": "Blame no courier."},
    ],
}


def base_with_the_damaged_post(tmp_path: Path) -> Settings:
    """A copy of the real knowledge base and posts, with the damaged-goods post added (its
    story not yet: `add_the_damaged_story`)."""
    shutil.copytree(PROJECT / "responses", tmp_path / "responses")
    shutil.copytree(PROJECT / "seeds", tmp_path / "seeds")
    (tmp_path / "seeds" / DAMAGED_STORY["seed"]).write_text(DAMAGED_POST, encoding="utf-8")
    return Settings(
        responses_dir=tmp_path / "responses", seeds_dir=tmp_path / "seeds", data_dir=tmp_path / "d"
    )


def add_the_damaged_story(settings: Settings) -> None:
    story_file = settings.responses_dir / "anecdotes" / "006-barang-rusak-di-jalan.yaml"
    story_file.write_text(yaml.safe_dump(DAMAGED_STORY, allow_unicode=True), encoding="utf-8")


def test_a_new_story_is_found_by_its_own_trigger_before_the_model_is_refitted(
    tmp_path: Path,
) -> None:
    """The confidence model reads which words labelled questions used about each story; a
    story added since has none yet. Until `calibrate` runs it is judged without them (not
    against stories that have them), so its own trigger finds it, and `check` says the
    model predates it."""
    settings = base_with_the_damaged_post(tmp_path)
    add_the_damaged_story(settings)
    status, out, err = call_cli(["check"], settings)
    assert status == 0, err
    assert out.startswith("OK: 6 stories")
    assert "the story words know nothing of 1 story(ies): barang-rusak-di-jalan" in out

    status, out, err = call_cli(["ask"], settings, stdin="customer komplain mesin datang pecah\n")
    assert status == 0, err
    assert "] barang-rusak-di-jalan (006)" in out.splitlines()[0]


def test_a_new_story_does_not_take_the_answers_of_the_others_before_the_model_is_refitted(
    tmp_path: Path,
) -> None:
    """A new story shares everyday words ("customer", "kirim") with most messages. Until
    `calibrate` runs, the labelled messages' words still weigh the stories they know among
    themselves: the old stories' questions keep their answers (a probe saw 23 eval sets fall
    below their floors when the words were dropped for every message the new story touched)."""
    settings = base_with_the_damaged_post(tmp_path)
    items = yaml.safe_load((PROJECT / "eval" / "dev-questions-5.yaml").read_text("utf-8"))
    labelled = [item for item in items if item["expect"]]
    stdin = "".join(" ".join(item["q"].split()) + "\n" for item in labelled)

    def right(settings: Settings) -> int:
        status, out, err = call_cli(["ask", "--json"], settings, stdin=stdin)
        assert status == 0, err
        answers = [json.loads(line)["matches"] for line in out.splitlines()]
        return sum(
            bool(found) and found[0]["seed"][:3] in item["expect"]
            for found, item in zip(answers, labelled, strict=True)
        )

    before = right(settings)
    add_the_damaged_story(settings)
    after = right(settings)
    assert before >= 0.95 * len(labelled)
    assert after >= before - 2  # it may fairly take a message or two about damaged goods


@pytest.mark.slow  # two fits of the confidence model on four development sets
def test_a_story_named_by_a_few_dozen_labelled_questions_gets_no_story_words(
    tmp_path: Path,
) -> None:
    """A few dozen labelled questions cannot say which words go with a story: every word of
    theirs would lean to it. `calibrate` leaves such a story out of the story words (it gets
    no lead, as before its first `calibrate`) and `check` says so; with a hundred it is in."""
    settings = base_with_the_damaged_post(tmp_path)
    add_the_damaged_story(settings)
    goods = ["mesin", "kulkas", "printer", "genset", "pompa", "panel", "kompresor", "motor",
             "lemari", "rak", "meja", "kursi", "server", "ups", "trafo", "dinamo", "boiler",
             "chiller", "conveyor", "forklift"]  # fmt: skip
    told = [
        "{} yang kami kirim sampai di customer dalam keadaan rusak",
        "customer terima {} pecah, harus gimana",
        "the {} we shipped arrived broken at the customer",
        "{} pesanan klien rusak di jalan, ganti dulu atau klaim dulu",
        "klien marah karena {} yang datang penyok",
    ]
    labelled = tmp_path / "damaged.yaml"

    def calibrate_with(count: int) -> str:
        questions = [form.format(name) for form in told for name in goods][:count]
        items = [{"q": question, "expect": ["006"]} for question in questions]
        labelled.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
        # enough development sets for every shipped story to have its 100
        dev = [str(PROJECT / "eval" / f"dev-questions-{n}.yaml") for n in (4, 5, 6, 14)]
        status, _, err = call_cli(["calibrate", *dev, str(labelled)], settings)
        assert status == 0, err
        return (tmp_path / "responses" / "story_words.yaml").read_text(encoding="utf-8")

    assert "\nbarang-rusak-di-jalan:\n" not in calibrate_with(24)
    status, out, err = call_cli(["check"], settings)
    assert status == 0, err
    assert "the story words know nothing of 1 story(ies): barang-rusak-di-jalan" in out
    assert "named by fewer than 100 of the labelled questions" in out
    assert "\nbarang-rusak-di-jalan:\n" in calibrate_with(100)
    assert "know nothing" not in call_cli(["check"], settings)[1]
