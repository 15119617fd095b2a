"""One command table feeds the bot's menu, /help, the handlers and the README."""

from __future__ import annotations

import re
from pathlib import Path

from bot import handlers
from bot.commands import (
    COMMANDS,
    bot_commands,
    commands_markdown,
    help_html,
    listed_commands,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_has_a_handler_and_a_valid_telegram_name() -> None:
    for command in COMMANDS:
        assert callable(handlers.handler_for(command)), command.handler
        assert re.fullmatch(r"[a-z0-9_]{1,32}", command.name)
    assert len({c.name for c in COMMANDS}) == len(COMMANDS)


def test_menu_help_and_docs_list_the_same_commands() -> None:
    names = [c.name for c in listed_commands()]
    assert [c.command for c in bot_commands()] == names
    assert all(3 <= len(c.description) <= 256 for c in bot_commands())
    help_text, table = help_html(), commands_markdown()
    for name in names:
        assert f"/{name}" in help_text and f"`/{name}" in table
    assert "/start" not in table  # accepted, not advertised


def test_the_issue_commands_are_all_there() -> None:
    wanted = {"help", "status", "scan", "pause", "resume", "queue", "post", "skip", "retry", "preview", "errors", "feeds"}
    assert wanted <= {c.name for c in listed_commands()}


def test_markdown_table_cells_escape_pipes() -> None:
    for row in commands_markdown().splitlines()[2:]:
        assert len(re.split(r"(?<!\\)\|", row)) == 4, row  # two cells, whatever the usage text holds
