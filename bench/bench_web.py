"""Web mode speed: feeds/ served by the real ``start_http`` under wrk, and the bot's latency meanwhile.

Usage: python bench/bench_web.py [--duration S] [--connections N] [--threads T]

The server runs in a child process, as in production: aiohttp, a real python-telegram-bot
Application with a /status command, and the JobQueue-free update loop share one asyncio loop.
The Application talks to tests/fakebotapi.py (its own process). While wrk loads the site Atom
feed (20 entries, built by ``newsbot build`` from bench/gen_corpus.py articles), the child puts a
/status update into the Application's update queue every 200 ms and times it until the reply
has been sent to the fake Bot API: the answer time an admin would see, minus Telegram.

Needs wrk (Debian: ``apt-get install wrk``); without it, says so and exits 0. Installs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

TOKEN = "123456:" + "B" * 35
ADMIN = 42
PROBE_EVERY_S = 0.2
TARGET_RPS, TARGET_P99_MS, TARGET_STATUS_MS = 2000, 50.0, 200.0


# --- the feed --------------------------------------------------------------------------

def make_feeds(work: Path) -> tuple[Path, str]:
    """feeds/ holding a site Atom feed of 20 entries, and how it was made."""
    from gen_corpus import generate

    posts, feeds = work / "posts", work / "feeds"
    generate(posts, 20)
    cmd = [sys.executable, "-m", "bot", "build", "--articles", str(posts), "--feeds", str(feeds),
           "--state", str(work / "state"), "--site-url", "https://news.example.com/", "--log-level", "ERROR"]
    env = {**os.environ, "NEWSBOT_SETTLE_S": "0"}  # the files were written a moment ago
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    atom = feeds / "atom.xml"
    if done.returncode == 0 and atom.is_file() and atom.read_bytes().count(b"<entry>") == 20:
        return feeds, "newsbot build"
    return _feedgen_atom(posts, feeds), "feedgen (newsbot build failed)"


def _feedgen_atom(posts: Path, feeds: Path) -> Path:
    """Fallback: the same 20 articles through feedgen directly, full HTML content."""
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id("https://news.example.com/")
    fg.title("newsbot bench")
    fg.author(name="bench")
    fg.link(href="https://news.example.com/feeds/atom.xml", rel="self")
    fg.updated(datetime(2026, 11, 1, tzinfo=UTC))
    for i, path in enumerate(sorted(posts.rglob("*.md"))[:20]):
        fe = fg.add_entry(order="append")
        fe.id(f"https://news.example.com/{i}/")
        fe.title(path.stem)
        fe.link(href=f"https://news.example.com/{i}/")
        fe.updated(datetime(2026, 10, 1 + i, tzinfo=UTC))
        fe.content(path.read_text(encoding="utf-8").split("---", 2)[-1], type="html")
    feeds.mkdir(parents=True, exist_ok=True)
    fg.atom_file(str(feeds / "atom.xml"), pretty=True)
    return feeds


# --- the server child --------------------------------------------------------------------

async def serve(feeds: Path, fake_url: str) -> None:
    """start_http + a real PTB Application answering /status, until SIGTERM."""
    from aiohttp import web as aioweb
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

    from bot.config import Settings
    from bot.logs import configure_logging
    from bot.web import HealthInfo, start_http

    configure_logging("WARNING")
    loop = asyncio.get_running_loop()
    started = datetime.now(UTC)
    waiting: dict[int, asyncio.Future[None]] = {}
    latencies: list[float] = []
    probing = asyncio.Event()

    async def cmd_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"running since {started:%H:%M:%S}; 20 articles; queue empty")
        waiting.pop(update.update_id).set_result(None)

    application = ApplicationBuilder().token(TOKEN).base_url(fake_url + "/bot").updater(None).build()
    application.add_handler(CommandHandler("status", cmd_status))

    async def probe_forever() -> None:
        update_id = 1
        while True:
            await probing.wait()
            update_id += 1
            message = {"message_id": update_id, "date": int(time.time()), "text": "/status",
                       "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
                       "chat": {"id": ADMIN, "type": "private"}, "from": {"id": ADMIN, "is_bot": False, "first_name": "A"}}
            waiting[update_id] = loop.create_future()
            t0 = time.perf_counter()
            await application.update_queue.put(Update.de_json({"update_id": update_id, "message": message}, application.bot))
            await waiting[update_id]
            latencies.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(PROBE_EVERY_S)

    async def probe_control(request: aioweb.BaseRequest) -> aioweb.StreamResponse:
        """Runs on the web server's thread: reach the bot's loop only through call_soon_threadsafe."""
        if request.path.endswith("/start"):
            loop.call_soon_threadsafe(lambda: (latencies.clear(), probing.set()))
            return aioweb.Response(text="[]")
        loop.call_soon_threadsafe(probing.clear)
        await asyncio.sleep(0.05)  # let the bot's loop record its last answer
        return aioweb.Response(text=json.dumps(list(latencies)))

    settings = Settings(feeds_dir=feeds, state_dir=feeds.parent / "state", http="127.0.0.1:0", feeds_url="http://127.0.0.1/")
    health = lambda: HealthInfo(datetime.now(UTC), 300, started, datetime.now(UTC))
    web = await start_http(settings, health, extra_routes={"/_bench/start": probe_control, "/_bench/stop": probe_control})
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with application:
        await application.start()
        prober = asyncio.create_task(probe_forever())
        print(f"READY {web.port}", flush=True)
        await stop.wait()
        prober.cancel()
        await application.stop()
    await web.stop()


# --- the load ---------------------------------------------------------------------------

def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/s, latency percentiles and failures from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    pct = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", text, re.MULTILINE)}
    max_ms = _ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:(.*)", text)
    return {"rps": rps, "total": total, "p50": pct.get("50"), "p99": pct.get("99"), "max": max_ms,
            "bad": int(bad.group(1)) if bad else 0, "errors": errors.group(1).strip() if errors else "none"}


def _post(base: str, action: str) -> Any:
    req = urllib.request.Request(f"{base}/_bench/{action}", b"", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _etag(url: str) -> str:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"}, method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.headers["ETag"])


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(base: str, headers: dict[str, str], opts: argparse.Namespace, pid: int) -> dict[str, Any]:
    cmd = ["wrk", f"-t{opts.threads}", f"-c{opts.connections}", f"-d{opts.duration}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    _post(base, "start")
    cpu_before = _cpu_s(pid)
    out = subprocess.run([*cmd, base + "/atom.xml"], capture_output=True, text=True, check=True).stdout
    cpu_after = _cpu_s(pid)
    result = parse_wrk(out)
    result["status"] = _post(base, "stop")
    result["cpu_us"] = (cpu_after - cpu_before) * 1e6 / result["total"] if cpu_before is not None and cpu_after else None
    return result


def report(rows: list[tuple[str, dict[str, Any]]], size: int, source: str, opts: argparse.Namespace) -> None:
    print(f"Site Atom feed: 20 entries, {size:,} bytes ({source}); wrk -t{opts.threads} -c{opts.connections} "
          f"-d{opts.duration}s on loopback; server and bot in one process. Targets (304 run): >= {TARGET_RPS:,} req/s, "
          f"p99 <= {TARGET_P99_MS:.0f} ms, /status <= {TARGET_STATUS_MS:.0f} ms.\n")
    print("| scenario | requests/s | p50 ms | p99 ms | max ms | non-2xx/3xx | socket errors | server CPU µs/request "
          "| /status answers | /status median ms | /status max ms |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for name, r in rows:
        st = r["status"]
        med = f"{statistics.median(st):.1f}" if st else "-"
        top = f"{max(st):.1f}" if st else "-"
        print(f"| {name} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {r['bad']} | "
              f"{r['errors']} | {r['cpu_us']:.0f} | {len(st)} | {med} | {top} |" if r["cpu_us"] else
              f"{r['errors']} | - | {len(st)} | {med} | {top} |")
    r304 = rows[0][1]
    ok = (r304["rps"] >= TARGET_RPS and r304["p99"] <= TARGET_P99_MS and r304["bad"] == 0
          and all(r["status"] and max(r["status"]) <= TARGET_STATUS_MS for _, r in rows))
    print(f"\nTargets met: {'yes' if ok else 'NO'}. Load average during the run: {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs (other work on the machine lowers requests/s; CPU per request is steadier).")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="accepted for run_all; no larger run here")
    ap.add_argument("--serve", nargs=2, metavar=("FEEDS", "FAKE_URL"), help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.serve:
        asyncio.run(serve(Path(opts.serve[0]), opts.serve[1]))
        return 0
    if not shutil.which("wrk"):
        print("wrk is not installed, so the web benchmark did not run. Install it with `apt-get install wrk` "
              "(Debian/Ubuntu) or `brew install wrk`, then run `python bench/bench_web.py`.")
        return 0
    from tests.fakebotapi import RemoteFake

    with tempfile.TemporaryDirectory() as tmp, RemoteFake.spawn("--no-validate") as fake:
        feeds, source = make_feeds(Path(tmp))
        child = subprocess.Popen([sys.executable, __file__, "--serve", str(feeds), fake.url],
                                 cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            line = child.stdout.readline().split()
            if line[:1] != ["READY"]:
                print(f"the server did not start (exit code {child.wait()})")
                return 1
            base = f"http://127.0.0.1:{line[1]}"
            etag = _etag(base + "/atom.xml")
            rows = [
                ("304 revalidation (If-None-Match, gzip)", run_load(base, {"Accept-Encoding": "gzip", "If-None-Match": etag}, opts, child.pid)),
                ("304 revalidation (If-Modified-Since)", run_load(base, {"If-Modified-Since": "Tue, 01 Jan 2030 00:00:00 GMT"}, opts, child.pid)),
                ("200 full download, gzip", run_load(base, {"Accept-Encoding": "gzip"}, opts, child.pid)),
                ("200 full download, identity", run_load(base, {}, opts, child.pid)),
            ]
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(30)
            if child.stdout is not None:
                child.stdout.close()
        report(rows, (feeds / "atom.xml").stat().st_size, source, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
