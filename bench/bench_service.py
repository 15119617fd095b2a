"""The long-running service: /status latency during a scan, memory after it, idle CPU.

Usage: python bench/bench_service.py [--articles N] [--idle-s S] [--full]

Runs ``python -m bot run`` as admins do, in its own process, against tests/fakebotapi.py (also its
own process) on N generated articles (bench/gen_corpus.py; --full: 100,000). While the first,
cold scan runs, an admin sends /status every 200 ms through real long polling; the latency is
from the moment the fake queued the update to the moment the bot's reply reached the fake.
Then the resident memory of the bot process (VmRSS) and its CPU use over S idle seconds
(utime+stime from /proc/<pid>/stat; no psutil). The fake answers long polls after 1 s, not
Telegram's 10 s, so the idle figure is pessimistic.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from gen_corpus import generate

from tests.fakebotapi import RemoteFake

TOKEN = "123456:" + "C" * 35
ADMIN = 42
PROBE_EVERY_S = 0.2
TARGET_STATUS_MS, TARGET_RSS_MB, TARGET_IDLE_CPU = 200.0, 150.0, 1.0


def start_bot(work: Path, fake: RemoteFake) -> tuple[subprocess.Popen[bytes], Path]:
    log = work / "bot.log"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work), "PYTHONPATH": str(ROOT),
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.base_url, "TELEGRAM_ADMIN_IDS": str(ADMIN),
           "TELEGRAM_CHANNEL_ID": "-1001234567890", "NEWSBOT_SETTLE_S": "0", "NEWSBOT_SCAN_INTERVAL": "3600"}
    cmd = [sys.executable, "-m", "bot", "run", "--articles", str(work / "posts"), "--feeds", str(work / "feeds"),
           "--state", str(work / "state"), "--site-url", "https://news.example.org/", "--timezone", "Asia/Shanghai"]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT), log


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def status_replies(fake: RemoteFake) -> list[dict[str, object]]:
    return [c for c in fake.calls("sendMessage") if c["params"].get("chat_id") == ADMIN]


def probe_during_scan(proc: subprocess.Popen[bytes], log: Path, fake: RemoteFake) -> tuple[list[float], float]:
    """/status latencies (ms) sent while the first scan ran, and how long that scan took."""
    deadline = time.monotonic() + 30
    while not fake.calls("getUpdates"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"newsbot did not start:\n{log.read_text()}")
        time.sleep(0.01)
    started, latencies = time.monotonic(), []
    while "Scan done" not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            raise SystemExit(f"newsbot exited:\n{log.read_text()}")
        seen = len(status_replies(fake))
        queued_at = time.time()
        fake.push_message(ADMIN, "/status")
        while len(replies := status_replies(fake)) == seen:
            time.sleep(0.002)
        if "Scan done" not in log.read_text(errors="replace"):  # count only answers given mid-scan
            latencies.append((float(replies[-1]["time"]) - queued_at) * 1000)  # type: ignore[arg-type]
        time.sleep(PROBE_EVERY_S)
    return latencies, time.monotonic() - started


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--full", action="store_true", help="100,000 articles")
    opts = ap.parse_args(argv)
    n = 100_000 if opts.full else opts.articles
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp, RemoteFake.spawn() as fake:
        work = Path(tmp)
        generate(work / "posts", n)
        proc, log = start_bot(work, fake)
        try:
            latencies, scan_s = probe_during_scan(proc, log, fake)
            time.sleep(1.0)  # let the post-scan save and plan settle
            rss = rss_mb(proc.pid)
            before, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(opts.idle_s)
            idle = 100 * (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
            proc.send_signal(signal.SIGTERM)
            t1 = time.monotonic()
            code = proc.wait(30)
            stop_s = time.monotonic() - t1
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    p50 = statistics.median(latencies) if latencies else float("nan")
    worst = max(latencies) if latencies else float("nan")
    rows = [
        ("articles", f"{n:,}", ""),
        ("first (cold) scan, feeds included", f"{scan_s:.1f} s", ""),
        (f"/status during that scan: p50 ({len(latencies)} probes)", f"{p50:.0f} ms", f"≤ {TARGET_STATUS_MS:.0f} ms"),
        ("/status during that scan: max", f"{worst:.0f} ms", f"≤ {TARGET_STATUS_MS:.0f} ms"),
        ("resident memory after the scan", f"{rss:.0f} MB", f"≤ {TARGET_RSS_MB:.0f} MB"),
        (f"idle CPU over {opts.idle_s:.0f} s", f"{idle:.2f} %", f"< {TARGET_IDLE_CPU:.0f} %"),
        ("SIGTERM to exit", f"{stop_s:.2f} s (exit {code})", "< 10 s, exit 0"),
    ]
    print("| service | measured | target |\n| --- | --- | --- |")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    ok = worst <= TARGET_STATUS_MS and rss <= TARGET_RSS_MB and idle < TARGET_IDLE_CPU and code == 0 and stop_s < 10
    return 0 if ok or opts.full else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
