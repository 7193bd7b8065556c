"""Language detection: the bot answers in the language of the question."""

from __future__ import annotations

import pytest

from bot.engine.language import detect_language


@pytest.mark.parametrize(
    "text",
    [
        "customer saya marah karena pesanannya telat",
        "gmn dong klo klien ngamuk",
        "udh minta maaf tp cust tetep gak mau order lagi",
        # informal Indonesian with English business words mixed in stays Indonesian
        "customer complain terus soal delivery, harus gimana?",
        "meeting sama client besok, tapi saya belum siap",
        # an English term quoted in an informal Indonesian question
        "go the extra mile maksudnya gmn sih",
        # a lesson quoted whole: the asker's own words decide
        "Lesson-nya bilang \"Don't negotiate while the customer is still angry. Give it time to"
        ' cool down, then offer a way out", maksudnya gimana kalau klien aku udah nunggu?',
    ],
)
def test_indonesian(text: str) -> None:
    assert detect_language(text, default="en") == "id"


@pytest.mark.parametrize(
    "text",
    [
        "my customer is angry because the order was late",
        "How do I say no to a client without losing them?",
        "what should I do when a technician falls for someone at the client's office",
        # what the customer said, quoted in Indonesian
        'My client keeps saying "masih mau kerjasama gak sih?" and hangs up. What do I answer?',
        # "di-" and "-ed" both: the English ending is not read as an Indonesian prefix
        "win back disappointed client",
        "calm a disgruntled official",
    ],
)
def test_english(text: str) -> None:
    assert detect_language(text, default="id") == "en"


@pytest.mark.parametrize("text", ["", "???", "12345", "customer"])
def test_no_evidence_falls_back_to_the_default(text: str) -> None:
    assert detect_language(text, default="en") == "en"
    assert detect_language(text, default="id") == "id"


def test_shouting_and_stretched_letters_do_not_confuse_it() -> None:
    assert detect_language("GIMANAAA INI, KLIEN GAK MAU BAYARRR") == "id"
    assert detect_language("WHAT DO I DOOO NOW") == "en"
