#!/usr/bin/env bash
# Screenshot the feeds' human pages in headless Chromium: feeds/index.html and a feed opened
# in a browser (Atom + RSS through bot/assets/feed.xsl). Look at the PNGs afterwards.
#
# Usage: scripts/check_pages.sh [FEEDS_DIR] [OUT_DIR]
#   FEEDS_DIR  a built feeds/ folder; default: build examples/site into a temp folder
#   OUT_DIR    where the PNGs go (default: out/pages)
# Needs: Debian's chromium (apt-get install chromium) and the project's Python environment
# (PYTHON, default python3). Pages are served from 127.0.0.1 only: browsers apply XSLT only
# to same-origin http(s) documents, never to file:// ones.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
CHROMIUM=${CHROMIUM:-chromium}
OUT=${2:-out/pages}
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

FEEDS=${1:-}
if [[ -z "$FEEDS" ]]; then
  FEEDS="$WORK/feeds"
  "$PYTHON" - "$FEEDS" <<'PY'
import sys
from datetime import UTC, datetime
from pathlib import Path
from bot.config import load_settings, read_toml
from bot.feedwriter import write_feeds
from bot.reader import read_body
from bot.scanner import current_articles, scan
from bot.state import State
site = Path("examples/site")
settings = load_settings(read_toml(Path("examples/newsbot.toml")), {},
                         {"articles_dir": str(site), "feeds_dir": sys.argv[1], "state_dir": sys.argv[1] + "-state"})
state, now = State(), datetime.now(UTC)
scan(settings, state, now)
write_feeds(settings, current_articles(state), state, now, lambda a: read_body((site / a.source).read_bytes(), a.source))
PY
fi

PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PYTHON" -m http.server "$PORT" --bind 127.0.0.1 --directory "$FEEDS" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$PORT/index.html" >/dev/null && break
  sleep 0.1
done

shoot() {  # shoot NAME PATH
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/profile-$1" --hide-scrollbars --window-size=1000,1400 \
    --virtual-time-budget=3000 --screenshot="$OUT/$1.png" "http://127.0.0.1:$PORT/$2" \
    >"$WORK/chromium-$1.log" 2>&1
  echo "$OUT/$1.png  <- /$2"
}
shoot index index.html
shoot atom atom.xml
shoot rss rss.xml
CATEGORY=$(cd "$FEEDS" && find categories -name atom.xml | sort | head -1)
[[ -n "$CATEGORY" ]] && shoot category "$CATEGORY"
