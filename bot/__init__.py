"""newsbot: static-site articles to feeds and a Telegram channel."""

__version__ = "0.1.0"
