"""Fake Telegram Bot API server for tests and torture runs (stdlib only).

Why: PTB must be exercised over real HTTP (multipart uploads, error mapping, timeouts, long
polling) without Telegram. In-process: `with FakeBotAPI.running() as fake:` and point PTB at
`fake.base_url`. Standalone: `python tests/fakebotapi.py --port 0 --record FILE` prints its URL on
the first stdout line and is driven through `/_fake/<action>` routes (see `RemoteFake`).
The token is never logged: request logging is off and the record file only holds the bot id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import html
import json
import math
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from email.message import Message
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
CHAT_NOT_FOUND = "Bad Request: chat not found"
NOT_MEMBER = "Forbidden: bot is not a member of the channel chat"
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message")
DESCRIPTIONS = {400: CHAT_NOT_FOUND, 401: "Unauthorized", 403: NOT_MEMBER, 404: "Not Found",
                409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
                     "instance is running", 500: "Internal Server Error", 502: "Bad Gateway",
                503: "Service Unavailable", 504: "Gateway Timeout"}
# Params PTB sends as raw strings (everything else is JSON-encoded in form/multipart bodies).
_STR_FIELDS = frozenset(
    "text caption parse_mode photo document video audio animation voice sticker thumbnail url "
    "callback_query_id inline_message_id secret_token language_code business_connection_id "
    "message_effect_id emoji title description short_description name custom_emoji_id".split())
_HTML_TAGS = frozenset("b strong i em u ins s strike del span tg-spoiler a tg-emoji code pre "
                       "blockquote".split())
_TRUE_METHODS = frozenset("sendChatAction setMyDescription setMyShortDescription setMyName "
                          "setChatMenuButton pinChatMessage unpinChatMessage leaveChat logOut close".split())
_ADMIN = dict.fromkeys(
    "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members can_promote_members "
    "can_change_info can_invite_users can_post_stories can_edit_stories can_delete_stories "
    "can_post_messages can_edit_messages can_pin_messages".split(), True) | {"can_be_edited": False,
                                                                           "is_anonymous": False}


class ApiError(Exception):
    """Raised inside method handlers to answer {"ok": false, ...}."""

    def __init__(self, status: int, description: str | None = None) -> None:
        super().__init__(description)
        self.status, self.description = status, description or DESCRIPTIONS.get(status, "Error")


@dataclasses.dataclass
class Call:
    """One recorded Bot API call; `params` are decoded, uploaded files summarised."""

    method: str
    params: dict[str, Any]
    token: str
    time: float
    http_method: str = "POST"
    status: int = 0
    response: dict[str, Any] | None = None
    delay_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form without the token (only the bot id), for the record file."""
        d = dataclasses.asdict(self)
        d["bot_id"] = d.pop("token").split(":", 1)[0]
        return d


@dataclasses.dataclass
class _Script:
    status: int
    description: str | None
    retry_after: int | None
    delay_s: float
    times: int
    deliver: bool
    predicate: Callable[[dict[str, Any]], bool] | None = None


def _decode_value(name: str, raw: str) -> Any:
    if name in _STR_FIELDS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _parse_multipart(body: bytes, boundary: str) -> dict[str, Any]:
    """Hand-parse multipart/form-data; file parts become {filename, content_type, size, sha256}."""
    out: dict[str, Any] = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = headers.get_filename()
        if filename is None:
            out[name] = _decode_value(name, content.decode("utf-8"))
        else:
            out[name] = {"filename": filename, "content_type": headers.get_content_type(),
                         "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    return out


def decode_params(content_type: str, body: bytes, query: str = "") -> dict[str, Any]:
    """Decode a request the way PTB encodes it (JSON, urlencoded or multipart)."""
    params = {k: _decode_value(k, v) for k, v in urllib.parse.parse_qsl(query)}
    msg = Message()
    msg["content-type"] = content_type or "application/octet-stream"
    ctype = msg.get_content_type()
    if ctype == "application/json" and body:
        params.update(json.loads(body))
    elif ctype == "application/x-www-form-urlencoded":
        params.update({k: _decode_value(k, v) for k, v in urllib.parse.parse_qsl(body.decode())})
    elif ctype == "multipart/form-data":
        params.update(_parse_multipart(body, str(msg.get_param("boundary"))))
    return params


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - request line has the token
        pass

    def do_GET(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size + 2)[:-2]
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        status, payload, delay = self.server.fake._handle(
            self.command, path, query, self.headers.get("Content-Type", ""), body)
        if delay and self.server.fake._stopping.wait(delay):
            return
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # client timed out and left: the call is still recorded (and maybe delivered)

    do_POST = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins handler threads
    request_queue_size = 128  # benchmarks open many connections at once
    fake: FakeBotAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # never print tracebacks: they could carry the request path (token)


class FakeBotAPI:
    """Fake Bot API on 127.0.0.1; records calls, answers like Telegram, scripts failures."""

    def __init__(self, *, port: int = 0, token: str | None = None, bot_username: str = "newsbot_test_bot",
                 max_per_minute_per_chat: int | None = None, validate: bool = True,
                 record_path: str | None = None, long_poll_cap: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token, self.bot_username, self.validate = token, bot_username, validate
        self.max_per_minute_per_chat, self.long_poll_cap, self.clock = max_per_minute_per_chat, long_poll_cap, clock
        self.bot_id = int(token.split(":")[0]) if token and token.split(":")[0].isdigit() else 1234567
        self._port, self._record_path = port, record_path
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._calls: list[Call] = []
        self._scripts: dict[str, list[_Script]] = defaultdict(list)
        self._updates: list[dict[str, Any]] = []
        self._window: dict[int, deque[float]] = defaultdict(deque)
        self._usernames: dict[str, int] = {}
        self._members: dict[tuple[int, int], dict[str, Any]] = {}
        self._next_update, self._next_mid, self._next_file = 100000, 1, 1
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat id, message id) -> live message
        self.sent: list[dict[str, Any]] = []  # every delivered send*, in order (edits update in place)
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook_url = ""
        self.count_429 = 0
        self.errors: list[str] = []  # unexpected exceptions inside the fake (assert it stays empty)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._record: Any = None

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:54321."""
        assert self._server is not None, "FakeBotAPI not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """For PTB: Bot(token, base_url=fake.base_url) / ApplicationBuilder().base_url(...)."""
        return self.url + "/bot"

    @property
    def base_file_url(self) -> str:
        return self.url + "/file/bot"

    def start(self) -> FakeBotAPI:
        """Bind 127.0.0.1 and serve in a background thread."""
        if self._record_path:
            self._record = open(self._record_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fakebotapi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake long polls and delays, join all threads, close socket and record file."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self._record is not None:
            self._record.close()
            self._record = None

    @classmethod
    @contextlib.contextmanager
    def running(cls, **kwargs: Any) -> Iterator[FakeBotAPI]:
        """`with FakeBotAPI.running(max_per_minute_per_chat=20) as fake: ...`."""
        fake = cls(**kwargs).start()
        try:
            yield fake
        finally:
            fake.stop()

    # ---- inspection ------------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """Snapshot of every recorded call, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_for(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def sent_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Delivered send* results (incl. slow/'timed out' ones), optionally for one chat."""
        with self._lock:
            cid = None if chat_id is None else self._chat(chat_id)["id"]
            return [m for m in self.sent if cid is None or m["chat"]["id"] == cid]

    def clear(self) -> None:
        """Forget calls, scripts, queued updates, messages and counters (not commands/webhook)."""
        with self._lock:
            for coll in (self._calls, self._scripts, self._updates, self._window, self.messages, self.sent,
                         self.errors):
                coll.clear()
            self.count_429 = 0

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `count` calls of `method` were recorded (sync code / threads)."""
        deadline = time.monotonic() + timeout
        while len(calls := self.calls_for(method)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(calls)}/{count} {method} calls after {timeout}s")
            time.sleep(0.01)
        return calls

    async def await_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Async twin of wait_for_calls (does not block the event loop)."""
        deadline = time.monotonic() + timeout
        while len(calls := self.calls_for(method)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(calls)}/{count} {method} calls after {timeout}s")
            await asyncio.sleep(0.01)
        return calls

    # ---- scripting -------------------------------------------------------------------------
    def fail(self, method: str, status: int | None = None, description: str | None = None, *,
             retry_after: int | None = None, delay_s: float = 0.0, times: int = 1,
             deliver: bool | None = None, predicate: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Queue a scripted answer for the next `times` calls of `method` ("*" = any method).

        status defaults to 429 if retry_after is set, 200 if only delay_s is set (slow but
        delivered: TimedOut on the client, message posted), else 400. deliver=True performs the
        call (message stored) even though an error is answered. Scripts are consumed in order.
        """
        if status is None:
            status = 429 if retry_after is not None else (200 if delay_s and description is None else 400)
        if status == 429 and retry_after is None:
            retry_after = 1
        script = _Script(status, description, retry_after, delay_s, times, status == 200 if deliver is None
                         else deliver, predicate)
        with self._lock:
            self._scripts[method].append(script)

    def fail_match(self, method: str, predicate: Callable[[dict[str, Any]], bool], status: int | None = None,
                   description: str | None = None, **kwargs: Any) -> None:
        """Like fail() but only for calls whose decoded params satisfy `predicate`."""
        self.fail(method, status, description, predicate=predicate, **kwargs)

    def delay(self, method: str, seconds: float, times: int = 1) -> None:
        """Answer successfully but only after `seconds` (TimedOut-but-delivered)."""
        self.fail(method, 200, delay_s=seconds, times=times)

    def set_chat_member(self, chat_id: int | str, user_id: int, status: str, **fields: Any) -> None:
        """Override getChatMember for (chat, user), e.g. status="left" or "member"."""
        with self._lock:
            self._members[(self._chat(chat_id)["id"], user_id)] = {"status": status, **fields}

    # ---- incoming updates ------------------------------------------------------------------
    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "username": f"user{user_id}",
                "language_code": "en"}

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Newsbot Test", "username": self.bot_username}

    def _enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        update.setdefault("update_id", self._next_update)
        self._next_update = max(self._next_update, update["update_id"]) + 1
        self._updates.append(update)
        self._cond.notify_all()
        return update

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw Update dict (update_id assigned if missing)."""
        with self._cond:
            return self._enqueue(update)

    def push_message(self, user_id: int, text: str, chat_id: int | None = None,
                     chat_type: str = "private") -> dict[str, Any]:
        """Queue a user's text message (bot_command entity if it starts with '/')."""
        with self._cond:
            cid = user_id if chat_id is None else chat_id
            chat: dict[str, Any] = {"id": cid, "type": chat_type}
            chat.update({"first_name": f"User{user_id}", "username": f"user{user_id}"} if chat_type == "private"
                        else {"title": f"Chat {cid}"})
            msg = {"message_id": self._new_mid(), "from": self._user(user_id), "chat": chat,
                   "date": int(time.time()), "text": text, **self._entities(text)}
            return self._enqueue({"message": msg})

    def push_callback_query(self, user_id: int, data: str, message_id: int,
                            chat_id: int | None = None) -> dict[str, Any]:
        """Queue a button press on message `message_id` (a placeholder bot message if unknown)."""
        with self._cond:
            chat = self._chat(user_id if chat_id is None else chat_id)
            msg = self.messages.setdefault((chat["id"], message_id), {
                "message_id": message_id, "from": self._bot_user(), "chat": chat, "date": int(time.time()),
                "text": "..."})
            cq = {"id": f"cq{self._next_update}", "from": self._user(user_id), "message": json.loads(json.dumps(msg)),
                  "chat_instance": f"ci{chat['id']}", "data": data}
            return self._enqueue({"callback_query": cq})

    def push_channel_post(self, chat_id: int | str, text: str) -> dict[str, Any]:
        """Queue a channel post: no `from`, `sender_chat` = the channel (PTB CommandHandler ignores it)."""
        with self._cond:
            chat = self._chat(chat_id)
            msg = {"message_id": self._new_mid(), "sender_chat": chat, "chat": chat, "date": int(time.time()),
                   "text": text, **self._entities(text)}
            self.messages[(chat["id"], msg["message_id"])] = msg
            return self._enqueue({"channel_post": msg})

    @staticmethod
    def _entities(text: str) -> dict[str, Any]:
        m = re.match(r"/\S+", text)
        return {"entities": [{"type": "bot_command", "offset": 0, "length": _utf16_len(m.group())}]} if m else {}

    def _new_mid(self) -> int:
        self._next_mid += 1
        return self._next_mid - 1

    # ---- request handling ------------------------------------------------------------------
    def _handle(self, verb: str, path: str, query: str, ctype: str, body: bytes) -> tuple[int, Any, float]:
        """Route one HTTP request -> (status, JSON payload, delay before answering)."""
        try:
            if path.startswith("/_fake/"):
                return 200, {"ok": True, "result": self._control(path[7:], body)}, 0.0
            m = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", path)
            if m is None:
                return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, 0.0
            return self._api_call(verb, m.group(1), m.group(2), decode_params(ctype, body, query))
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test to see
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return 500, {"ok": False, "error_code": 500, "description": f"fake crashed: {exc!r}"}, 0.0

    def _api_call(self, verb: str, token: str, method: str, params: dict[str, Any]) -> tuple[int, Any, float]:
        call = Call(method, params, token, time.time(), verb)
        delay, result, error = 0.0, None, None
        with self._cond:
            if self.token is None and token.split(":")[0].isdigit():
                self.bot_id = int(token.split(":")[0])  # learn the bot id from the caller's token
            script = self._take_script(method, params)
            try:
                if self.token is not None and token != self.token:
                    raise ApiError(401)
                if script is not None:
                    delay = script.delay_s
                    if script.deliver:
                        result = self._dispatch(method, params)
                    if script.status != 200:
                        error = ApiError(script.status, script.description)
                elif (retry := self._rate_retry(method, params)) is not None:
                    error, script = ApiError(429), _Script(429, None, retry, 0, 1, False)
                else:
                    result = self._dispatch(method, params)
            except ApiError as exc:
                error = exc
            if error is None:
                payload: dict[str, Any] = {"ok": True, "result": result}
                call.status = 200
            else:
                retry_after = script.retry_after if script is not None else None
                desc = error.description if error.status != 429 or (script and script.description) \
                    else f"Too Many Requests: retry after {retry_after}"
                payload = {"ok": False, "error_code": error.status, "description": desc}
                if retry_after is not None:
                    payload["parameters"] = {"retry_after": retry_after}
                self.count_429 += error.status == 429
                call.status = error.status
            call.response, call.delay_s = payload, delay
            self._calls.append(call)
            if self._record is not None:
                self._record.write(json.dumps(call.to_json(), ensure_ascii=False) + "\n")
                self._record.flush()
        return call.status, payload, delay

    def _take_script(self, method: str, params: dict[str, Any]) -> _Script | None:
        for key in (method, "*"):
            for script in self._scripts.get(key, []):
                with contextlib.suppress(Exception):
                    if script.predicate is None or script.predicate(params):
                        script.times -= 1
                        if script.times <= 0:
                            self._scripts[key].remove(script)
                        return script
        return None

    def _rate_retry(self, method: str, params: dict[str, Any]) -> int | None:
        """Sliding 60 s window per chat for send* calls; returns retry_after when over the limit."""
        if not self.max_per_minute_per_chat or not method.startswith(("send", "copyMessage", "forwardMessage")) \
                or method == "sendChatAction" or "chat_id" not in params:
            return None
        window, now = self._window[self._chat(params["chat_id"])["id"]], self.clock()
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self.max_per_minute_per_chat:
            return max(1, math.ceil(window[0] + 60 - now))
        window.append(now)
        return None

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        if method in _TRUE_METHODS:
            return True
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return handler(params)

    # ---- Bot API methods (called under the lock) -----------------------------------------
    def _chat(self, chat_id: int | str) -> dict[str, Any]:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            name = chat_id[1:]
            cid = self._usernames.setdefault(name.lower(), -1009000000000 - len(self._usernames))
            return {"id": cid, "type": "channel", "title": name, "username": name}
        cid = int(chat_id)
        if str(cid).startswith("-100"):
            return {"id": cid, "type": "channel", "title": f"Channel {cid}"}
        if cid < 0:
            return {"id": cid, "type": "group", "title": f"Group {cid}"}
        return {"id": cid, "type": "private", "first_name": f"User{cid}", "username": f"user{cid}"}

    def _plain(self, text: Any, parse_mode: Any, limit: int, kind: str) -> str:
        """Validate like Telegram (HTML tags, length after parsing) and return the plain text."""
        text = "" if text is None else str(text)
        plain = text
        if str(parse_mode).upper() == "HTML":
            for m in re.finditer(r"<(/?)([^\s>/]*)", text):
                if m.group(2).lower() not in _HTML_TAGS and self.validate:
                    kind_ = "end" if m.group(1) else "start"
                    raise ApiError(400, f"Bad Request: can't parse entities: Unsupported {kind_} tag "
                                        f"\"{m.group(2)}\" at byte offset {len(text[:m.start()].encode())}")
            plain = html.unescape(re.sub(r"<[^>]*>", "", text))
        if self.validate and kind == "text" and not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if self.validate and len(plain) > limit:  # tdlib counts code points
            raise ApiError(400, "Bad Request: message is too long" if kind == "text"
                           else "Bad Request: message caption is too long")
        return plain

    def _new_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        msg: dict[str, Any] = {"message_id": self._new_mid(), "date": int(time.time()), "chat": chat}
        if chat["type"] == "channel":
            msg["sender_chat"] = chat
        else:
            msg["from"] = self._bot_user()
        if "reply_markup" in params:
            msg["reply_markup"] = params["reply_markup"]
        self.messages[(chat["id"], msg["message_id"])] = msg
        self.sent.append(msg)
        return msg

    def _m_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}

    def _m_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        text = self._plain(p.get("text"), p.get("parse_mode"), 4096, "text")
        msg = self._new_message(p)
        msg["text"] = text
        if p.get("entities"):
            msg["entities"] = p["entities"]
        return msg

    def _m_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any]:
        caption = self._plain(p.get("caption"), p.get("parse_mode"), 1024, "caption")
        if "photo" not in p:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        n, self._next_file = self._next_file, self._next_file + 1
        sizes = [{"file_id": f"AgAC-{n}-{w}", "file_unique_id": f"AQAD{n}{s}", "width": w, "height": w * 3 // 4,
                  "file_size": w * 40} for w, s in ((90, "s"), (320, "m"))]
        sizes.append({"file_id": f"AgAC-{n}", "file_unique_id": f"AQAD{n}x", "width": 800, "height": 600,
                      "file_size": p["photo"]["size"] if isinstance(p["photo"], dict) else 32000})
        msg = self._new_message(p)
        msg["photo"] = sizes
        if caption:
            msg["caption"] = caption
        if p.get("caption_entities"):
            msg["caption_entities"] = p["caption_entities"]
        return msg

    def _find(self, p: dict[str, Any], verb: str) -> dict[str, Any] | None:
        if p.get("inline_message_id"):
            return None
        msg = self.messages.get((self._chat(p["chat_id"])["id"], int(p["message_id"])))
        if msg is None:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        return msg

    def _edit(self, p: dict[str, Any], field: str | None, value: Any) -> Any:
        msg = self._find(p, "edit")
        if msg is None:
            return True
        if field == "text" and "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if (field is None or msg.get(field) == value) and msg.get("reply_markup") == p.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        if field is not None:
            msg[field] = value
        msg.pop("reply_markup", None)
        if p.get("reply_markup"):
            msg["reply_markup"] = p["reply_markup"]
        msg["edit_date"] = int(time.time())
        return msg

    def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        return self._edit(p, "text", self._plain(p.get("text"), p.get("parse_mode"), 4096, "text"))

    def _m_editMessageCaption(self, p: dict[str, Any]) -> Any:
        return self._edit(p, "caption", self._plain(p.get("caption"), p.get("parse_mode"), 1024, "caption"))

    def _m_editMessageMedia(self, p: dict[str, Any]) -> Any:
        media = p.get("media")
        if isinstance(media, str):
            media = json.loads(media)
        if not isinstance(media, dict) or media.get("type") != "photo" or not media.get("media"):
            raise ApiError(400, "Bad Request: can't parse InputMedia")
        msg = self._find(p, "edit")
        if msg is None:
            return True
        if "photo" not in msg:
            raise ApiError(400, "Bad Request: there is no media in the message to edit")
        caption = self._plain(media.get("caption"), media.get("parse_mode"), 1024, "caption")
        n, self._next_file = self._next_file, self._next_file + 1
        msg["photo"] = [{"file_id": f"AgAC-{n}", "file_unique_id": f"AQAD{n}x", "width": 800, "height": 600,
                         "file_size": 32000}]
        msg["caption"] = caption
        msg.pop("reply_markup", None)
        if p.get("reply_markup"):
            msg["reply_markup"] = p["reply_markup"]
        msg["edit_date"] = int(time.time())
        return msg

    def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        return self._edit(p, None, None)

    def _m_deleteMessage(self, p: dict[str, Any]) -> bool:
        msg = self._find(p, "delete")
        if msg is not None:
            del self.messages[(msg["chat"]["id"], msg["message_id"])]
        return True

    def _m_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        return True

    def _m_getChat(self, p: dict[str, Any]) -> dict[str, Any]:
        gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
                               "gifts_from_channels"), False)
        return {**self._chat(p["chat_id"]), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": gifts}

    def _m_getChatMember(self, p: dict[str, Any]) -> dict[str, Any]:
        user_id = int(p["user_id"])
        user = self._bot_user() if user_id == self.bot_id else self._user(user_id)
        member = self._members.get((self._chat(p["chat_id"])["id"], user_id))
        if member is None:
            member = {"status": "administrator", **_ADMIN} if user_id == self.bot_id else {"status": "member"}
        elif member["status"] == "administrator":
            member = {**_ADMIN, **member}
        return {"user": user, **({"is_anonymous": False} if member["status"] == "creator" else {}), **member}

    def _commands_key(self, p: dict[str, Any]) -> str:
        return json.dumps(p.get("scope") or {"type": "default"}, sort_keys=True) + "|" + p.get("language_code", "")

    def _m_setMyCommands(self, p: dict[str, Any]) -> bool:
        for cmd in p["commands"]:
            if self.validate and not re.fullmatch(r"[a-z0-9_]{1,32}", cmd["command"]):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[self._commands_key(p)] = p["commands"]
        return True

    def _m_getMyCommands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(self._commands_key(p), [])

    def _m_deleteMyCommands(self, p: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(p), None)
        return True

    def _m_setWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook_url = p.get("url", "")  # deleteWebhook has no url
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    _m_deleteWebhook = _m_setWebhook

    def _m_getWebhookInfo(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _m_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(p.get("offset") or 0)
        if offset > 0:  # confirms everything before offset
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        timeout = min(float(p.get("timeout") or 0), self.long_poll_cap)
        if timeout > 0:
            self._cond.wait_for(lambda: bool(self._updates) or self._stopping.is_set(), timeout)
        allowed = p.get("allowed_updates")
        if allowed:
            self._updates = [u for u in self._updates if any(k in u for k in allowed)]
        return self._updates[:int(p.get("limit") or 100)]

    # ---- control routes for the standalone process -----------------------------------------
    def _control(self, action: str, body: bytes) -> Any:
        args = json.loads(body) if body else {}
        if action == "calls":
            return [c.to_json() for c in self.calls if args.get("method") in (None, c.method)]
        if action == "stats":
            with self._lock:
                return {"calls": len(self._calls), "count_429": self.count_429, "sent": len(self.sent),
                        "pending_updates": len(self._updates), "errors": list(self.errors)}
        if action == "sent_messages":
            return self.sent_messages(args.get("chat_id"))
        if action == "fail":
            match = args.pop("match", None)
            if match:  # {param: value}; a value ending in "*" is a prefix
                args["predicate"] = lambda p: all(
                    str(p.get(k)).startswith(v[:-1]) if isinstance(v, str) and v.endswith("*")
                    else p.get(k) == v for k, v in match.items())
            return self.fail(**args)
        if action in ("clear", "push_message", "push_callback_query", "push_channel_post", "push_update"):
            return getattr(self, action)(**args)
        raise ValueError(f"unknown control action {action!r}")


class RemoteFake:
    """Client for a standalone fake (subprocess); same names as FakeBotAPI, JSON in and out."""

    def __init__(self, url: str, proc: subprocess.Popen[str] | None = None) -> None:
        self.url, self.base_url, self.proc = url, url + "/bot", proc

    def _post(self, action: str, **args: Any) -> Any:
        req = urllib.request.Request(f"{self.url}/_fake/{action}", json.dumps(args).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["result"]

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        return self._post("calls", method=method)

    def stats(self) -> dict[str, Any]:
        return self._post("stats")

    def sent_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        return self._post("sent_messages", chat_id=chat_id)

    def clear(self) -> None:
        self._post("clear")

    def fail(self, method: str, status: int | None = None, description: str | None = None,
             match: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._post("fail", method=method, status=status, description=description, match=match, **kwargs)

    def push_message(self, user_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        return self._post("push_message", user_id=user_id, text=text, **kwargs)

    def push_callback_query(self, user_id: int, data: str, message_id: int, **kwargs: Any) -> dict[str, Any]:
        return self._post("push_callback_query", user_id=user_id, data=data, message_id=message_id, **kwargs)

    def push_channel_post(self, chat_id: int | str, text: str) -> dict[str, Any]:
        return self._post("push_channel_post", chat_id=chat_id, text=text)

    @classmethod
    @contextlib.contextmanager
    def spawn(cls, *args: str) -> Iterator[RemoteFake]:
        """Run `python tests/fakebotapi.py --port 0 *args` (e.g. "--record", path); stop it after."""
        proc = subprocess.Popen([sys.executable, __file__, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            if not url.startswith("http://"):
                raise RuntimeError(f"fake Bot API did not start (exit code {proc.poll()})")
            yield cls(url, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    """Standalone mode: print the URL, serve until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(description="Fake Telegram Bot API server (tests only)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--record", help="append one JSON line per call to this file")
    ap.add_argument("--max-per-minute-per-chat", type=int, default=None)
    ap.add_argument("--bot-username", default="newsbot_test_bot")
    ap.add_argument("--no-validate", action="store_true", help="skip text length/HTML checks")
    opts = ap.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    fake = FakeBotAPI(port=opts.port, record_path=opts.record, bot_username=opts.bot_username,
                      max_per_minute_per_chat=opts.max_per_minute_per_chat, validate=not opts.no_validate).start()
    print(fake.url, flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
