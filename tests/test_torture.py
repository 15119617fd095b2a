"""Torture: SIGKILL the real CLI at random moments; the state must survive and no post may be
sent twice or lost.

Each trial: the generated site may gain articles (sometimes while newsbot runs), then
``python -m bot scan`` runs against the fake Bot API and is killed with SIGKILL after a random
delay (some runs finish). After every kill: the state loads without needing the backup; sends
per article id, counted at the fake server, are at most one; each post record agrees with the
sends (``sent`` = exactly one, ``pending``/``seen`` = none, ``in_flight``/``unknown`` = at most
one). At the end newsbot runs to completion and every article must be sent once, seen
(the baseline), or reported unknown (killed mid-request): none lost.

Seeded: ``NEWSBOT_TORTURE_SEED=N`` replays a run; a failure message names the seed and trial.
The short version runs in ``make test``; ``make soak`` runs the long one.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.state import State, StateStore
from tests.fakebotapi import RemoteFake

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from gen_corpus import generate

SITE_URL = "https://news.example.org/"
CHANNEL = "-1001234567890"
SEND_METHODS = {"sendPhoto", "sendMessage", "sendAnimation", "sendDocument"}
URL_RE = re.compile(r"https?://[^\s\"'<>]+")


class Torture:
    """The folders, the fake server and the invariants of one torture run."""

    def __init__(self, tmp: Path, fake: RemoteFake, record: Path, seed: int) -> None:
        self.tmp, self.fake, self.record, self.seed = tmp, fake, record, seed
        self.rng = random.Random(seed)
        self.site, self.state_dir = tmp / "site", tmp / "state"
        self.next_index = 0
        self.url_to_id: dict[str, str] = {}
        self.env = {**os.environ, "TELEGRAM_BOT_TOKEN": "123456:TORTURE-token", "TELEGRAM_CHANNEL_ID": CHANNEL,
                    "TELEGRAM_API_URL": fake.base_url, "NEWSBOT_MAX_AGE_DAYS": "100000",
                    "NEWSBOT_POSTS_PER_MINUTE": "6000", "NEWSBOT_SETTLE_S": "0", "NEWSBOT_LOG_LEVEL": "WARNING"}

    def add_articles(self, n: int) -> None:
        generate(self.site, n, seed=self.seed, start_index=self.next_index)
        self.next_index += n

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "bot", "scan", "--articles", str(self.site), "--feeds", str(self.tmp / "feeds"),
                "--state", str(self.state_dir), "--site-url", SITE_URL, *extra]
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def run_to_end(self, *extra: str, after_kill: bool = False) -> None:
        """Exit 0; right after a kill, exit 1 is right too if all it says is that a post is unconfirmed.

        A post killed mid-request is reported once, as cron users are told (README, exit codes).
        """
        proc = self.start(*extra)
        _, err = proc.communicate(timeout=60)
        text = err.decode(errors="replace")
        lines = [line for line in text.splitlines() if line.strip()]
        unconfirmed = bool(lines) and all(line.startswith("newsbot: not sure whether ") for line in lines)
        ok = proc.returncode == 0 or (after_kill and proc.returncode == 1 and unconfirmed)
        assert ok, f"seed {self.seed}: newsbot scan failed ({proc.returncode}):\n{text[-2000:]}"

    def load(self, where: str) -> State:
        store = StateStore(self.state_dir)
        state = store.load()  # raises if there is no good copy
        assert not store.recovered_from_backup, f"{where}: needed the backup: {store.recovery_reason}"
        for rec in state.articles.values():
            self.url_to_id[rec["article"]["url"]] = rec["id"]
        return state

    def sends(self) -> Counter[str]:
        """Successful channel sends per article id, from the fake's record file."""
        counts: Counter[str] = Counter()
        if not self.record.exists():
            return counts
        for line in self.record.read_text(encoding="utf-8").splitlines():
            call = json.loads(line)
            if call["method"] in SEND_METHODS and call["status"] == 200 and str(call["params"].get("chat_id")) == CHANNEL:
                ids = {self.url_to_id[u] for u in URL_RE.findall(json.dumps(call["params"], ensure_ascii=False))
                       if u in self.url_to_id}
                assert len(ids) == 1, f"cannot tell which article a send was for: {call['params']}"
                counts[ids.pop()] += 1
        return counts

    def check(self, where: str) -> tuple[State, Counter[str]]:
        state = self.load(where)
        sends = self.sends()
        twice = {k: n for k, n in sends.items() if n > 1}
        assert not twice, f"{where}: posted more than once: {twice}"
        for article_id, rec in state.posts.items():
            n, status = sends[article_id], rec["status"]
            expected = {"sent": {1}, "pending": {0} if rec.get("action") == "send" else {1},
                        "seen": {0}, "in_flight": {0, 1}, "unknown": {0, 1}}.get(status, {0, 1})
            assert n in expected, f"{where}: {article_id} is {status} but was sent {n} time(s)"
        unknown_sends = set(sends) - set(state.posts)
        assert not unknown_sends, f"{where}: sent but not in the state at all: {unknown_sends}"
        return state, sends


def torture(tmp_path: Path, trials: int, seed: int) -> None:
    record = tmp_path / "calls.jsonl"
    with RemoteFake.spawn("--record", str(record)) as fake:
        t = Torture(tmp_path, fake, record, seed)
        t.add_articles(12)
        started = time.monotonic()
        t.run_to_end("--backfill", "2")  # a first run: baseline, plus two posts
        full_run_s = time.monotonic() - started
        baseline = {k for k, rec in t.load("baseline").posts.items() if rec["status"] == "seen"}
        for trial in range(trials):
            where = f"seed {seed}, trial {trial}"
            if t.rng.random() < 0.7:
                t.add_articles(t.rng.randint(1, 3))
            proc = t.start()
            if t.rng.random() < 0.2:  # the site changes under a running newsbot
                time.sleep(t.rng.uniform(0, 0.5))
                t.add_articles(1)
            time.sleep(t.rng.uniform(0.3, 1.3) * full_run_s)  # before, during and after the drain
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            state, sends = t.check(where)
            print(where, dict(Counter(rec["status"] for rec in state.posts.values())), sum(sends.values()), "sends")
        for attempt in range(3):  # let it finish: recovers in-flight posts, drains the queue
            t.run_to_end(after_kill=attempt == 0)
        state, sends = t.check(f"seed {seed}, final")
        generated = {rec["id"] for rec in state.articles.values()}
        assert len(generated) == t.next_index, f"seed {seed}: not every generated article was scanned"
        for article_id in generated:
            status = state.posts.get(article_id, {}).get("status")
            ok = (status == "sent" and sends[article_id] == 1) or status == "unknown" or \
                 (status == "seen" and article_id in baseline)
            assert ok, f"seed {seed}: {article_id} was lost (status {status}, sent {sends[article_id]} time(s))"
        assert state.queue == [], f"seed {seed}: queue not drained: {state.queue}"


SEED = int(os.environ.get("NEWSBOT_TORTURE_SEED", "20261101"))


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_sigkill_never_loses_state_nor_posts_twice_short(tmp_path: Path) -> None:
    """The issue's 50 seeded SIGKILL trials, in every `make test` (about 45 s on 2 cores)."""
    torture(tmp_path, trials=int(os.environ.get("NEWSBOT_TORTURE_TRIALS", "50")), seed=SEED)


@pytest.mark.integration
@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_sigkill_never_loses_state_nor_posts_twice_soak(tmp_path: Path) -> None:
    torture(tmp_path, trials=int(os.environ.get("NEWSBOT_TORTURE_TRIALS", "200")), seed=SEED + 1)
