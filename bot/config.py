"""Settings, declared once: name, type, default and help live on one dataclass field.

Precedence, lowest first: defaults, the TOML file, ``NEWSBOT_<KEY>`` environment variables,
command-line flags. Secrets (the ``TELEGRAM_*`` names) come only from the environment.
``load_settings`` validates everything and raises one ``ConfigError`` listing every problem.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError

DEFAULT_CONFIG_FILE = "newsbot.toml"
DEFAULT_API_URL = "https://api.telegram.org/bot"
PERMALINK_PRESETS = {
    "jekyll": "/:categories/:year/:month/:day/:title.html",
    "hexo": "/:year/:month/:day/:title/",
    "hugo": "/:section/:title/",
}


def _s(default: Any, help: str, *, env: str | None = None, secret: bool = False,
       group: str = "general") -> Any:
    """Declare one setting. ``env`` marks an environment-only name (never read from TOML)."""
    meta = {"help": help, "env": env, "secret": secret, "group": group}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)  # type: ignore[misc]
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """Every setting newsbot reads. See README "Settings" (generated from this class)."""

    # --- source -----------------------------------------------------------------------
    articles_dir: Path = _s(Path("_posts"), "Folder of article files (Jekyll _posts, Hexo source/_posts, Hugo content/).", group="source")
    include: list[str] = _s(["*.md", "*.markdown", "*.html", "*.htm"], "Glob patterns of article files, matched against the file name.", group="source")
    exclude: list[str] = _s([], "Glob patterns (matched against the relative path) to skip.", group="source")
    drafts: bool = _s(False, "Publish drafts (draft: true, published: false, _drafts/).", group="source")
    max_file_bytes: int = _s(5_000_000, "Files larger than this are reported as bad input.", group="source")
    settle_s: float = _s(2.0, "A file modified less than this many seconds ago is retried at the next scan (it may be half written).", group="source")
    image_keys: list[str] = _s(["image", "cover", "headimg", "thumbnail", "banner", "featured_image", "og_image", "lead_image"], "Front-matter keys that name the lead image, first match wins.", group="source")
    permalink: str = _s("hexo", "Permalink pattern for articles without permalink/url/slug: a preset (jekyll, hexo, hugo) or a pattern with :year :month :day :title :categories.", group="source")
    category_style: str = _s("auto", "How front-matter categories read: jekyll (lists and space-separated strings are flat, folders above _posts add categories), hexo (a list is one hierarchy, a list of lists several), hugo (flat taxonomy), or auto (per file, first match wins: TOML or permalink=hugo -> hugo; permalink=jekyll -> jekyll; a file under source/_posts or an articles_dir ending in source/_posts -> hexo; a _posts folder or YYYY-MM-DD- file name -> jekyll; else hexo).", group="source")
    timezone: str = _s("UTC", "Site time zone (IANA name, e.g. Asia/Shanghai) for dates without an offset.", group="source")

    # --- site and feeds ---------------------------------------------------------------
    site_url: str = _s("http://localhost:8080/", "Public URL of the site; article links and ids are built on it.", group="feeds")
    feeds_url: str = _s("", "Public URL where feeds/ is served (default: <site_url>/feeds/).", group="feeds")
    feeds_dir: Path = _s(Path("feeds"), "Output folder for feeds, OPML and the index page.", group="feeds")
    site_title: str = _s("newsbot", "Feed title for the whole site.", group="feeds")
    site_subtitle: str = _s("", "Feed subtitle / description.", group="feeds")
    language: str = _s("zh-CN", "Feed language as a BCP 47 code (zh-CN, en).", group="feeds")
    author: str = _s("", "Default author when an article names none (default: the site title).", group="feeds")
    icon_url: str = _s("", "Square feed icon URL (Atom icon).", group="feeds")
    logo_url: str = _s("", "Wide feed logo URL (Atom logo, RSS image).", group="feeds")
    feed_limit: int = _s(20, "Entries per feed, newest first.", group="feeds")
    feed_full_content: bool = _s(True, "Include the full sanitised article HTML in feeds (else summaries only).", group="feeds")
    feed_formats: list[str] = _s(["atom", "rss", "json"], "Feed formats to write.", group="feeds")
    feed_all_atom: str = _s("atom.xml", "Path of the site Atom feed, relative to feeds_dir.", group="feeds")
    feed_all_rss: str = _s("rss.xml", "Path of the site RSS 2.0 feed, relative to feeds_dir.", group="feeds")
    feed_all_json: str = _s("feed.json", "Path of the site JSON Feed, relative to feeds_dir.", group="feeds")
    category_feed_atom: str = _s("categories/{slug}/atom.xml", "Per-category Atom feed path pattern.", group="feeds")
    category_feed_rss: str = _s("categories/{slug}/rss.xml", "Per-category RSS feed path pattern.", group="feeds")
    category_feed_json: str = _s("categories/{slug}/feed.json", "Per-category JSON Feed path pattern.", group="feeds")
    tag_feed_atom: str = _s("tags/{slug}/atom.xml", "Per-tag Atom feed path pattern.", group="feeds")
    tag_feed_rss: str = _s("tags/{slug}/rss.xml", "Per-tag RSS feed path pattern.", group="feeds")
    tag_feed_json: str = _s("tags/{slug}/feed.json", "Per-tag JSON Feed path pattern.", group="feeds")
    category_url: str = _s("categories/{path}/", "Site page of a category, relative to site_url (feeds' alternate link); {path}: each level's slug joined by / (Hexo's nested pages), {slug}: the feed's slug.", group="feeds")
    tag_url: str = _s("tags/{path}/", "Site page of a tag, relative to site_url; {path}/{slug} as for category_url.", group="feeds")
    slug_style: str = _s("unicode", "Category/tag slugs: unicode (keep CJK, like Hexo and Jekyll) or ascii (transliterated).", group="feeds")
    slug_map: dict[str, str] = _s({}, "Explicit name -> slug map for categories and tags (TOML table).", group="feeds")
    feed_stylesheet: bool = _s(True, "Add an XSLT stylesheet so feeds opened in a browser read as a page.", group="feeds")

    # --- channel posts ----------------------------------------------------------------
    post_template: str = _s("{title}\n\n{summary}\n\n{hashtags}\n{link}", "Post layout; placeholders {title} {summary} {hashtags} {link} {author} {date}. Remove one to leave it out.", group="telegram")
    summary_chars: int = _s(280, "Longest summary in a post, in characters, cut at a sentence boundary.", group="telegram")
    post_max_hashtags: int = _s(10, "Most hashtags in a post (every category level, parent first, then tags); 0 leaves them out.", group="telegram")
    button_text: str = _s("阅读全文", "Text of the URL button under each post (empty: no button).", group="telegram")
    posts_per_minute: int = _s(20, "Channel posting pace; Telegram allows about 20 per minute in a channel.", group="telegram")
    backfill: int = _s(0, "On a first run, post the newest N existing articles instead of none.", group="telegram")
    max_age_days: float = _s(7.0, "Articles older than this are never posted automatically.", group="telegram")
    edit_on_change: bool = _s(True, "Edit the channel message when a posted article's title, summary or image changes.", group="telegram")
    delete_on_remove: bool = _s(False, "Delete the channel message when its article file is deleted.", group="telegram")
    image_max_bytes: int = _s(10_000_000, "Largest image newsbot downloads itself when Telegram cannot fetch a photo URL.", group="telegram")
    image_timeout_s: float = _s(15.0, "Timeout for that download.", group="telegram")
    allow_private_image_hosts: bool = _s(False, "Allow downloading images from private or loopback addresses.", group="telegram")
    alert_interval_s: float = _s(600.0, "Smallest gap between two alerts of the same kind to admins.", group="telegram")

    # --- service ----------------------------------------------------------------------
    state_dir: Path = _s(Path("state"), "Folder of the JSON state store; put it on a persistent disk.", group="service")
    scan_interval: int = _s(300, "Seconds between scans.", group="service")
    scan_cron: str = _s("", "Cron expression for scans (5 fields); overrides scan_interval when set.", group="service")
    http: str = _s("", "HOST:PORT to serve feeds/ over HTTP from `newsbot run` (empty: off; $PORT also turns it on).", group="service")
    webhook_url: str = _s("", "Public HTTPS URL for Telegram webhooks on the HTTP port (empty: long polling).", group="service")
    http_max_age_s: int = _s(300, "Cache-Control max-age for served feeds.", group="service")
    log_level: str = _s("INFO", "Log level: DEBUG, INFO, WARNING or ERROR.", group="service")

    # --- secrets and fixed names (environment only) -----------------------------------
    bot_token: str = _s("", "Bot token from @BotFather. Without it newsbot runs in preview mode.", env="TELEGRAM_BOT_TOKEN", secret=True, group="env")
    channel_id: str = _s("", "Channel to post to: @name or -100… id.", env="TELEGRAM_CHANNEL_ID", group="env")
    admin_ids: list[int] = _s([], "Comma-separated Telegram user ids allowed to use admin commands. Empty: nobody.", env="TELEGRAM_ADMIN_IDS", group="env")
    api_url: str = _s(DEFAULT_API_URL, "Bot API base URL, for a self-hosted Bot API server.", env="TELEGRAM_API_URL", group="env")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def public_feeds_url(self) -> str:
        """Base URL of feeds/, always ending in a slash."""
        base = self.feeds_url or self.site_url.rstrip("/") + "/feeds/"
        return base if base.endswith("/") else base + "/"

    @property
    def permalink_pattern(self) -> str:
        return PERMALINK_PRESETS.get(self.permalink, self.permalink)


def setting_fields() -> tuple[dataclasses.Field[Any], ...]:
    """The declared settings, in declaration order (for docs and check-config)."""
    return dataclasses.fields(Settings)


def env_name(f: dataclasses.Field[Any]) -> str:
    return f.metadata["env"] or "NEWSBOT_" + f.name.upper()


def _type_name(f: dataclasses.Field[Any]) -> str:
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def _coerce(f: dataclasses.Field[Any], value: Any, *, from_env: bool) -> Any:
    """Turn a TOML or environment value into the field's type, or raise ValueError."""
    kind = _type_name(f)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"expected true or false, got {value!r}")
    if kind in {"int", "float"}:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            return int(str(value).strip()) if kind == "int" else float(str(value).strip())
        except ValueError:
            raise ValueError(f"expected {'a whole number' if kind == 'int' else 'a number'}, got {value!r}") from None
    if kind == "Path":
        if not isinstance(value, (str, Path)) or not str(value).strip():
            raise ValueError(f"expected a folder path, got {value!r}")
        return Path(str(value).strip())
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value
    if kind.startswith("list"):
        items = [s for s in (p.strip() for p in value.split(",")) if s] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ValueError(f"expected a list, got {value!r}")
        if kind == "list[int]":
            try:
                return [int(str(i).strip()) for i in items]
            except ValueError:
                raise ValueError(f"expected comma-separated whole numbers, got {value!r}") from None
        if not all(isinstance(i, str) for i in items):
            raise ValueError(f"expected a list of strings, got {value!r}")
        return list(items)
    if kind.startswith("dict"):
        if from_env:
            raise ValueError("can only be set in the TOML file")
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError("expected a table of strings")
        return dict(value)
    raise ValueError(f"unsupported setting type {kind}")  # pragma: no cover - declaration bug


def read_toml(path: Path) -> dict[str, Any]:
    """Read the settings file; a missing or broken file is a ConfigError."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"config: file {path} does not exist"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"config: {path} is not valid TOML ({exc})"]) from None
    except OSError as exc:
        raise ConfigError([f"config: cannot read {path} ({exc.strerror})"]) from None


def _validate(s: Settings, *, need_articles: bool) -> list[str]:
    problems: list[str] = []
    if need_articles and not s.articles_dir.is_dir():
        problems.append(f"articles_dir: folder {s.articles_dir} does not exist")
    for key in ("feeds_dir", "state_dir"):
        path: Path = getattr(s, key)
        if path.exists() and not path.is_dir():
            problems.append(f"{key}: {path} exists and is not a folder")
    for key in ("site_url", "feeds_url", "api_url"):
        value: str = getattr(s, key)
        if value and (urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).netloc):
            problems.append(f"{key}: expected an http(s) URL, got {value!r}")
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: unknown time zone {s.timezone!r} (use an IANA name such as Asia/Shanghai)")
    if s.slug_style not in {"unicode", "ascii"}:
        problems.append(f"slug_style: expected unicode or ascii, got {s.slug_style!r}")
    if s.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        problems.append(f"log_level: expected DEBUG, INFO, WARNING or ERROR, got {s.log_level!r}")
    if not s.include:
        problems.append("include: at least one file pattern is needed")
    bad_formats = set(s.feed_formats) - {"atom", "rss", "json"}
    if bad_formats:
        problems.append(f"feed_formats: unknown format(s) {', '.join(sorted(bad_formats))}")
    for key in ("feed_limit", "posts_per_minute", "scan_interval", "max_file_bytes", "summary_chars", "image_max_bytes"):
        if getattr(s, key) <= 0:
            problems.append(f"{key}: must be greater than 0")
    if s.backfill < 0:
        problems.append("backfill: must be 0 or more")
    for f in setting_fields():
        if f.name.startswith(("category_feed_", "tag_feed_")) and "{slug}" not in getattr(s, f.name):
            problems.append(f"{f.name}: the pattern must contain {{slug}}")
    if ":" not in s.permalink_pattern and s.permalink not in PERMALINK_PRESETS:
        problems.append(f"permalink: expected a preset ({', '.join(PERMALINK_PRESETS)}) or a pattern with :title")
    if s.channel_id and not (s.channel_id.startswith("@") or s.channel_id.lstrip("-").isdigit()):
        problems.append(f"TELEGRAM_CHANNEL_ID: expected @name or a numeric id, got {s.channel_id!r}")
    if s.category_style not in {"auto", "jekyll", "hexo", "hugo"}:
        problems.append(f"category_style: expected auto, jekyll, hexo or hugo, got {s.category_style!r}")
    if s.http:
        host, sep, port = s.http.strip().rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            problems.append(f"http: expected HOST:PORT such as 0.0.0.0:8080, got {s.http!r}")
    if s.webhook_url and not s.http:
        problems.append("webhook_url: needs the HTTP server too (--http HOST:PORT or $PORT)")
    if s.webhook_url and not s.webhook_url.startswith("https://"):
        problems.append(f"webhook_url: Telegram only delivers to https URLs, got {s.webhook_url!r}")
    from bot.messages import template_problems  # local: messages imports this module

    problems += template_problems(s.post_template)
    if s.scan_cron:
        from apscheduler.triggers.cron import CronTrigger  # local: only needed when set

        try:
            CronTrigger.from_crontab(s.scan_cron)
        except ValueError as exc:
            problems.append(f"scan_cron: {exc}")
    return problems


def load_settings(
    toml_data: Mapping[str, Any],
    environ: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
    *,
    need_articles: bool = True,
) -> Settings:
    """Merge defaults, TOML, environment and flags into validated Settings."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    failed: set[str] = set()  # fields whose value could not be read: validated on their defaults
    by_name = {f.name: f for f in setting_fields()}

    def take(f: dataclasses.Field[Any], raw: Any, label: str, *, from_env: bool) -> None:
        try:
            values[f.name] = _coerce(f, raw, from_env=from_env)
        except ValueError as exc:
            problems.append(f"{label}: {exc}")
            failed.add(f.name)

    for key, raw in toml_data.items():
        f = by_name.get(key)
        if f is None:
            problems.append(f"{key}: unknown setting in the config file")
        elif f.metadata["env"]:
            problems.append(f"{key}: set it with the environment variable {f.metadata['env']}, not in the file")
        else:
            take(f, raw, key, from_env=False)
    for f in by_name.values():
        if env_name(f) in environ:
            take(f, environ[env_name(f)], env_name(f), from_env=True)
    for key, raw in (overrides or {}).items():
        if raw is not None:
            take(by_name[key], raw, f"--{key.replace('_', '-')}", from_env=False)
    for key in failed:
        values.pop(key, None)
    settings = Settings(**values)
    problems += [p for p in _validate(settings, need_articles=need_articles) if p.split(":", 1)[0] not in failed]
    if problems:
        raise ConfigError(problems)
    return settings


def settings_for_display(s: Settings) -> list[tuple[str, str]]:
    """(name, value) pairs with secrets redacted, for ``check-config``."""
    rows = []
    for f in setting_fields():
        value = getattr(s, f.name)
        if f.metadata["secret"] and value:
            shown = "<redacted>"
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = str(value)
        rows.append((env_name(f) if f.metadata["env"] else f.name, shown))
    return rows
