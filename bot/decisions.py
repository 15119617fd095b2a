"""Posts that need an admin's decision: /retry, /done and the Repost / Mark done buttons.

A failed post (Telegram refused it) or an unconfirmed one (a send that may or may not have
arrived) is never resent on its own. Button data must fit in 64 bytes and ids may be longer,
so buttons carry a short number mapped to the id in ``bot_data``; the admin check is repeated
on every press, because callback queries bypass the command filters.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from bot import postqueue
from bot.handlers import (
    NO_PREVIEW,
    Context,
    one_arg,
    reply,
    requeue_now,
    service_of,
    title_of,
)
from bot.replies import code, esc, split_lines

logger = logging.getLogger(__name__)

BUTTON_PATTERN = r"^(retry|done):\d+$"
MAX_BUTTONS = 20  # /retry messages with buttons per call
MAX_TOKENS = 500  # button numbers remembered; older buttons answer "expired"


async def cmd_retry(update: Update, context: Context) -> None:
    service = service_of(context)
    if context.args:
        await requeue_now(update, service, " ".join(context.args))
        return
    problems = postqueue.problems(service.engine.state)
    if not problems:
        await reply(update, ["No failed or unconfirmed posts."])
        return
    await reply(update, [(f"{len(problems)} post(s) need a decision. Repost sends again; "
                          "Mark done keeps what is in the channel.")])
    tokens: OrderedDict[int, str] = context.bot_data.setdefault("retry_tokens", OrderedDict())
    for item in problems[:MAX_BUTTONS]:
        n = context.bot_data["retry_next"] = context.bot_data.get("retry_next", 0) + 1
        tokens[n] = item["id"]
        while len(tokens) > MAX_TOKENS:
            tokens.popitem(last=False)
        why = item.get("error") or item.get("reason") or ""
        text = (f"<b>{esc(title_of(service, item['id']))}</b>\n{esc(str(item.get('status')))}"
                f"{': ' + esc(str(why)) if why else ''}\n{code(item['id'])}")
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Repost", callback_data=f"retry:{n}"),
                                          InlineKeyboardButton("Mark done", callback_data=f"done:{n}")]])
        assert update.effective_message is not None
        await update.effective_message.reply_text(split_lines([text])[0], parse_mode=ParseMode.HTML,
                                                  reply_markup=keyboard, link_preview_options=NO_PREVIEW)
    if len(problems) > MAX_BUTTONS:
        await reply(update, [f"… and {len(problems) - MAX_BUTTONS} more: decide these, then /retry again."])


async def on_button(update: Update, context: Context) -> None:
    """Repost / Mark done buttons under a /retry message; admin is checked again here."""
    query = update.callback_query
    assert query is not None
    service = service_of(context)
    user = update.effective_user
    if user is None or user.id not in service.settings.admin_ids:
        logger.warning("Button press from non-admin user %s ignored", user.id if user else "?")
        await query.answer("Not allowed.")
        return
    action, _, number = (query.data or "").partition(":")
    article_id = context.bot_data.get("retry_tokens", {}).get(int(number)) if number.isdigit() else None
    if article_id is None:
        await query.answer("This button has expired: send /retry again.", show_alert=True)
        return
    status = str(service.engine.state.posts.get(article_id, {}).get("status"))
    if status not in {"failed", "unknown"}:  # a stale button: reposted or marked done already
        await query.answer(f"Already handled ({status}).")
        await query.edit_message_text(f"{esc(title_of(service, article_id))}: already handled ({esc(status)}).",
                                      parse_mode=ParseMode.HTML)
        return
    if action == "retry":
        postqueue.requeue(service.engine.state, article_id, front=True)
        service.kick_drain()
        outcome = "queued for repost"
    else:
        postqueue.mark_done(service.engine.state, article_id)
        outcome = "marked done"
    service.engine.save()
    logger.info("Admin %s: post %s %s", user.id, article_id, outcome)
    await query.answer(outcome.capitalize())
    await query.edit_message_text(f"{esc(title_of(service, article_id))}: {outcome}.", parse_mode=ParseMode.HTML)


async def cmd_done(update: Update, context: Context) -> None:
    key = await one_arg(update, context, "done")
    if key is None:
        return
    service = service_of(context)
    article_id = service.engine.catalog.id_of(key)
    rec = service.engine.state.posts.get(article_id)
    if rec is None or rec.get("status") not in {"failed", "unknown"}:
        await reply(update, [f"{code(key)} is not a failed or unconfirmed post; /retry lists those."])
        return
    postqueue.mark_done(service.engine.state, article_id)
    service.engine.save()
    await reply(update, [f"Marked done: {esc(title_of(service, article_id))}."])
