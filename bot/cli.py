"""Command line: argv -> Settings -> one verb. The only place that configures logging or exits.

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.config import DEFAULT_CONFIG_FILE, Settings, load_settings, read_toml, settings_for_display
from bot.errors import ConfigError, NewsbotError, StateLockedError
from bot.logs import RedactingFilter, configure_logging

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("site and folders (override the config file and environment)")
    g.add_argument("--config", metavar="PATH", help=f"settings file (default: $NEWSBOT_CONFIG or ./{DEFAULT_CONFIG_FILE} if present)")
    g.add_argument("--articles", metavar="DIR", dest="articles_dir", help="folder of article files")
    g.add_argument("--feeds", metavar="DIR", dest="feeds_dir", help="output folder for feeds")
    g.add_argument("--state", metavar="DIR", dest="state_dir", help="folder of the JSON state store")
    g.add_argument("--site-url", metavar="URL", dest="site_url", help="public URL of the site")
    g.add_argument("--include", metavar="GLOB", action="append", help="article file pattern (repeatable), e.g. '*.txt'")
    g.add_argument("--timezone", metavar="ZONE", help="site time zone for dates without an offset")
    g.add_argument("--log-level", metavar="LEVEL", dest="log_level", help="DEBUG, INFO, WARNING or ERROR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="Publish a folder of static-site articles as Atom/RSS/JSON feeds and to a Telegram channel.",
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("build", help="scan the articles and write the feeds; touches no Telegram")
    _common(p)
    p = verbs.add_parser("scan", help="build, then post what is due once, then exit (for cron)")
    _common(p)
    p.add_argument("--dry-run", action="store_true", help="print the posts instead of sending them")
    p.add_argument("--backfill", type=int, metavar="N", help="on a first run, post the newest N existing articles")
    p = verbs.add_parser("run", help="the long-running scheduler and admin bot (logs the posts it would send without a token)")
    _common(p)
    p.add_argument("--backfill", type=int, metavar="N", help="on a first run, post the newest N existing articles")
    p.add_argument("--once", action="store_true",
                   help="one full cycle, then exit; without a token it previews the posts instead of sending")
    p.add_argument("--http", metavar="HOST:PORT", help="also serve feeds/ over HTTP ($PORT turns it on too)")
    p.add_argument("--webhook-url", metavar="URL", dest="webhook_url", help="receive Telegram updates by webhook on the HTTP port")
    p = verbs.add_parser("status", help="what the state holds: articles, categories, queue, last scan, bad files")
    _common(p)
    p = verbs.add_parser("resume", help="resume posting after a pause (e.g. the channel refused posts), for cron users")
    _common(p)
    p = verbs.add_parser("retry", help="list refused or unconfirmed posts; with ID, post that article again first "
                                       "(the bot's /retry)")
    _common(p)
    p.add_argument("key", nargs="?", metavar="ID", help="an article id, source path or URL")
    p = verbs.add_parser("done", help="mark a refused or unconfirmed post as handled, as it is (the bot's /done)")
    _common(p)
    p.add_argument("key", metavar="ID", help="an article id, source path or URL")
    p = verbs.add_parser("check-config", help="print the effective settings, token redacted")
    _common(p)

    p = verbs.add_parser("state", help="inspect, move or reset the state store")
    sv = p.add_subparsers(dest="state_verb", metavar="ACTION", required=True)
    for name, text in (("check", "validate the state and report"), ("export", "write portable JSON to stdout or --output"),
                       ("import", "replace the state with an exported JSON file"),
                       ("reset", "start again; --baseline records every current article as already seen")):
        sp = sv.add_parser(name, help=text)
        _common(sp)
        if name == "export":
            sp.add_argument("--output", "-o", metavar="FILE", help="file to write (default: stdout)")
        if name == "import":
            sp.add_argument("file", metavar="FILE", help="a file written by `newsbot state export`")
        if name == "reset":
            sp.add_argument("--baseline", action="store_true", required=True,
                            help="record every current article as seen, so nothing old is posted")
    return parser


_OVERRIDES = ("articles_dir", "feeds_dir", "state_dir", "site_url", "include", "timezone", "log_level",
              "backfill", "http", "webhook_url")


def settings_from_args(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    """Config file, then environment, then flags."""
    config_path = args.config or environ.get("NEWSBOT_CONFIG")
    if config_path:
        toml_data = read_toml(Path(config_path))
    elif Path(DEFAULT_CONFIG_FILE).is_file():
        toml_data = read_toml(Path(DEFAULT_CONFIG_FILE))
    else:
        toml_data = {}
    overrides: dict[str, Any] = {k: getattr(args, k, None) for k in _OVERRIDES}
    if args.verb in {"run", "check-config"} and not getattr(args, "once", False) and not overrides["http"]:
        overrides["http"] = _http_from_port(environ)  # check-config shows what `run` will use
    need_articles = args.verb in {"build", "scan", "run", "check-config"} or getattr(args, "state_verb", "") == "reset"
    return load_settings(toml_data, environ, overrides, need_articles=need_articles)


def _http_from_port(environ: dict[str, str]) -> str | None:
    """``$PORT`` (set by hosting platforms) turns the web server on for ``run``, on every interface."""
    port = environ.get("PORT", "").strip()
    if not port:
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError([f"PORT: {port!r} from the environment is not a port number (1-65535)"])
    return f"0.0.0.0:{int(port)}"


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors argparse cannot see (exit 2 with the usage line)."""
    if any(not pattern.strip() for pattern in getattr(args, "include", None) or []):
        parser.error("--include: an empty pattern matches no file; give a glob such as '*.md'")


def _check_config(settings: Settings) -> int:
    """The effective settings; the token and anything shaped like one (e.g. pasted into a URL) redacted."""
    redact = RedactingFilter((settings.bot_token,)).redact
    rows = [(name, redact(str(value))) for name, value in settings_for_display(settings)]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return EXIT_OK


def _verb_handler(args: argparse.Namespace) -> Callable[[Settings, argparse.Namespace], int]:
    from bot import commands_cli  # imported late: keeps `newsbot --help` fast

    if args.verb == "state":
        return getattr(commands_cli, f"state_{args.state_verb}")
    return getattr(commands_cli, args.verb.replace("-", "_"))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``newsbot`` console script and ``python -m bot``.

    A closed pipe (``newsbot status | head -1``) ends the program quietly, as other tools do.
    """
    try:
        code = run(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would report the failed flush at exit: point stdout at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_FAILURE
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    sys.exit(code)


def run(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    env = dict(os.environ if environ is None else environ)
    try:
        settings = settings_from_args(args, env)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"newsbot: config error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.log_level, secrets=(settings.bot_token,))
    if args.verb == "check-config":
        return _check_config(settings)
    try:
        return _verb_handler(args)(settings, args)
    except StateLockedError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except NewsbotError as exc:
        logger.error("%s", exc)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
