"""The command table: its rules, its menus and its texts, without any transport."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from kbfixture import PROJECT, SEEDS

from bot.chat import access, commands
from bot.chat.commands import BY_NAME, COMMANDS, Access, Scope, menu
from bot.chat.replies import Replies
from bot.chat.request import Env, Request
from bot.chat.uitexts import check_texts
from bot.content.knowledge import load_knowledge
from bot.engine.matcher import Matcher
from bot.settings import Settings


def test_access_rules() -> None:
    assert not Access.ANYONE.needs_lead(["anything"])
    assert not Access.LEAD_TO_CHANGE.needs_lead([])  # looking is for everyone
    assert Access.LEAD_TO_CHANGE.needs_lead(["08:00"])
    assert Access.LEAD.needs_lead([])
    rules = {row.name: row.access for row in COMMANDS}
    assert rules == {
        **dict.fromkeys(("start", "help", "ask", "topics", "story", "tip", "lang"), Access.ANYONE),
        # Practice is anyone's, in their private chat (issue 19).
        "quiz": Access.ANYONE,
        "myscore": Access.ANYONE,
        "daily": Access.LEAD_TO_CHANGE,
        "timezone": Access.LEAD_TO_CHANGE,
        "tipnow": Access.LEAD,
        "stats": Access.LEAD,
        "inbox": Access.LEAD,
        "quiznow": Access.LEAD,
        "digest": Access.LEAD,
    }


def test_access_is_decided_from_the_facts_the_transport_supplies() -> None:
    """A lead: anyone in their own private chat, a TEAM_LEAD_IDS user, a group's admin. The
    admin fact (a getChatMember in Telegram) is asked for only when nothing cheaper settles it."""
    member = Request(chat_id=-5, user_id=7, text="08:00", lang="en")
    assert not access.is_lead(member)
    assert access.needs_admin_fact(Access.LEAD_TO_CHANGE, member)
    assert not access.needs_admin_fact(Access.LEAD_TO_CHANGE, replace(member, text=""))
    assert not access.needs_admin_fact(Access.ANYONE, member)
    for fact in ("private", "bot_wide_lead", "group_admin"):
        lead = replace(member, **{fact: True})
        assert access.is_lead(lead) and not access.needs_admin_fact(Access.LEAD, lead)


def test_a_member_is_refused_with_the_leads_only_text_and_a_lead_is_not(tmp_path: Path) -> None:
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    env = Env(Replies(kb, Matcher(kb)), None, Settings(data_dir=tmp_path))
    member = Request(chat_id=-5, user_id=7, text="", lang="en")
    refused = access.refusal(env, Access.LEAD, member)
    assert refused is not None and refused.replies[0].text == kb.text("team_only_leads", "en")
    assert access.refusal(env, Access.LEAD, replace(member, group_admin=True)) is None
    assert access.refusal(env, Access.LEAD_TO_CHANGE, member) is None  # looking needs no lead


def test_names_are_unique_and_telegram_valid() -> None:
    names = [row.name for row in COMMANDS]
    assert len(names) == len(set(names)) == len(BY_NAME)
    for name in names:  # Bot API: 1-32 characters, lowercase letters, digits, underscores
        assert 1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()


@pytest.mark.parametrize("scope", list(Scope))
def test_menu_of_a_scope_lists_the_rows_offered_there(scope: Scope) -> None:
    listed = {row.name for row in menu(scope)}
    expected = {row.name for row in COMMANDS if scope in row.scopes}
    if scope is Scope.GROUP_ADMINS:  # administrators are group members too
        expected |= {row.name for row in COMMANDS if Scope.GROUP in row.scopes}
    assert listed == expected
    assert len(menu(scope)) == len(listed)


def test_group_after_moves_help_behind_tip_in_groups_only() -> None:
    assert [row.name for row in menu(Scope.GROUP)].index("help") == 4
    assert [row.name for row in menu(Scope.PRIVATE)].index("help") == 1


def test_menu_texts_exist_and_are_plain_in_the_real_responses() -> None:
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    assert check_texts(kb, *commands.UI_TEXTS) == []
    files: dict[str, set[str]] = {}
    for spec in commands.UI_TEXTS:
        files.setdefault(spec.file, set()).update(spec.texts)
    team = [r for r in COMMANDS if r.team]
    assert files["responses/ui/team.yaml"] == {r.menu_key for r in team} | {
        r.help_key for r in team
    }


@pytest.mark.slow  # a subprocess
def test_the_core_and_the_terminal_import_no_telegram() -> None:
    """The table, its builders and the terminal chat are plain Python."""
    code = (
        "import sys\n"
        "import bot.chat.commands, bot.leads.team, bot.chat.request\n"
        "import bot.transports.console, bot.transports.telegram.texts\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'telegram')\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("lang", ["id", "en"])
def test_help_lists_every_command_of_the_table_in_table_order(tmp_path: Path, lang: str) -> None:
    """/help is made from the table: a row added is listed, with its own help text."""
    kb = load_knowledge(PROJECT / "responses", SEEDS)
    env = Env(Replies(kb, Matcher(kb)), None, Settings(data_dir=tmp_path))
    text = commands.help_text(env, lang).text
    lead = commands.help_text(env, lang, lead=True).text  # "/help lead"
    assert text.startswith(env.replies.help(lang).text)
    listed = [line.split()[0] for line in (text + "\n" + lead).splitlines() if line[:1] == "/"]
    names = [f"/{row.name}" for row in COMMANDS]
    assert list(dict.fromkeys(listed)) == names  # /daily has lines to set, show, change
    for row in COMMANDS:
        assert f"/{row.name} {kb.text(row.help_key, lang)}" in (lead if row.team else text)
    # /help names the team-lead commands on one line and points to "/help lead"
    team = " ".join(f"/{row.name}" for row in COMMANDS if row.team)
    assert kb.text("team_help_short", lang, commands=team) in text
    assert "/help lead" in text and "/daily 08:30" not in text
    assert lead.startswith(kb.text("team_help", lang))  # the heading, then their commands
