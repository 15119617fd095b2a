"""The admin commands, declared once: the bot's menu, /help and the README are all made from this table."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Command:
    """One admin command. ``handler`` names the function in ``bot.handlers``."""

    name: str
    args: str
    description: str
    handler: str
    listed: bool = True  # False: accepted but kept out of the menu and the docs (e.g. /start)


COMMANDS: tuple[Command, ...] = (
    Command("help", "", "List the commands.", "cmd_help"),
    Command("status", "", "Articles, categories, queue, last and next scan, paused or not, bad files, feed URL, version.", "cmd_status"),
    Command("scan", "", "Scan the articles now, then report new, changed, deleted, held and bad counts.", "cmd_scan"),
    Command("pause", "", "Stop posting to the channel (feeds keep updating).", "cmd_pause"),
    Command("resume", "", "Restart posting to the channel.", "cmd_resume"),
    Command("queue", "", "Pending channel posts with their ids.", "cmd_queue"),
    Command("post", "<id|path>", "Post an article now, or post it again.", "cmd_post"),
    Command("skip", "<id>", "Drop a pending post from the queue.", "cmd_skip"),
    Command("retry", "[id]", "Failed and unconfirmed posts, with buttons to repost or mark done; with an id, repost it.", "cmd_retry"),
    Command("done", "<id>", "Mark a failed or unconfirmed post as done (it is in the channel, or never will be).", "cmd_done"),
    Command("preview", "<id|path>", "Send me the exact channel post of an article, without posting it.", "cmd_preview"),
    Command("errors", "", "Files that could not be read, with the reason.", "cmd_errors"),
    Command("feeds", "[tags]", "Feed URLs: the site and each category (add tags for tag feeds).", "cmd_feeds"),
    Command("start", "", "Same as /help.", "cmd_help", listed=False),
)


def listed_commands() -> tuple[Command, ...]:
    return tuple(c for c in COMMANDS if c.listed)


def bot_commands() -> list[BotCommand]:
    """For ``set_my_commands``: Telegram allows 3-256 characters of description."""
    return [BotCommand(c.name, c.description[:256]) for c in listed_commands()]


async def set_menu(bot: Bot, admin_ids: list[int]) -> None:
    """The command menu, shown only in each admin's chat with the bot."""
    for admin in admin_ids:
        try:
            await bot.set_my_commands(bot_commands(), scope=BotCommandScopeChat(admin))
        except TelegramError as exc:
            logger.info("No command menu for admin %s yet (%s): they must start a chat with the bot first",
                        admin, exc.message)


def usage(name: str) -> str:
    cmd = next(c for c in COMMANDS if c.name == name)
    return f"/{cmd.name} {cmd.args}".rstrip()


def help_html() -> str:
    """The /help reply, HTML parse mode."""
    lines = ["<b>newsbot admin commands</b>"]
    for c in listed_commands():
        lines.append(f"{html.escape(usage(c.name))} — {html.escape(c.description)}")
    lines.append("")
    lines.append("Ids are shown by /queue and /retry; a source path such as "
                 "<code>2024/hello.md</code> works too.")
    return "\n".join(lines)


def commands_markdown() -> str:
    """The README's command table."""
    lines = ["| command | what it does |", "| --- | --- |"]
    for c in listed_commands():
        cells = (f"`{usage(c.name)}`", c.description)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
