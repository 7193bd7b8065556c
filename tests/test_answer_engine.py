"""Answer engine v2 on the real stories, as a user meets it: through the terminal chat and
`python -m bot ask --json`. Long situations, keywords, the lesson that fits, the "maybe" tier,
small talk and cautions."""

from __future__ import annotations

import io
import json
import math
import re
import statistics
from pathlib import Path

import pytest
from kbfixture import PROJECT, SEEDS

from bot import cli
from bot.chat.markup import html_to_text
from bot.chat.replies import Replies
from bot.content.knowledge import load_knowledge
from bot.engine.confidence import parts
from bot.engine.matcher import Matcher
from bot.engine.params import DEFAULT_THRESHOLD
from bot.settings import Settings
from bot.storage.store import Store
from bot.tools.evaluation import evaluate, load_items
from bot.transports.console import run_console

REAL = PROJECT / "responses"
DEV = PROJECT / "eval" / "dev-questions.yaml"


@pytest.fixture(scope="module")
def replies() -> Replies:
    kb = load_knowledge(REAL, SEEDS)
    return Replies(kb, Matcher(kb))


def chat(replies: Replies, lines: list[str], store: Store | None = None) -> str:
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    stdout = io.StringIO()
    assert run_console(replies, stdin, stdout, store=store) == 0
    return stdout.getvalue()


def ask_json(tmp_path: Path, *questions: str) -> list[dict]:
    settings = Settings(responses_dir=REAL, seeds_dir=SEEDS, data_dir=tmp_path / "data")
    out = io.StringIO()
    stdin = io.StringIO("".join(q + "\n" for q in questions))
    assert cli.main(["ask", "--json"], settings=settings, stdin=stdin, stdout=out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def title(replies: Replies, story_id: str, lang: str = "id") -> str:
    story = replies.kb.by_id(story_id)
    assert story is not None
    return story.title.get(lang)


# Which story a long situation, a keyword or an off-topic message gets on the real stories is
# content, measured by the eval gate (eval/gate.py, eval/regression-questions.yaml).


def test_a_long_situation_is_split_into_its_clauses() -> None:
    found = parts("Klien marah, padahal saya sibuk. Gimana?\nTolong")
    assert found == ["Klien marah", "padahal saya sibuk.", "Gimana?", "Tolong"]


def test_the_lesson_that_fits_is_shown_first_and_another_lesson_goes_on(
    replies: Replies, tmp_path: Path
) -> None:
    question = "hadiah apa yang berkesan buat pejabat klien yang hobi wayang?"
    (record,) = ask_json(tmp_path, question)
    match = record["matches"][0]
    story = replies.kb.by_id("wayang-bima")
    assert story is not None and match["id"] == "wayang-bima"
    shown = match["lesson"]
    assert shown != 0  # the gift lesson, not always the first
    assert "hadiah" in story.lessons[shown].id.lower()
    order = replies.matcher.rank(question, 1)[0].lessons  # every lesson, best fit first
    assert order[0] == shown and sorted(order) == list(range(len(story.lessons)))
    out = chat(replies, [question, "2"])  # [2] = "another lesson" under the story
    following = story.lessons[order[1]].id  # the next best fit, not the next number
    assert following[:40] in " ".join(out.split())


def test_lessons_are_numbered_in_the_order_they_are_read(replies: Replies, tmp_path: Path) -> None:
    """The lesson shown with the story is the first read, whatever its place in the file:
    "another lesson" then counts 2, 3, ... of N, and comes back to it as 1 of N."""
    question = "hadiah apa yang berkesan buat pejabat klien yang hobi wayang?"
    (record,) = ask_json(tmp_path, question)
    story = replies.kb.by_id(record["matches"][0]["id"])
    assert story is not None
    total, shown = len(story.lessons), record["matches"][0]["lesson"]
    # [2] is "another lesson" under the story and under each lesson alike.
    out = " ".join(chat(replies, [question] + ["2"] * total).split())
    headers = re.findall(rf"Pelajaran (\d+) dari {total}", out)
    assert headers == [str(n) for n in range(2, total + 1)] + ["1"]
    back = out.rsplit(f"Pelajaran 1 dari {total}", 1)[1]
    assert " ".join(story.lessons[shown].id.split())[:40] in back


@pytest.mark.parametrize(
    "message", ["yang lain dong", "ada lagi gak?", "cerita lain dong kak", "another one please"]
)
def test_asking_for_more_points_to_the_buttons_never_a_refusal(
    replies: Replies, tmp_path: Path, message: str
) -> None:
    """After an answer, "another one" is a follow-up, not a situation: the buttons under the
    answer give more, and nothing is recorded as unanswered."""
    store = Store.open(Settings(data_dir=tmp_path / "data"))
    try:
        out = chat(replies, [message], store=store)
        assert "belum punya cerita" not in out and "no story" not in out
        lang = "en" if message.startswith("another") else "id"
        assert replies.kb.text("smalltalk_followup", lang).splitlines()[0] in out
        assert store.unanswered_questions(days=1) == []
    finally:
        store.close()


@pytest.mark.parametrize(
    "message",
    [
        "halo",
        "Halo kak!",
        "makasih ya",
        "thanks!",
        "siapa kamu?",
        "test",
        "👍🙏",
        "matur nuwun mas",
        "hatur nuhun kang",
        "thanks a lot",
        "terima kasih banyak, ceritanya membantu banget",
        "kamu bot ya?",
    ],
)
def test_small_talk_gets_a_friendly_line_never_a_refusal(
    replies: Replies, tmp_path: Path, message: str
) -> None:
    store = Store.open(Settings(data_dir=tmp_path / "data"))
    try:
        out = chat(replies, [message], store=store)
        assert "belum punya cerita" not in out and "no story" not in out
        assert "<i>" not in out and ("Contoh" in out or "For example" in out)
        assert store.unanswered_questions(days=1) == []
    finally:
        store.close()


@pytest.mark.parametrize(
    "message",
    [
        "ok",
        "oke",
        "sip",
        "siap",
        "mantap",
        "👍",
        "Oke kak!",
        "okee sip",
        "oke noted",  # "noted" is office chat in both languages
        "iya",
        "no",
        "hmm",
        "wkwk bener bgt",
    ],
)
def test_an_acknowledgement_is_acknowledged_not_thanked(
    replies: Replies, tmp_path: Path, message: str
) -> None:
    store = Store.open(Settings(data_dir=tmp_path / "data"))
    try:
        out = chat(replies, [message], store=store)
        assert replies.kb.text("smalltalk_ack", "id") in out
        assert "Sama-sama" not in out and "welcome" not in out
        assert store.unanswered_questions(days=1) == []
    finally:
        store.close()


@pytest.mark.parametrize(
    "message", ["gak membantu", "gak nyambung", "salah cerita", "not helpful", "wrong story"]
)
def test_saying_an_answer_did_not_help_is_not_thanked_nor_a_question(
    replies: Replies, tmp_path: Path, message: str
) -> None:
    """ "gak membantu" holds "membantu" (helpful, a thanks): said of an answer, it asks for
    the situation again and points to the 👎 button, and is no question for the inbox."""
    store = Store.open(Settings(data_dir=tmp_path / "data"))
    try:
        out = chat(replies, [message], store=store)
        assert "👎" in out and "/topics" in out
        assert "Sama-sama" not in out and "welcome" not in out
        assert store.unanswered_questions(days=1) == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("message", "lang"),
    [("lalu gimana?", "id"), ("trus hrs gmn", "id"), ("then what?", "en"), ("terus?", "id")],
)
def test_a_follow_up_without_a_situation_points_to_the_answers_buttons(
    replies: Replies, tmp_path: Path, message: str, lang: str
) -> None:
    """ "terus gimana?" after an answer tells no situation: it is pointed to the answer's
    own buttons (another lesson, the full story), not told "no story for 'terus gimana'"
    with every topic, and it is no question for the inbox."""
    store = Store.open(Settings(data_dir=tmp_path / "data"))
    try:
        out = chat(replies, [message], store=store)
        another = html_to_text(replies.kb.text("button_another_lesson", lang))
        assert another in out
        assert html_to_text(replies.kb.text("out_of_scope", lang, question=message))[:20] not in out
        assert store.unanswered_questions(days=1) == []
    finally:
        store.close()


@pytest.mark.parametrize("message", ["wkwk", "wkwkwk", "haha", "hahahaha", "😂", "wkwk haha"])
def test_laughter_gets_a_friendly_line_and_never_reaches_the_inbox(
    replies: Replies, tmp_path: Path, message: str
) -> None:
    store = Store.open(Settings(data_dir=tmp_path / "data"))
    try:
        out = chat(replies, [message, "/inbox"], store=store)
        assert replies.kb.text("smalltalk_laugh", "id") in out
        assert replies.kb.text("inbox_empty", "id") in out
        assert store.unanswered_questions(days=1) == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("asdfgh", "out_of_scope"),
        ("customer", "out_of_scope"),  # a loanword Indonesian salespeople use as often
        ("kjdfg customer sdfkj", "out_of_scope"),
        ("a", "out_of_scope"),
        ("i", "out_of_scope"),
        ("p", "smalltalk_greeting"),
        ("123!", "smalltalk_test"),
        ("ok", "smalltalk_ack"),
        ("wkwkwk", "smalltalk_laugh"),
    ],
)
def test_a_message_without_language_is_answered_in_the_chats_language(
    replies: Replies, message: str, key: str
) -> None:
    def first_line(lang: str) -> str:
        return html_to_text(replies.kb.text(key, lang, question=message)).splitlines()[0]

    assert first_line("id") in chat(replies, [message])  # BOT_LANGUAGE is Indonesian
    english = chat(replies, ["/lang en", message])
    assert first_line("en") in english and first_line("id") not in english


def test_small_talk_answers_in_the_users_language(replies: Replies) -> None:
    assert "For example" in chat(replies, ["who are you?"])
    assert "Contoh" in chat(replies, ["kamu siapa?"])


def test_a_question_starting_with_a_greeting_is_still_a_question(replies: Replies) -> None:
    out = chat(replies, ["halo, klien saya ngancam putus kontrak kalau saya gak datang besok"])
    assert title(replies, "kerjasama-ancaman") in out


def test_private_life_is_offered_as_maybe_never_told(replies: Replies, tmp_path: Path) -> None:
    (record,) = ask_json(tmp_path, "kado ultah buat pacar")
    assert record["matches"] == []
    out = chat(replies, ["kado ultah buat pacar"])
    assert "mungkin cerita ini cocok" in out
    assert "Tampilkan ceritanya" in out and "Semua cerita" in out
    assert "Pelajaran:" not in out  # not told
    shown = chat(replies, ["kado ultah buat pacar", "1"])  # [1] shows it on request
    assert "Pelajaran:" in shown
    maybe = replies.matcher.ask("kado ultah buat pacar").maybe
    assert maybe is not None
    lesson = maybe.story.lessons[maybe.lesson].id  # the lesson that fitted comes first
    assert lesson[:40] in " ".join(shown.split())


@pytest.mark.parametrize(
    "question",
    [
        "anak saya sering bolos sekolah",
        "my son keeps skipping school",
        "tetangga saya marah2 terus",
    ],
)
def test_ones_own_children_and_neighbours_are_private_life(question: str, tmp_path: Path) -> None:
    (record,) = ask_json(tmp_path, question)
    assert record["matches"] == []  # a child skipping school is not a technician's absence


def test_a_customers_child_is_still_about_the_customer(tmp_path: Path) -> None:
    (record,) = ask_json(tmp_path, "anak klien saya ultah minggu depan, perlu kasih kado?")
    assert record["matches"] and record["matches"][0]["id"] == "kado-ultah-pelanggan"


@pytest.mark.parametrize(
    "question",
    [
        "atasan saya marah",
        "my manager keeps yelling at me",
        "manajer baru galak bgt",
        "ribut dengan atasan",  # with the boss, not turning to him
    ],
)
def test_a_brief_message_about_ones_own_boss_is_offered_never_told(
    question: str, replies: Replies, tmp_path: Path
) -> None:
    (record,) = ask_json(tmp_path, question)
    assert record["matches"] == []  # 000's angry one is the customer; its boss is the calm one
    assert "Pelajaran:" not in chat(replies, [question])


@pytest.mark.parametrize(
    "question",
    ["eskalasi ke atasan", "hand it over to my manager", "klien marah ke bos saya"],
)
def test_turning_to_the_boss_or_an_angry_customer_is_still_story_000(
    question: str, tmp_path: Path
) -> None:
    (record,) = ask_json(tmp_path, question)
    assert record["matches"] and record["matches"][0]["id"] == "kerjasama-ancaman"


def test_a_gift_to_an_official_comes_with_the_gratifikasi_caution(replies: Replies) -> None:
    out = chat(replies, ["mau kasih hadiah ke pejabat dinas klien kita, enaknya apa?"])
    assert "gratifikasi" in out and "KPK" in out
    out_en = chat(
        replies, ["a gift for the government official who is our client's decision maker"]
    )
    assert "gratifikasi" in out_en and "KPK" in out_en


@pytest.mark.parametrize(
    "question",
    [
        # the heads and offices of the state by their everyday short names
        "kadis ultah minggu dpn, sy mau antar kado langsung ke rumahnya",
        "The head of the provincial agency has a birthday next week, I'll bring him a gift",
    ],
)
def test_a_birthday_gift_for_an_official_named_briefly_carries_the_caution(
    replies: Replies, question: str
) -> None:
    out = chat(replies, [question])
    assert "gratifikasi" in out and "KPK" in out


@pytest.mark.parametrize(
    "question",
    [
        "klien gw suka banget keroncong, gw mau cariin piringan hitam langka buat dia, "
        "kesannya nyogok gak sih?",
        "My client collects vintage fountain pens, I want to find him a rare one. Would that "
        "look like a bribe?",
    ],
)
def test_a_gift_feared_to_look_like_a_bribe_gets_the_passion_story_and_its_caution(
    replies: Replies, question: str
) -> None:
    """The post says the wayang cost little and no money was involved: a salesperson who
    fears a gift for a client's passion looks like a bribe is told that story, with the
    caution on gifts and bribes in its first message."""
    answer, reply = replies.answer(question)
    assert answer.best is not None and answer.best.story.id == "wayang-bima"
    assert "KPK" in reply.text


def test_a_private_clients_gift_or_invitation_comes_without_the_officials_caution(
    replies: Replies,
) -> None:
    """The short caution speaks of civil servants: a gift for a private company's director,
    or a private customer's karaoke invitation, is told its story without it."""
    for question in (
        "direktur klien swasta hobi wayang, kasih apa ya biar berkesan?",
        "customer ngajak karaoke bareng timnya, saya ikut gak ya",
    ):
        out = chat(replies, [question])
        assert "Pelajaran" in out and "gratifikasi" not in out, question


@pytest.mark.parametrize(
    "question",
    [
        "boleh gak sih kasih hadiah ke pejabat dinas? takut kena gratifikasi",
        "is it legal to give a gift to a government official in indonesia?",
        # asking whether it is allowed asks for the gift rules, law word or not
        "boleh gak kasih parcel lebaran ke pejabat dinas klien kita?",
        "blh gk ksh parcel ke pejabat",
        "Is it allowed to give a gift to a government official?",
        "menurut UU, pacaran sama karyawan klien tempat saya onsite melanggar gak?",
    ],
)
def test_a_question_of_what_the_law_says_is_offered_never_told(
    replies: Replies, tmp_path: Path, question: str
) -> None:
    """No story is legal advice: the story may be offered, and shown on request with its
    caution, never told as the answer."""
    (record,) = ask_json(tmp_path, question)
    assert record["matches"] == []
    answer = replies.matcher.ask(question)
    assert answer.maybe is not None and answer.maybe.story.caution is not None
    shown = chat(replies, [question, "1"])
    story = answer.maybe.story
    caution = (story.caution_short or story.caution).get(answer.lang)
    assert caution[:40] in " ".join(shown.split())


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("boleh gak kasih amplop ke panitia tender biar menang?", "id"),
        ("boleh kasih parcel lebaran ke pejabat dinas?", "id"),
        ("Procurement klien BUMN minta fee 10% biar penawaran kita menang, gw harus gimana?", "id"),
        ("uang pelicin buat orang dinas biar izinnya cepet keluar", "id"),
        ("can I give the procurement officer a cut if we win the tender?", "en"),
        ("is it allowed to host a trip to Bali for a ministry official?", "en"),
        # other words for the same questions: permission, a decision bought, a kickback, the law
        ("is it ok to take the ministry's procurement head on a free trip to Bali?", "en"),
        ("Can I give a Lebaran hamper to a government official who decides on our tender?", "en"),
        ("saya mau kasih wayang ke pejabat biar tendernya menang", "id"),
        ("mau kasih hp baru ke pejabat kementerian supaya proyek kita disetujui", "id"),
        ("klien BUMN minta komisi 5% dari nilai proyek, gimana?", "id"),
        ("aman gak ngajak kepala bagian pengadaan pemda main golf weekend ini?", "id"),
        ("is giving cash to a customs officer to speed up clearance legal?", "en"),
        ("hukumnya apa kalau ngasih parcel ke klien swasta?", "id"),
        # a gift for whoever decides for a public body or a customer's organisation, tied to
        # the decision; a cut of a purchase for the person who decides it; an official asking
        ("Christmas hamper for the head of the city's IT department who signs our contract", "en"),
        ("our distributor's buyer wants a cut of every order", "en"),
        # grease money by its everyday name
        ("staf gudang klien minta uang rokok tiap kali kita kirim barang, kasih aja?", "id"),
        # refusing a fee someone asks for "without losing the project" is still the law's
        (
            "pejabat dinas minta fee 10% biar kita menang, gimana nolak tanpa kehilangan proyek?",
            "id",
        ),
        (
            "kepala bagian pengadaan RSUD minta dibeliin HP baru, katanya biar proses PO lancar",
            "id",
        ),
        ("Can I send a bottle of wine to the ministry official who approves our permit?", "en"),
        ("buyer di distributor kita minta potongan buat dia pribadi tiap order", "id"),
        # a cut of the project's cost, or a bigger share, is still a cut
        ("pejabat dinas minta jatah 5 persen dari biaya proyek", "id"),
        # any thing given to any office of the state, asked whether it is all right; a
        # percentage written as a sign; bribes by their idioms
        ("mau kasih wayang kayak pak B ke kepala dinas, aman gak?", "id"),
        ("ngasih angpao imlek ke petugas imigrasi boleh?", "id"),
        ("ajak pejabat kementerian main golf dibayarin kantor, masalah gak?", "id"),
        ("PPK nya minta jatah 10% dari nilai proyek, gimana nih", "id"),
        ("kasih uang lelah ke panitia pemeriksa barang pemda, biasa kan?", "id"),
        ("the minister's aide asks us to sponsor his daughter's wedding, is that allowed?", "en"),
        ("procurement at a state-owned company asked for money under the table, what now", "en"),
        # money an official asks for his work, hospitality we pay, a vendor's cut offered to
        # the asker, a markup passed on
        ("petugas pelabuhan minta uang biar kontainer kami didahulukan", "id"),
        ("ajak kepala dinas karaoke, semua kita yang bayar", "id"),
        ("we'd fly the ministry's procurement head to our plant, all expenses paid", "en"),
        ("vendor nawarin saya komisi pribadi kalau saya pilih produknya", "id"),
        ("buyer minta harga dimarkup, selisihnya buat dia", "id"),
        ("uang kopi buat staf kecamatan biar izinnya cepat", "id"),
        ("the procurement officer at the ministry wants a 3 percent cut of the contract", "en"),
        ("is it ok to pay a facilitation fee to speed up the permit?", "en"),
        # leave to give asked with a modal: "can I", "may we"
        ("Can I give a hamper to the procurement officer at a state-owned company?", "en"),
        ("may we send a Lebaran parcel to the ministry official who handles our permit?", "en"),
        ("pejabat BUMN minta tiket konser buat anaknya, sebagai vendor kita penuhi gak?", "id"),
        (
            "Would giving gift cards to the city council staff who pick the vendor be a problem?",
            "en",
        ),
        # how to hide it, goods an official asks for himself, grease money to be quicker, a
        # dinner the official asks us to pay, a cut asked by a ministry's man (misspelt)
        ("gimana cara ngasih amplop ke panitia lelang tanpa ketahuan", "id"),
        ("kepala sekolah negeri minta laptop gratis kalau mau pengadaan lewat kita", "id"),
        ("Our distributor wants us to pay the customs officer to speed up clearance", "en"),
        ("staf pengadaan pemprov ngajak makan malam dan minta kita yang bayar, gimana?", "id"),
        ("klien dr kementrian nanya ada fee buat saya gak? jawab apa ya", "id"),
        ("can we sponsor a trip to singapore for the procurement team of a state bank", "en"),
        # a gift so that a project or a permit goes smoothly: its purpose is a decision
        ("mau kasih jam tangan ke kabag di pemkot biar proyek lancar", "id"),
        ("kasih hadiah ke kadis biar izinnya mulus", "id"),
        ("Should I bring a gift when visiting the regent's office?", "en"),
        # a gift to an auditor who audits us: what he decides is his finding about us
        ("kasih voucher belanja ke auditor BPK yang lagi periksa proyek kita", "id"),
        ("can we send a hamper to the BPK auditor who is auditing our project?", "en"),
        # an envelope for the officer of a permit; leave asked as "gapapa"; a stay at a hotel
        # an official asks us for
        ("kasih amplop ke petugas biar izin cepet keluar, wajar gak", "id"),
        ("klien pejabat ultah, mau kirim bunga papan aja gapapa kan", "id"),
        ("klien dari kementerian minta dijemput dan diinapin di hotel bintang 5", "id"),
    ],
)
def test_bribes_and_gifts_to_officials_get_the_law_not_a_story(
    replies: Replies, tmp_path: Path, question: str, lang: str
) -> None:
    """A bribe, a kickback or a gift to an official: what the law says, calmly, never a
    confident story; a story that may still help is only offered after it."""
    (record,) = ask_json(tmp_path, question)
    assert record["matches"] == []
    out = " ".join(chat(replies, [question]).split())
    assert "KPK" in out and "12C" in out and "compliance" in out
    assert ("nasihat hukum" if lang == "id" else "no legal advice") in out
    assert ("Pelajaran:" if lang == "id" else "Lesson:") not in out


BRIBE = "boleh gak kasih amplop ke panitia tender biar menang?"


def test_a_question_of_the_law_is_answered_not_a_gap_for_the_inbox(tmp_path: Path) -> None:
    """The law reply answers the question: it counts as answered in /stats and never waits in
    the inbox, where a team lead could pick a story for a bribe."""
    kb = load_knowledge(REAL, SEEDS)
    store = Store(tmp_path / "kisah.sqlite3")
    try:
        out = chat(Replies(kb, Matcher(kb)), [BRIBE, "/stats", "/inbox"], store=store)
    finally:
        store.close()
    assert "KPK" in out
    assert "7 hari: 1 pertanyaan, 100% terjawab" in out
    assert BRIBE not in out.split("KPK", 1)[1]  # neither unanswered nor in the inbox
    assert "Inbox kosong" in out


def test_a_story_taught_for_a_question_of_the_law_is_never_told_for_it(tmp_path: Path) -> None:
    """A bribe question left unanswered before the law reply existed, and a team lead who
    picked a story for it in the inbox: the question still gets the rule, not the story."""
    kb = load_knowledge(REAL, SEEDS)
    store = Store(tmp_path / "kisah.sqlite3")
    try:
        store.record_question(  # as an older version recorded it: unanswered
            chat_id=0,
            user_id=None,
            text=BRIBE,
            lang="id",
            story_id=None,
            score=0,
            answered=False,
            source="private",
        )
        out = chat(Replies(kb, Matcher(kb)), ["/inbox", "1", BRIBE], store=store)
    finally:
        store.close()
    assert "✅ Diajarkan: “" + BRIBE + "” → Wayang Bima" in out  # the lead's pick is kept
    after = out.rsplit("💬 Tadi kamu bertanya", 1)[1]  # the asker heard back; then asks again
    again = after.split("👎 Kurang pas", 1)[1]
    assert "KPK" in again and "Pelajaran:" not in again
    assert "Wayang" not in again  # after an envelope for a tender: the rule alone


@pytest.mark.parametrize(
    ("question", "story"),
    [
        # words of the law's subjects in everyday questions: a bid, a price, one's own pay
        ("kami kasih penawaran ke panitia tender tapi kalah, gimana biar menang tahun depan?", ""),
        ("klien minta diskon 10 persen kalau order dua kali lipat", ""),
        ("komisi saya dipotong atasan bulan ini, gimana ngomongnya?", ""),
        ("per diem dinas buat teknisi di luar kota berapa yang wajar?", ""),
        ("peluang menang tender kita cuma 30 persen, lanjut gak?", ""),
        # a price cut, goods a public body buys, a decider met for the work itself
        ("our distributor's buyer wants a price cut on every order", ""),
        ("procurement wants us to cut our price before approving the PO", ""),
        ("kepala bagian pengadaan pemda minta penawaran laptop 50 unit, gimana bikinnya?", ""),
        ("head of IT at the client signs the contract next week, how do I prepare?", ""),
        ("perjalanan dinas bareng kepala bagian klien, gimana biar akrab?", ""),
        ("pelanggan kasih uang tip ke teknisi sebagai terima kasih, boleh diterima gak?", ""),
        ("pelanggan warung kopi minta diskon, uang kembaliannya kurang", ""),
        ("how can I use the trip to connect with the procurement head?", ""),
        # a state client's price, discount or sales target: the price of our work, no cut
        ("klien dari dinas kesehatan komplain fee instalasi kami kemahalan, gimana?", ""),
        ("our government client says our consulting fee is too high, how do I handle it?", ""),
        ("klien BUMN minta diskon 10 persen untuk perpanjangan kontrak, gimana?", ""),
        ("target penjualan ke instansi pemerintah naik 20 persen tahun ini, tips?", ""),
        # a wedding's envelope, the company's anti-bribery training, a fine by the rules
        ("amplop kondangan anak klien, pantasnya isi berapa?", ""),
        ("materi apa yang penting buat pelatihan anti suap tim sales?", ""),
        ("polisi minta kami bayar denda tilang truk pengiriman, gimana prosesnya?", ""),
        # an envelope to post a contract in, an office's order, an official express service
        ("amplop coklat buat kirim dokumen kontrak ke customer ukuran berapa ya", ""),
        ("dinas pendidikan minta laptop 200 unit buat sekolah, stok kita cukup gak ya", ""),
        ("bayar biaya percepatan resmi paspor di imigrasi berapa", ""),
        # a government office booking rooms at the hotel we sell
        ("dinas pariwisata minta harga kamar hotel untuk rombongan 40 orang", ""),
        # a business trip is no office of the state
        (
            "saya lagi perjalanan dinas, customer minta ketemu besok di kantornya padahal saya "
            "di luar kota",
            "kerjasama-ancaman",
        ),
        # a customer asking for cashback or a fee waived, one's own commission: no kickback
        ("customer minta cashback karena barangnya telat datang", ""),
        ("customer minta fee pengiriman digratiskan", ""),
        ("sales kita minta komisi dibayar di muka sebelum customer bayar, gimana", ""),
        ("boleh gak kirim penawaran harga ke pejabat dinas lewat email?", ""),
        # what is sent so that a permit goes smoothly is the work itself, not a gift
        ("kirim dokumen lengkap ke pemkot supaya izinnya lancar", ""),
        ("send the documents to the ministry so the permit goes smoothly", ""),
        # an audit with no gift is work, not a question of the law
        ("auditor BPK lagi periksa proyek kita, dokumen apa aja yang perlu disiapin?", ""),
        (
            "We missed a custom order for a bakery client's opening. Will a small gift with my "
            "apology look like I'm trying to buy forgiveness?",
            "",
        ),
        (
            "how can I make the ministry official who manages our account trust us again "
            "after our sales rep let him down?",
            "wayang-bima",
        ),
    ],
)
def test_a_question_that_only_shares_words_with_the_law_gets_no_law_reply(
    replies: Replies, question: str, story: str
) -> None:
    # Which story they get is the content's quality: eval/regression-questions.yaml.
    answer, reply = replies.answer(question)
    assert answer.legal is None and "⚖️" not in reply.text


@pytest.mark.parametrize(
    "question",
    [
        "can I give a government official a gift card for christmas?",
        "mau kasih hampers lebaran ke kepala dinas yang jadi customer kita, boleh?",
    ],
)
def test_a_story_offered_after_the_law_opens_on_a_lesson_without_gifts(
    replies: Replies, question: str
) -> None:
    """The legal reply offers a story as a way to win someone over without gifts: opened,
    it shows first a lesson that is not about giving one."""
    out = chat(replies, [question, "1"])
    assert "KPK" in out
    shown = out.split("💡", 1)[1].split("\n", 1)[0]
    lang = "en" if "Lesson:" in shown else "id"
    gift_lessons = [
        " ".join(lesson.get(lang).split())[:40]
        for story in replies.kb.stories
        for lesson in story.lessons
        if any(w in lesson.get(lang).lower() for w in ("gift", "hadiah", "bingkisan", "kado"))
    ]
    assert gift_lessons and not any(text in shown for text in gift_lessons), shown


@pytest.mark.parametrize(
    "question",
    [
        "pejabat dinas minta fee 10 persen dari nilai proyek gimana",
        "beliin wayang buat kepala dinas biar proyek lancar boleh gak",
        "the head of purchasing at our private client hinted he wants an envelope",
    ],
)
def test_after_a_bribe_or_a_cut_the_law_reply_offers_no_story(
    replies: Replies, question: str
) -> None:
    """A story of winning someone over, offered right after "this is bribery", reads as a way
    round the rule: after a cut, an envelope or a gift tied to a decision, the rule alone."""
    out = chat(replies, [question])
    assert "KPK" in out
    assert "cerita ini" not in out and "this story" not in out and "Wayang" not in out


def test_the_law_reply_offers_a_story_as_maybe_with_its_caution(replies: Replies) -> None:
    out = chat(replies, ["boleh kasih parcel lebaran ke pejabat dinas?", "1"])
    assert "KPK" in out and "mungkin cerita ini membantu" in out
    wayang = replies.kb.by_id("wayang-bima")
    assert wayang is not None and wayang.caution_short is not None
    assert wayang.caution_short.id[:40] in " ".join(out.split())  # shown on request, cautioned


def test_an_english_keyword_without_function_words_is_answered_in_english(
    tmp_path: Path,
) -> None:
    records = ask_json(tmp_path, "sincere apology", "cara minta maaf yang tulus")
    assert [r["lang"] for r in records] == ["en", "id"]
    # words both languages' stories use, but none of them Indonesian
    records = ask_json(tmp_path, "going the extra mile", "onsite romance", "kado ultah pelanggan")
    assert [r["lang"] for r in records] == ["en", "en", "id"]


def test_the_first_message_leads_with_the_lesson_and_reads_in_a_glance(replies: Replies) -> None:
    """Lesson first, then the title and the short telling (no "penulis"), then nothing more
    than one caution line; within the word budget on the dev set's in-scope questions."""
    out = chat(replies, ["klien nutup telpon sambil marah, telpon balik sekarang atau nunggu?"])
    answer = out.split("💡 Pelajaran: ", 1)[1].split("Ketik angka", 1)[0]
    threat = replies.kb.by_id("kerjasama-ancaman")
    assert threat is not None and threat.summary is not None
    assert answer.startswith(threat.lessons[1].id[:40])  # wait until he cools down
    assert answer.index(threat.title.id) < answer.index(threat.summary.id[:40])
    assert threat.story.id[:40] not in answer and "penulis" not in answer.lower()
    result = evaluate(replies.matcher, load_items(DEV), replies)
    for lang in ("id", "en"):
        words = sorted(r.words for r in result.in_scope if r.words and r.lang == lang)
        assert statistics.median(words) <= 90, lang
        assert words[math.ceil(0.9 * len(words)) - 1] <= 120, lang


@pytest.mark.parametrize(
    ("question", "shown"),
    [
        ("pelanggan setia kami di telco sering bantu, gimana biar dia bawa pelanggan baru", False),
        ("mau kasih kado ultah ke kepala dinas yang jadi pelanggan prioritas", True),
        ("teknisi kami sering gak masuk, kata customer dia habis diputus pacarnya", True),
        ("customer gak mau teknisinya diganti waktu cuti", False),
        # "loves" a technician's service, a breakfast chat: no romance, no gift
        ("our client loves the technician we placed there and won't let him go on leave", False),
        ("pas makan pagi klien cerita soal hobinya, gimana lanjutinnya?", False),
        ("teknisi kami naksir staf klien, gimana?", True),
        ("staf onsite kami jatuh cinta sama karyawan klien", True),
        ("my technician is in love with the client's secretary", True),
        ("teknisi kita yg onsite di client lagi heartbroken, absen mulu, what to do", True),
        # a wedding in the family is no romance at work; being left for another's wedding is
        ("teknisi kami sering izin, katanya lagi ngurus pernikahan kakaknya", False),
        ("teknisi kami sering bolos, katanya ditinggal nikah pacarnya", True),
        # a client delighted with a consultant (the seed's metaphor) is no romance; a business
        # trip ("dinas bareng klien") names no official
        ("klien bilang mereka jatuh cinta sama teknisi kita, tapi dia harus rotasi", False),
        ("udah dua hari dinas bareng klien tapi belum akrab juga, nyerah aja?", False),
        # a gift to a private customer: the gratifikasi caution is about officials
        (
            "kado ultah buat pelanggan prioritas yang punya toko, kirim kurir atau antar sendiri?",
            False,
        ),
        (
            "my key customer runs a private clinic, should I deliver his birthday present myself?",
            False,
        ),
    ],
)
def test_a_caution_is_shown_only_where_the_question_touches_it(
    replies: Replies, question: str, shown: bool
) -> None:
    answer, _ = replies.answer(question)
    assert answer.best is not None and answer.best.story.caution is not None
    out = chat(replies, [question])
    assert ("⚠️" in out) is shown
    full = chat(replies, [question, "1"])  # the full story always carries the whole caution
    assert answer.best.story.caution.get(answer.lang)[:40] in " ".join(full.split())


def test_a_link_is_an_address_not_a_situation(tmp_path: Path) -> None:
    """A pasted link's words ("klien-marah" in a path) tell no story; the words around a link
    still do."""
    alone, around = ask_json(
        tmp_path,
        "https://example.com/klien-marah-ngancam",
        "klien marah ngancam putus kontrak, ini chatnya https://wa.me/123 gimana",
    )
    assert alone["matches"] == []
    assert [m["id"] for m in around["matches"]][:1] == ["kerjasama-ancaman"]


def test_a_machines_commissioning_is_no_commission_to_negotiate(tmp_path: Path) -> None:
    """Bargaining over a commission is a subject no story covers; a machine being
    commissioned is the setting of an angry customer's story, not pay."""
    pay, machine = ask_json(
        tmp_path,
        "customer mau nego komisi saya turun, gimana ya?",
        "klien ngamuk karena saya gak bisa dateng, saya lagi commissioning mesin di pabrik "
        "lain, bos mau langsung nego sekarang, atau tunggu klien tenang dulu?",
    )
    assert not any(m["score"] >= DEFAULT_THRESHOLD for m in pay["matches"])
    assert machine["matches"] and machine["matches"][0]["seed"].startswith("000")
    assert machine["matches"][0]["score"] >= DEFAULT_THRESHOLD


def test_the_legal_team_is_people_at_work_not_a_question_of_the_law(
    replies: Replies, tmp_path: Path
) -> None:
    """ "Tim legal" names a department: a romance with someone there is story 004's, while a
    question that also asks whether a gift to an official is allowed still gets the law."""
    romance, permission = ask_json(
        tmp_path,
        "anak buah saya yang ditempatkan di kantor customer pacaran sama orang tim legal "
        "mereka, kerjaannya jadi keteteran, gimana negurnya?",
        "udah tanya tim legal belum ya, sebenernya boleh gak kasih parcel lebaran ke pejabat?",
    )
    assert romance["matches"] and romance["matches"][0]["seed"].startswith("004")
    (in_law,) = ask_json(
        tmp_path,
        "how do I calm down my father-in-law, who is also my client, now that he is angry "
        "I refused to visit him tomorrow?",
    )
    assert in_law["matches"] and in_law["matches"][0]["seed"].startswith("000")
    assert romance["matches"][0]["score"] >= DEFAULT_THRESHOLD
    assert permission["matches"] == []
    out = " ".join(chat(replies, [permission["question"]]).split())
    assert "KPK" in out and "nasihat hukum" in out


@pytest.mark.parametrize(
    ("question", "seed"),
    [
        ("klienku nesu njaluk aku teko sesuk, aku lagi repot banget, piye?", "000"),
        ("pelangganku lali pesenane ora tak kirim, saiki nesu, kudu piye?", "003"),
        ("klien ambek soalna abdi teu tiasa datang isukan, kumaha?", "000"),
    ],
)
def test_javanese_and_sundanese_words_mixed_in_are_read(
    tmp_path: Path, question: str, seed: str
) -> None:
    """Everyday Javanese and Sundanese words mixed into Indonesian ("nesu", "lali", "piye",
    "kumaha") are read as their Indonesian words, so the situation finds its story."""
    (record,) = ask_json(tmp_path, question)
    assert record["lang"] == "id"
    assert record["matches"] and record["matches"][0]["seed"].startswith(seed)
    assert record["matches"][0]["score"] >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("dressed", "plain"),
    [
        ("pelanggan telah kecewa, bagaimana?", "pelanggan kecewa, bagaimana?"),
        ("saya telah lupa suatu pesanan", "saya lupa pesanan"),
        (
            "honestly the customer is disappointed, thoughts?",
            "the customer is disappointed, thoughts?",
        ),
        ("I honestly forgot an order myself", "I forgot an order"),
        # "quite" is not "quit" (resigning, a subject no story covers)
        (
            "the customer is quite disappointed with us, what now?",
            "the customer is disappointed with us, what now?",
        ),
    ],
)
def test_function_words_of_the_formal_register_weigh_nothing(
    tmp_path: Path, dressed: str, plain: str
) -> None:
    """ "Telah", "suatu", "honestly", "myself" say how a thing is said, not what happened:
    the question is told the story its plain form is, about as confidently (they weighed
    as rare off-topic words, and such questions were refused)."""
    with_words, without = ask_json(tmp_path, dressed, plain)
    assert without["matches"], plain
    assert with_words["matches"] and with_words["matches"][0]["id"] == without["matches"][0]["id"]
    assert with_words["matches"][0]["score"] >= without["matches"][0]["score"] - 5


def test_a_souvenir_from_abroad_is_no_gift_to_an_official(replies: Replies, tmp_path: Path) -> None:
    """ "Luar negeri" is abroad, not the state ("pegawai negeri"): may I bring a loyal customer
    a souvenir from abroad is story 002's, while a parcel for a civil servant gets the law."""
    abroad, servant = ask_json(
        tmp_path,
        "boleh gak kasih oleh-oleh dari luar negeri buat pelanggan setia yang ulang tahun?",
        "boleh gak kasih parcel lebaran ke pegawai negeri?",
    )
    assert abroad["matches"] and abroad["matches"][0]["seed"].startswith("002")
    assert servant["matches"] == []
    assert "KPK" in chat(replies, [servant["question"]])


@pytest.mark.parametrize(
    ("dressed", "plain"),
    [
        # other trades' customers, other kinds of order, the short form of government
        (
            "the reseller is upset because i never processed his order",
            "the customer is upset because i never processed his order",
        ),
        (
            "i forgot a customer's reservation and she is upset, how do i apologise",
            "i forgot a customer's order and she is upset, how do i apologise",
        ),
        (
            "the guy at the govt office is angry because our old sales rep promised things "
            "we never delivered",
            "the guy at the government office is angry because our old sales rep promised "
            "things we never delivered",
        ),
    ],
)
def test_other_names_for_the_same_role_find_the_same_story(
    tmp_path: Path, dressed: str, plain: str
) -> None:
    """A reseller or a dealer is a customer, a reservation an order, "govt" the government:
    told in those words, the situation finds its story about as surely as in the usual ones."""
    other, usual = ask_json(tmp_path, dressed, plain)
    assert usual["matches"], plain
    assert other["matches"] and other["matches"][0]["id"] == usual["matches"][0]["id"]
    assert other["matches"][0]["score"] >= usual["matches"][0]["score"] - 15


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("buyer di distributor kita minta potongan buat dia pribadi tiap order", "swasta"),
        ("the head of purchasing at our private client hinted he wants an envelope", "private"),
        ("boleh gak kasih amplop ke panitia tender biar menang?", "Pemberi bisa dipidana"),
        ("Procurement klien BUMN minta fee 10% biar penawaran kita menang", "Pemberi bisa"),
    ],
)
def test_the_law_reply_leads_with_the_rule_of_whoever_receives(
    replies: Replies, question: str, first: str
) -> None:
    """A private company's buyer: its code of conduct first, the state's law after; an
    official or a tender: the anti-corruption law first. Short enough to read at a glance."""
    out = " ".join(chat(replies, [question]).split())
    law = out[out.index("⚖️") :]
    assert law.index(first) < law.index("KPK")
    assert len(law.split("Ketik angka")[0].split()) <= 120  # issue 17: p90 of a first message
    if first in ("swasta", "private"):  # bribery outside government is a crime too
        assert "11/1980" in law


@pytest.mark.parametrize(
    "question",
    [
        "Our client asked for the safety datasheet of the paint we sell, where do I usually "
        "find it?",
        "Tim gudang kami kelewatan kiriman rutin ke kafe langganan, pemiliknya kesal. Apa perlu "
        "saya kirim sesuatu selain minta maaf?",
    ],
)
@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", " Thanks in advance, sorry for the long message."),
        ("Halo kak, ", " Mohon sarannya, terima kasih."),
        ("Pak, ", " Makasih banyak ya kak sebelumnya, maaf kalau panjang ceritanya."),
    ],
)
def test_pleasantries_around_a_question_do_not_change_its_answer(
    tmp_path: Path, question: str, before: str, after: str
) -> None:
    """A greeting before and thanks, "mohon sarannya" or "maaf kalau panjang" after say
    nothing of the situation: their words ("maaf", "saran") must not tell a story (the
    apology one) or change the one told."""
    bare, polite = ask_json(tmp_path, question, before + question + after)
    assert [m["id"] for m in polite["matches"]] == [m["id"] for m in bare["matches"]]
    assert [m["score"] for m in polite["matches"]] == [m["score"] for m in bare["matches"]]


@pytest.mark.parametrize(
    ("keywords", "story_id"),
    [("wayang", "wayang-bima"), ("masih mau kerjasama gak", "kerjasama-ancaman")],
)
def test_a_few_keywords_find_their_story(tmp_path: Path, keywords: str, story_id: str) -> None:
    """A message of a few keywords tells no situation: it is judged by its words, and a
    story's own words find it, though the model fitted on long situations would doubt them."""
    (record,) = ask_json(tmp_path, keywords)
    assert record["matches"] and record["matches"][0]["id"] == story_id


@pytest.mark.parametrize(
    "question",
    [
        "aku salah kasih harga ke customer, udah terlanjur",
        "aku telat kirim barang ke reseller, dia ngomel",
    ],
)
def test_a_mistake_with_a_customer_other_than_a_forgotten_order_finds_the_apology(
    tmp_path: Path, question: str
) -> None:
    """A wrong price or a late delivery is the mistake the apology story's situation names
    ("a mistake with a customer, small or fatal"): told that story, not refused."""
    (record,) = ask_json(tmp_path, question)
    assert [m["id"] for m in record["matches"]][:1] == ["lupa-pesanan-maaf"]


@pytest.mark.parametrize(
    "question",
    ["saya mau resign, gimana bilangnya ke manager", "gaji sales naik gimana mintanya"],
)
def test_a_brief_message_about_a_subject_no_story_covers_is_not_told(
    tmp_path: Path, question: str
) -> None:
    """A message of a few words is judged by its words, but a subject next to the stories
    (resigning, a salary) still counts against it: no story is told."""
    (record,) = ask_json(tmp_path, question)
    assert record["matches"] == []


def test_the_partnership_question_in_english_finds_its_story(tmp_path: Path) -> None:
    """The post's own line, "do you still want to work with us?", told in English as the
    Indonesian "masih mau kerjasama gak" is: "work with us" is the partnership."""
    (record,) = ask_json(tmp_path, 'customer said "do you still want to work with us or not?"')
    assert record["matches"] and record["matches"][0]["id"] == "kerjasama-ancaman"
