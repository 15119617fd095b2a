"""Settings: declared once, layered TOML < env < flags, every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, env_name, load_settings, setting_fields, settings_for_display
from bot.errors import ConfigError


def test_defaults_need_no_file_and_no_environment(tmp_path: Path) -> None:
    s = load_settings({}, {}, {"articles_dir": str(tmp_path)})
    assert s.feed_limit == 20
    assert s.include == ["*.md", "*.markdown", "*.html", "*.htm"]
    assert s.bot_token == ""
    assert s.admin_ids == []  # empty: nobody is an admin


def test_env_overrides_toml_and_flags_override_env(tmp_path: Path) -> None:
    s = load_settings(
        {"scan_interval": 60, "site_url": "https://a.example/", "articles_dir": str(tmp_path)},
        {"NEWSBOT_SCAN_INTERVAL": "120", "NEWSBOT_SITE_URL": "https://b.example/"},
        {"site_url": "https://c.example/"},
    )
    assert s.scan_interval == 120
    assert s.site_url == "https://c.example/"


def test_fixed_environment_names_for_secrets_and_telegram(tmp_path: Path) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "123456:secret-token-value-abcdefghij",
        "TELEGRAM_CHANNEL_ID": "-1001234567890",
        "TELEGRAM_ADMIN_IDS": "11, 22,33",
        "TELEGRAM_API_URL": "http://127.0.0.1:8081/bot",
        "NEWSBOT_TIMEZONE": "Asia/Shanghai",
    }
    s = load_settings({"articles_dir": str(tmp_path)}, env)
    assert s.bot_token.startswith("123456:")
    assert s.channel_id == "-1001234567890"
    assert s.admin_ids == [11, 22, 33]
    assert s.api_url == "http://127.0.0.1:8081/bot"
    assert str(s.zone) == "Asia/Shanghai"


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"bot_token": "x", "articles_dir": str(tmp_path)}, {})
    assert err.value.problems == ["bot_token: set it with the environment variable TELEGRAM_BOT_TOKEN, not in the file"]


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"nope": 1, "feed_limit": "many", "timezone": "Mars/Base", "posts_per_minute": 0},
                      {"NEWSBOT_SCAN_INTERVAL": "soon", "TELEGRAM_ADMIN_IDS": "me"},
                      {"articles_dir": str(tmp_path / "absent"), "site_url": "ftp://x"})
    problems = err.value.problems
    assert len(problems) == 8, problems
    for key in ("timezone:", "posts_per_minute:", "articles_dir:", "site_url:"):  # checks on read values too
        assert any(p.startswith(key) for p in problems), key
    assert "nope: unknown setting in the config file" in problems
    assert any(p.startswith("feed_limit:") for p in problems)
    assert any(p.startswith("NEWSBOT_SCAN_INTERVAL:") for p in problems)
    assert any(p.startswith("TELEGRAM_ADMIN_IDS:") for p in problems)


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ({"timezone": "Mars/Base"}, {}, "timezone"),
        ({"site_url": "ftp://x"}, {}, "site_url"),
        ({"slug_style": "pinyin"}, {}, "slug_style"),
        ({"feed_limit": 0}, {}, "feed_limit"),
        ({"category_feed_atom": "categories/atom.xml"}, {}, "category_feed_atom"),
        ({"feed_formats": ["atom", "yaml"]}, {}, "feed_formats"),
        ({"scan_cron": "every day"}, {}, "scan_cron"),
        ({}, {"TELEGRAM_CHANNEL_ID": "my channel"}, "TELEGRAM_CHANNEL_ID"),
        ({}, {"NEWSBOT_DRAFTS": "perhaps"}, "NEWSBOT_DRAFTS"),
        ({"category_style": "wordpress"}, {}, "category_style"),
        ({"http": "localhost"}, {}, "http"),
        ({"webhook_url": "https://bot.example.org/"}, {}, "webhook_url"),
        ({"post_template": "{title} {body}"}, {}, "post_template"),
    ],
)
def test_each_bad_value_names_its_key(tmp_path: Path, toml: dict, env: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"articles_dir": str(tmp_path), **toml}, env)
    assert [p.split(":")[0] for p in err.value.problems] == [key]


def test_missing_articles_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({}, {}, {"articles_dir": str(tmp_path / "absent")})
    assert err.value.problems == [f"articles_dir: folder {tmp_path / 'absent'} does not exist"]


def test_every_setting_has_help_and_a_unique_environment_name() -> None:
    names = [env_name(f) for f in setting_fields()]
    assert len(names) == len(set(names))
    for f in setting_fields():
        assert f.metadata["help"].strip(), f.name


def test_display_redacts_the_token(tmp_path: Path) -> None:
    s = load_settings({"articles_dir": str(tmp_path)}, {"TELEGRAM_BOT_TOKEN": "123456:super-secret-abcdefghijklmn"})
    shown = dict(settings_for_display(s))
    assert shown["TELEGRAM_BOT_TOKEN"] == "<redacted>"
    assert "super-secret" not in repr(settings_for_display(s))


def test_feeds_url_defaults_under_the_site(tmp_path: Path) -> None:
    s = Settings(site_url="https://news.example.org")
    assert s.public_feeds_url == "https://news.example.org/feeds/"
    assert Settings(feeds_url="https://cdn.example.org/f").public_feeds_url == "https://cdn.example.org/f/"
