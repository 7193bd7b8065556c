"""Normalisation: what users type must meet what the stories say."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.normalize import (
    DEFAULT_TABLE,
    content_tokens,
    get_normalizer,
    load_table,
    normalize,
    tokens,
)
from bot.engine.wordtable import NormalizeTableError


@pytest.mark.parametrize(
    ("informal", "standard"),
    [
        ("gak", "tidak"),
        ("nggak", "tidak"),
        ("gk", "tidak"),
        ("enggak", "tidak"),
        ("gmn", "bagaimana"),
        ("gimana", "bagaimana"),
        ("udh", "sudah"),
        ("udah", "sudah"),
        ("yg", "yang"),
        ("blm", "belum"),
        ("dgn", "dengan"),
        ("krn", "karena"),
        ("gw", "saya"),
        ("aku", "saya"),
        ("kalo", "kalau"),
    ],
)
def test_slang_becomes_standard_indonesian(informal: str, standard: str) -> None:
    assert normalize(informal, "id") == normalize(standard, "id")


def test_customer_words_in_both_languages_meet() -> None:
    forms = ["cust", "costumer", "kustomer", "customer", "pelanggan", "klien", "client", "nasabah"]
    assert len({normalize(f, "id") for f in forms}) == 1
    assert normalize("customers", "en") == normalize("pelanggan", "id")


def test_apologies_meet_across_languages() -> None:
    ours = normalize("minta maaf", "id")
    assert normalize("sorry", "en") == ours
    assert normalize("apologize", "en") == ours
    assert normalize("apologizing", "en") == ours
    assert normalize("mohon maaf", "id") == ours


def test_punctuation_case_and_repeated_letters() -> None:
    assert normalize("TOLONG!!! Pleaseee...", "id") == normalize("tolong please", "id")
    assert normalize("bangettt", "id") == normalize("banget", "id")
    assert normalize("gakkk", "id") == normalize("gak", "id")
    # a real double letter survives
    assert normalize("maaf", "id") == normalize("maaaaf", "id")


def test_particles_are_dropped() -> None:
    assert normalize("gimana dong sih, aja deh", "id") == normalize("gimana", "id")
    assert "nih" not in tokens("klien marah nih kok", "id")


def test_reduplication_collapses() -> None:
    assert tokens("teman-teman", "id") == tokens("teman", "id")
    assert tokens("temen2", "id") == tokens("teman", "id")


def test_a_doubled_word_with_its_own_meaning_stays_whole() -> None:
    # "oleh-oleh" is a souvenir, "oleh" alone a preposition (a stopword)
    gift = tokens("hadiah", "id")
    assert tokens("oleh-oleh", "id") == gift
    assert tokens("oleh2", "id") == gift
    assert tokens("oleh oleh", "id") == gift


@pytest.mark.parametrize(
    ("informal", "standard", "lang"),
    [
        ("jg", "juga", "id"),
        ("ngegas", "marah", "id"),
        ("klien ngambek", "klien marah", "id"),
        ("oper ke manajer", "serahkan ke manajer", "id"),
        ("nyampein kado", "mengantar kado", "id"),
        ("lebay", "berlebihan", "id"),
        ("gede", "besar", "id"),
        ("bokap", "ayah", "id"),
        ("jogja", "yogyakarta", "id"),
        ("pengrajin", "perajin", "id"),
        ("penatah wayang", "perajin wayang", "id"),
        ("males", "malas", "id"),
        ("maksudnya apa", "artinya apa", "id"),
        ("masukan dari klien", "saran dari klien", "id"),
        ("dicuekin klien", "diabaikan klien", "id"),
        ("ulang taun pelanggan", "ulang tahun pelanggan", "id"),  # "taun" is in the dictionary
        ("bales chat klien", "balas chat klien", "id"),
        ("got dumped", "heartbroken", "en"),
        ("slacking off", "lazy", "en"),
        ("he sulks", "he is angry", "en"),
        ("I messed up", "I made a mistake", "en"),
        ("a cold shoulder from the client", "ignored by the client", "en"),
        ("the mayor", "the city government", "en"),
    ],
)
def test_informal_words_meet_their_standard_form(informal: str, standard: str, lang: str) -> None:
    assert content_tokens(informal, lang) == content_tokens(standard, lang)


def test_work_words_are_recognised_in_either_language() -> None:
    n = get_normalizer()
    for text, lang in (("pelanggan", "id"), ("klien", "id"), ("atasan", "id"), ("client", "en")):
        assert all(n.is_work(w) for w in content_tokens(text, lang)), text
    for text, lang in (("football", "en"), ("lagu", "id"), ("hotel", "id"), ("kereta", "id")):
        assert not any(n.is_work(w) for w in content_tokens(text, lang)), text


@pytest.mark.parametrize(
    "forms",
    [
        ("pesenan", "pesanan", "memesan", "pesan"),
        ("ngasih", "kasih", "memberikan", "memberi"),
        ("pelayanan", "melayani", "layanan"),
        ("pekerjaan", "bekerja", "kerjaan", "kerja"),
        ("menyelesaikan", "diselesaikan", "selesai"),
        ("mendekati", "deketin", "dekat"),
        ("dibantuin", "membantu", "bantu", "bantuan"),
        ("kesalahan", "salah"),
        ("mengirim", "dikirim", "kirim"),
        ("menolak", "ditolak", "nolak", "tolak"),
        ("menelepon", "telpon", "telepon"),
        ("nunggu", "menunggu", "ditunggu", "tunggu"),
        ("mikir", "memikirkan", "pikir"),
        ("terkesan", "kesan"),
        ("pertanyaan", "ditanya", "tanya"),
    ],
)
def test_affixed_forms_meet(forms: tuple[str, ...]) -> None:
    assert len({normalize(f, "id") for f in forms}) == 1, [normalize(f, "id") for f in forms]


@pytest.mark.parametrize(
    "word",
    ["pesan", "teman", "makan", "bukan", "jalan", "bulan", "terima", "berita", "kemarin", "sedang"],
)
def test_roots_that_look_affixed_are_not_overstemmed(word: str) -> None:
    # "pesan" is not pes+an, "berita" not ber+ita, "terima" not ter+ima: kept whole.
    assert normalize(word, "id") == word


@pytest.mark.parametrize(
    "word", ["pernah", "jangan", "langkah", "mending", "lebaran", "restoran", "berangkat"]
)
def test_words_of_the_indonesian_dictionary_are_not_stripped(word: str) -> None:
    # None of these is in the table: the dictionary says "pernah" is a word, not per+nah.
    assert normalize(word, "id") == word


@pytest.mark.parametrize(
    "forms",
    [
        ("menilai", "penilaian", "nilai"),  # me+nilai: a root may begin with the nasal
        ("mengunjungi", "kunjungan", "berkunjung", "dikunjungi"),  # the stories' root wins
    ],
)
def test_affixed_forms_meet_through_the_dictionary(forms: tuple[str, ...]) -> None:
    assert len({normalize(f, "id") for f in forms}) == 1, [normalize(f, "id") for f in forms]


def test_overstemming_guard_still_strips_real_affixes() -> None:
    assert normalize("makanan", "id") == "makan"  # one suffix off, then the root is protected
    assert normalize("pesanan", "id") == "pesan"
    assert normalize("pertemanan", "id") == "teman"


def test_english_words_keep_their_letters_in_indonesian_text() -> None:
    # "director" must not lose "di-" as if it were an Indonesian prefix.
    assert normalize("director", "id").startswith("di")


def test_english_inflections_meet() -> None:
    assert normalize("threatens", "en") == normalize("threatened", "en")
    assert normalize("visiting", "en") == normalize("visit", "en")


def test_phrases_fold_to_one_concept() -> None:
    assert tokens("gak masuk", "id") == tokens("bolos", "id") == tokens("absent", "en")
    assert tokens("kerja sama", "id") == tokens("kerjasama", "id")


def test_content_tokens_drop_stopwords() -> None:
    words = content_tokens("gimana ya kalau customer saya marah banget sama saya", "id")
    assert words == [normalize("customer", "id"), normalize("marah", "id")]


def test_table_is_loaded_once() -> None:
    assert get_normalizer() is get_normalizer()


def test_table_errors_name_the_section(tmp_path: Path) -> None:
    bad = tmp_path / "normalize.yaml"
    bad.write_text("slang:\n  gak: [tidak, bukan]\n", encoding="utf-8")  # a list, not a word
    with pytest.raises(NormalizeTableError, match="slang"):
        load_table(bad)
    # A bare `no` is the word "no" (YAML 1.1 would read a truth value), so it is no error.
    fine = tmp_path / "words.yaml"
    fine.write_text("slang:\n  no: tidak\n", encoding="utf-8")
    assert load_table(fine).slang["no"] == ("tidak",)


def test_a_malformed_law_units_list_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "normalize.yaml"
    bad.write_text("law_units: tim legal\n", encoding="utf-8")  # a text, not a list
    with pytest.raises(NormalizeTableError, match="law_units"):
        load_table(bad)


def test_a_malformed_outside_subject_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "normalize.yaml"
    bad.write_text("outside:\n  price negotiation: nego\n", encoding="utf-8")
    with pytest.raises(NormalizeTableError, match="outside: price negotiation"):
        load_table(bad)


def test_default_table_is_valid() -> None:
    table = load_table(DEFAULT_TABLE)
    assert len(table.slang) >= 200
    assert "pesan" in table.no_stem


def test_indonesian_endings_on_english_words() -> None:
    assert normalize("customernya", "id") == normalize("customer", "id")
    assert normalize("meetingnya", "id") == normalize("meeting", "en")


def test_informal_nasal_prefixes() -> None:
    assert normalize("nyuruh", "id") == normalize("menyuruh", "id") == normalize("suruh", "id")
    assert normalize("ngajak", "id") == normalize("mengajak", "id") == normalize("ajak", "id")
    assert normalize("nyari", "id") == normalize("mencari", "id") == normalize("cari", "id")


def test_a_synonym_does_not_swallow_a_plain_word() -> None:
    # "kesukaan" (a favourite thing) is a hobby; "suka" (to like) is not.
    assert normalize("kesukaan", "id") == normalize("hobi", "id")
    assert normalize("suka", "id") != normalize("hobi", "id")


def test_english_and_indonesian_situations_meet() -> None:
    assert normalize("heartbroken", "en") == normalize("patah hati", "id")
    assert (
        normalize("the client insists", "en").split()[-1]
        == normalize("klien ngotot", "id").split()[-1]
    )
    assert normalize("kids", "en") == normalize("anak-anak", "id")


def test_english_contractions_meet_their_full_forms() -> None:
    """Phone typing drops or keeps apostrophes at random: both must mean the same."""
    from bot.engine.normalize import normalize as norm

    full = norm("they will stop working with us", "en")
    assert norm("they'll stop working with us", "en") == full
    assert norm("theyll stop working with us", "en") == full
    assert norm("he hasn't called", "en") == norm("he has not called", "en")


def test_english_contractions_are_not_read_as_other_words() -> None:
    # "I'll" without its apostrophe spells "ill" (sick), "we'd" spells "wed".
    assert content_tokens("I'll call the client", "en") == content_tokens(
        "I will call the client", "en"
    )
    assert content_tokens("we'd visit", "en") == content_tokens("we would visit", "en")
    assert content_tokens("I'll", "en") != content_tokens("ill", "en")


def test_english_words_that_only_look_inflected_keep_their_meaning() -> None:
    """The light stemmer and the stretched-letter collapse must not turn an everyday word
    into a concept: "soon" is not "son" (a child), "quite" not "quit" (resigning), the
    "affairs" of a government not an affair, "promising" not a promise."""
    assert content_tokens("reply soon", "en") == content_tokens("reply", "en")
    assert content_tokens("quite upset", "en") == content_tokens("upset", "en")
    assert normalize("soon", "en") != normalize("son", "en")
    assert normalize("government affairs", "en") != normalize("government affair", "en")
    assert normalize("a promising lead", "en") != normalize("a promise lead", "en")
    assert normalize("a new customer", "en") != normalize("a news customer", "en")
    # "time" is not the Indonesian "tim" (a team), which it became without its "e"
    assert normalize("time", "en") != normalize("tim", "id")
    assert normalize("quit", "en") == normalize("resign", "en")  # the real word still folds


def test_indonesian_words_that_only_look_affixed_keep_their_meaning() -> None:
    """A city is not a former subordinate ("Bekasi" is not "bekas"), a nurse is not
    caretaking, to emphasise is not to pressure; the real words still fold."""
    assert normalize("bekasi", "id") != normalize("mantan", "id")
    assert normalize("bekas anak buah", "id") == normalize("mantan anak buah", "id")
    assert normalize("perawat", "id") != normalize("merawat", "id")
    assert normalize("menekankan", "id") != normalize("tekanan", "id")


def test_english_idioms_are_read_whole() -> None:
    """Folded word by word, "in order to" names an order (story 003's forgotten one) and
    "give up" a gift; read whole they are a purpose and a surrender."""
    assert content_tokens("in order to keep the client", "en") == content_tokens("client", "en")
    assert normalize("don't give up", "en") != normalize("don't give", "en")
    assert content_tokens("give up", "en") == content_tokens("menyerah", "id")


def test_indonesian_idioms_are_read_whole() -> None:
    """ "Kasih tahu" tells and gives nothing (the word of a gift), "keras kepala" is a
    stubborn customer, not a boss; "beritahu" is not stripped to nonsense."""
    give = normalize("kasih", "id")
    assert give not in content_tokens("gw udah kasih tau klien", "id")
    assert content_tokens("beritahu atasan", "id") == content_tokens("kasih tahu atasan", "id")
    assert normalize("kepala", "id") not in content_tokens("klien keras kepala", "id")
    assert content_tokens("klien keras kepala", "id") == content_tokens("klien ngotot", "id")


def test_yaml_truth_words_in_the_table_stay_words() -> None:
    # YAML 1.1 reads a bare on/off/no/yes as a truth value; in a word list it is a word.
    assert content_tokens("on", "en") == [] and content_tokens("no", "en") == []


def test_a_slang_word_is_not_reached_by_stripping_a_prefix() -> None:
    # "kejadian" is ke-jadi-an (an event); read as "jadian" (a couple), "nothing happened"
    # told a message about broken promises that it was about a romance.
    assert tokens("gak ada yg kejadian", "id") == tokens("tidak ada yang jadi", "id")
    assert tokens("mereka jadian", "id") != tokens("mereka jadi", "id")
