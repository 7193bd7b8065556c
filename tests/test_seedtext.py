"""The full story shows the author's text only: blog forms, sidebars and comments are gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.model import KnowledgeBase, Story, Text
from bot.content.seedtext import clean_seed_text, load_seed_text

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# Lines of blog furniture found in the seeds; none may survive cleaning.
DEBRIS = [
    "Leave a Reply",
    "Fill in your details",
    "You are commenting using",
    "Connecting to %s",
    "bloggers like this",
    "WordPress.com Logo",
    "Log Out",
    "Postingan populer dari blog ini",
    "Gembolan",
    "Frankly Speaking",
    "On your mark, get set",
    "TAGS",
    "Recent Post",
    "Komentar Terbaru",
    "thoughts on",
    "ditinggal nikah sama pacar?? wewww",  # a reader's comment on post 004
    "Tinggalkan komentar",
]
DEBRIS_LINES = {"Komentar", "Author", "Search", "Actions", "Information", "-"}

# (file, first words of the story, last words of the story) for each seed.
SEED_TEXTS = [
    ("000_14f30f37fa898fbe.txt", "Masih Mau Kerjasama Gak?", "untuk meeting besok."),
    ("001_c5d802107cc0beea.txt", "Memenangkan Hati Customer [2]", "di PT X X tersebut.."),
    ("002_2fcabcac5da554e5.txt", "Sunday, April 27, 2008", "Salam.."),
    (
        "003_2a1cc934e1029e1c.txt",
        "Customer oh customer....",
        "only seconds to lose one.",
    ),
    (
        "004_6536ab7fc6444bd6.txt",
        "Jatuh Cinta dengan Customer?",
        "ada yang punya pengalaman serupa.?",
    ),
]


@pytest.mark.parametrize(("name", "first", "last"), SEED_TEXTS)
def test_each_seed_keeps_the_story_and_drops_the_debris(name: str, first: str, last: str) -> None:
    raw = (SEEDS / name).read_text(encoding="utf-8")
    cleaned = clean_seed_text(raw)
    assert cleaned.startswith(first)
    assert cleaned.endswith(last)
    for debris in DEBRIS:
        assert debris not in cleaned, f"{name}: {debris!r} survived"
    lines = {line.strip() for line in cleaned.splitlines()}
    assert not lines & DEBRIS_LINES, f"{name}: {lines & DEBRIS_LINES}"
    assert "\n\n\n" not in cleaned
    # Cleaning only removes: every kept paragraph is in the original (modulo spacing).
    squeezed = " ".join(raw.split())
    for paragraph in cleaned.split("\n\n"):
        assert " ".join(paragraph.split()) in squeezed


def test_story_body_is_kept_whole() -> None:
    raw = (SEEDS / "001_c5d802107cc0beea.txt").read_text(encoding="utf-8")
    cleaned = clean_seed_text(raw)
    assert "Ternyata Pak B ini senang sekali wayang" in cleaned
    assert "Gramedia Matraman" in cleaned
    assert len(cleaned) > 0.8 * len(raw.split("Actions")[0].strip())


def test_cut_happens_at_the_first_marker_only_on_whole_lines() -> None:
    raw = (
        "Judul\n\nKomentar customer itu pedas, tapi saya diam.\n\nAuthor of the deal was me."
        "\n\nLeave a Reply\n\nNice post!\n"
    )
    cleaned = clean_seed_text(raw)
    assert "Komentar customer itu pedas" in cleaned
    assert "Author of the deal was me." in cleaned
    assert "Nice post" not in cleaned
    assert "Leave a Reply" not in cleaned


def test_tags_line_is_cut_only_in_capitals() -> None:
    assert clean_seed_text("Story.\n\nTAGS Customer kerja sama\n\n-\n\nAuthor") == "Story."
    assert clean_seed_text("Tags of the products were wrong.") == "Tags of the products were wrong."


@pytest.mark.parametrize(
    "tail",
    [
        "3 thoughts on “A title”\n\n  1. Great!",
        "One thought on “A title”",
        "Komentar\n\nPostingan populer dari blog ini\n\nLain",
        "Tinggalkan komentar",
        "Actions\n\nInformation\n\nLeave a Reply",
    ],
)
def test_known_tails_are_cut(tail: str) -> None:
    assert clean_seed_text(f"Paragraf satu.\n\nParagraf dua.\n\n{tail}") == (
        "Paragraf satu.\n\nParagraf dua."
    )


def test_debris_lines_before_the_tail_are_dropped_and_blank_runs_merged() -> None:
    raw = "Satu.\n\n\n\n-\n\n%d bloggers like this:\n\nDua.\r\nTiga  kata.\n\n\n"
    assert clean_seed_text(raw) == "Satu.\n\nDua.\nTiga kata."


@pytest.mark.parametrize(
    "byline",
    [
        "Posted by Rina at 10:15 AM",
        "Diposting oleh Pak Budi pada 14 Maret 2011",
        "Written by admin",
        "Posted on March 14, 2011",
    ],
)
def test_a_blogs_byline_is_dropped_but_a_sentence_about_posting_is_kept(byline: str) -> None:
    raw = f"Judul\n\n{byline}\n\nPosted by courier, the parcel arrived late. Lalu kami minta maaf."
    assert clean_seed_text(raw) == (
        "Judul\n\nPosted by courier, the parcel arrived late. Lalu kami minta maaf."
    )


def test_load_seed_text_reads_the_story_seed() -> None:
    text = Text("x", "x")
    story = Story(
        id="a",
        seed="004_6536ab7fc6444bd6.txt",
        title=text,
        story=text,
        lessons=(text,),
        triggers={"id": ("x",), "en": ("x",)},
        tags={"id": ("x",), "en": ("x",)},
        tips=(text,),
        source=Path("a.yaml"),
    )
    kb = KnowledgeBase(stories=(story,), ui={}, seeds_dir=SEEDS)
    seed_text = load_seed_text(kb, story)
    assert seed_text.startswith("Jatuh Cinta dengan Customer?")
    assert "Tinggalkan komentar" not in seed_text
