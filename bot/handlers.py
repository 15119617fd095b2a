"""Admin commands: thin handlers over ``Service``, behind a fail-closed filter.

Authorisation is a filter on each handler, not code inside it: ``filters.User(admin ids) &
filters.ChatType.PRIVATE``. An empty admin list matches nobody. Channel posts carry no sender,
so no handler ever sees them (polling asks only for messages and button presses). Anyone else
who sends a command in a private chat gets one polite refusal and is logged.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import (
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import postqueue
from bot.commands import COMMANDS, Command, help_html, usage
from bot.errors import PublishError
from bot.jobs import Service
from bot.publisher import TelegramPublisher
from bot.replies import code, esc, split_lines

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
SERVICE_KEY = "service"
MAX_LISTED = 100  # items per list reply; the rest is counted
REFUSAL = "Sorry, this is a private bot: only its admins can use commands."
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def service_of(context: Context) -> Service:
    service: Service = context.bot_data[SERVICE_KEY]
    return service


async def reply(update: Update, lines: list[str]) -> None:
    """Send HTML lines, split into as many messages as Telegram needs."""
    message = update.effective_message
    assert message is not None
    for chunk in split_lines(lines):
        await message.reply_text(chunk, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)


async def one_arg(update: Update, context: Context, name: str) -> str | None:
    """The single argument of /name (words joined: paths may hold spaces), or reply with usage."""
    text = " ".join(context.args or []).strip()
    if not text:
        await reply(update, [f"Usage: {esc(usage(name))}"])
        return None
    return text


async def no_args(update: Update, context: Context, name: str) -> bool:
    if context.args:
        await reply(update, [f"/{name} takes no arguments. Usage: {esc(usage(name))}"])
        return False
    return True


async def reply_unknown(update: Update, key: str) -> None:
    await reply(update, [(f"No article or post with id or path {code(key)}. "
                          "Ids are listed by /queue and /retry; paths are relative to the articles folder.")])


def title_of(service: Service, article_id: str) -> str:
    article = service.engine.catalog.by_id.get(article_id)
    rec = service.engine.state.posts.get(article_id, {})
    return article.title if article else str(rec.get("title") or "(article gone)")


# --- commands ----------------------------------------------------------------------------
async def cmd_help(update: Update, context: Context) -> None:
    await reply(update, help_html().split("\n"))


async def cmd_status(update: Update, context: Context) -> None:
    if await no_args(update, context, "status"):
        await reply(update, [esc(line) for line in service_of(context).status()])


async def cmd_scan(update: Update, context: Context) -> None:
    if not await no_args(update, context, "scan"):
        return
    service = service_of(context)
    await reply(update, ["A scan is running; I will scan again when it ends, then report." if service.scanning
                         else "Scanning…"])
    cycle = await service.scan(fresh=True)
    if cycle is None:
        await reply(update, ["The scan did not finish (the bot is stopping, or it failed: see /errors and the log)."])
        return
    r = cycle.scan
    await reply(update, [(f"Scan done in {cycle.seconds:.1f} s: {len(r.new)} new, {len(r.changed)} changed, "
                          f"{len(r.deleted)} deleted, {len(r.held)} held, {len(r.bad)} bad."),
                         f"Queue: {len(postqueue.pending(service.engine.state))} pending."])


async def cmd_pause(update: Update, context: Context) -> None:
    if not await no_args(update, context, "pause"):
        return
    meta = service_of(context).engine.state.meta
    if meta.get("paused"):
        await reply(update, [f"Posting is already paused ({esc(str(meta.get('pause_reason') or ''))})."])
        return
    user = update.effective_user
    meta["paused"], meta["pause_reason"] = True, f"paused by admin {user.id if user else '?'}"
    service_of(context).engine.save()
    logger.info("Posting paused by admin %s", user.id if user else "?")
    await reply(update, ["Posting paused. Feeds keep updating; /resume to post again."])


async def cmd_resume(update: Update, context: Context) -> None:
    if not await no_args(update, context, "resume"):
        return
    service = service_of(context)
    was = service.engine.state.meta.get("paused")
    postqueue.resume(service.engine.state)
    service.engine.save()
    if was:
        logger.info("Posting resumed by admin %s", update.effective_user.id if update.effective_user else "?")
    service.kick_drain()
    pending = len(postqueue.pending(service.engine.state))
    await reply(update, [f"Posting {'resumed' if was else 'was not paused'}; {pending} post(s) pending."])


async def cmd_queue(update: Update, context: Context) -> None:
    if not await no_args(update, context, "queue"):
        return
    service = service_of(context)
    items = postqueue.pending(service.engine.state)
    if not items:
        await reply(update, ["The queue is empty."])
        return
    lines = [f"<b>{len(items)} pending post(s)</b>, oldest first:"]
    for n, item in enumerate(items[:MAX_LISTED], 1):
        action = item.get("action") or "send"
        due = f", not before {esc(str(item['not_before']))}" if item.get("not_before") else ""
        lines.append(f"{n}. {esc(title_of(service, item['id']))} ({esc(action)}{due})\n   {code(item['id'])}")
    if len(items) > MAX_LISTED:
        lines.append(f"… and {len(items) - MAX_LISTED} more.")
    await reply(update, lines)


async def cmd_post(update: Update, context: Context) -> None:
    key = await one_arg(update, context, "post")
    if key is None:
        return
    await requeue_now(update, service_of(context), key)


async def requeue_now(update: Update, service: Service, key: str) -> None:
    article = service.engine.catalog.find(key)
    if article is None:
        await reply_unknown(update, key)
        return
    postqueue.requeue(service.engine.state, article.id, front=True)
    service.engine.save()
    service.kick_drain()
    note = " Posting is paused: /resume to send it." if service.engine.state.meta.get("paused") else ""
    await reply(update, [f"Queued first: {esc(article.title)}.{note}"])


async def cmd_skip(update: Update, context: Context) -> None:
    key = await one_arg(update, context, "skip")
    if key is None:
        return
    service = service_of(context)
    article_id = service.engine.catalog.id_of(key)
    if article_id not in service.engine.state.queue:
        await reply(update, [f"{code(key)} is not in the queue; /queue lists what is."])
        return
    postqueue.skip(service.engine.state, article_id)
    service.engine.save()
    await reply(update, [f"Skipped: {esc(title_of(service, article_id))}."])


async def cmd_preview(update: Update, context: Context) -> None:
    key = await one_arg(update, context, "preview")
    if key is None:
        return
    service = service_of(context)
    article = service.engine.catalog.find(key)
    post = service.engine.render(article.id) if article else None
    if post is None:
        await reply_unknown(update, key)
        return
    chat = update.effective_chat
    assert chat is not None
    if service.http is None:  # only a Service built without build_application's client
        await reply(update, ["Preview is not available in this mode."])
        return
    publisher = TelegramPublisher(context.bot, str(chat.id), service.settings, service.http)
    try:
        await publisher.send(post)
    except PublishError as exc:
        await reply(update, [f"Telegram refused this post: {esc(str(exc))}"])


async def cmd_errors(update: Update, context: Context) -> None:
    if not await no_args(update, context, "errors"):
        return
    bad = sorted(service_of(context).engine.state.bad.copy().items())
    if not bad:
        await reply(update, ["No bad files."])
        return
    lines = [f"<b>{len(bad)} file(s) could not be read</b>:"]
    lines += [f"{code(path)}: {esc(str(rec.get('reason')))}" for path, rec in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        lines.append(f"… and {len(bad) - MAX_LISTED} more (`newsbot status` and the log list all).")
    await reply(update, lines)


async def cmd_feeds(update: Update, context: Context) -> None:
    which = " ".join(context.args or []).strip().lower()
    if which not in ("", "tags"):
        await reply(update, [f"Usage: {esc(usage('feeds'))}"])
        return
    service = service_of(context)
    base = service.settings.public_feeds_url
    paths = sorted(service.engine.state.feeds.copy())
    tag_paths = [p for p in paths if _is_tag_feed(p, service)]
    if which == "tags":
        lines = [f"<b>{len(tag_paths)} tag feed(s)</b>:"] + [esc(base + p) for p in tag_paths]
    else:
        lines = ["<b>Feeds</b>:"] + [esc(base + p) for p in paths if p not in set(tag_paths)]
        if tag_paths:
            lines.append(f"and {len(tag_paths)} tag feed(s): /feeds tags")
    await reply(update, lines if len(lines) > 1 else ["No feeds written yet: the first scan writes them."])


def _is_tag_feed(path: str, service: Service) -> bool:
    s = service.settings
    prefixes = {p.split("{slug}")[0] for p in (s.tag_feed_atom, s.tag_feed_rss, s.tag_feed_json)}
    return any(prefix and path.startswith(prefix) for prefix in prefixes)


# --- everyone else ------------------------------------------------------------------------
async def on_other_command(update: Update, context: Context) -> None:
    """Private-chat commands no admin handler took: unknown to admins, refused to others."""
    user = update.effective_user
    service = service_of(context)
    if user is not None and user.id in service.settings.admin_ids:
        await reply(update, ["Unknown command. /help lists them."])
        return
    user_id = user.id if user else None
    logger.warning("Refused a command from non-admin user %s", user_id)
    refused: OrderedDict[Any, float] = context.bot_data.setdefault("refused", OrderedDict())
    now = time.monotonic()
    last = refused.get(user_id)
    if last is not None and now - last < service.settings.alert_interval_s:
        return
    refused[user_id] = now
    refused.move_to_end(user_id)
    while len(refused) > 10_000:
        refused.popitem(last=False)
    try:
        await reply(update, [REFUSAL])
    except TelegramError as exc:
        logger.info("Could not send the refusal to user %s: %s", user_id, exc.message)


def handler_for(command: Command) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """The function named in the command table (in this module or in bot/decisions.py)."""
    from bot import decisions  # it builds on the helpers above

    found: Callable[[Update, Context], Coroutine[Any, Any, None]] = getattr(decisions, command.handler, None) or globals()[command.handler]
    return found


def add_handlers(application: Application[Any, Any, Any, Any, Any, Any], admin_ids: list[int]) -> None:
    """Register every command of the table behind the admin filter, then the fallbacks."""
    from bot import decisions

    admins = filters.User(user_id=admin_ids) & filters.ChatType.PRIVATE
    for command in COMMANDS:
        application.add_handler(CommandHandler(command.name, handler_for(command), filters=admins))
    application.add_handler(CallbackQueryHandler(decisions.on_button, pattern=decisions.BUTTON_PATTERN))
    application.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, on_other_command))
