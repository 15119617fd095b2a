"""Reference text generated from the declarations, so the README cannot drift from the code."""

from __future__ import annotations

from bot.config import env_name, setting_fields

_GROUPS = {
    "source": "Articles",
    "feeds": "Site and feeds",
    "telegram": "Channel posts",
    "service": "Service",
    "env": "Telegram (environment only)",
}


def _default(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value) or "(empty)"
    if isinstance(value, dict):
        return "(empty table)" if not value else str(value)
    text = str(value).replace("\n", "\\n")
    return f"`{text}`" if text else "(empty)"


def settings_markdown() -> str:
    """The README's settings tables, one per group."""
    lines: list[str] = []
    for group, title in _GROUPS.items():
        lines += [f"#### {title}", "", "| setting | environment variable | default | meaning |", "| --- | --- | --- | --- |"]
        for f in setting_fields():
            if f.metadata["group"] != group:
                continue
            default = f.default if f.default_factory is __import__("dataclasses").MISSING else f.default_factory()
            key = "—" if f.metadata["env"] else f"`{f.name}`"
            env = "— (file only)" if isinstance(default, dict) else f"`{env_name(f)}`"
            help_text = f.metadata["help"].replace("|", "\\|")
            lines.append(f"| {key} | {env} | {_default(default)} | {help_text} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _replace_block(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}{end}{tail}"


def render_readme(text: str) -> str:
    """The README with its generated blocks brought up to date."""
    from bot.commands import commands_markdown

    text = _replace_block(text, "settings", settings_markdown())
    return _replace_block(text, "commands", commands_markdown())


if __name__ == "__main__":  # python -m bot.docs README.md : refresh the generated blocks
    import sys
    from pathlib import Path

    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(render_readme(path.read_text(encoding="utf-8")), encoding="utf-8")
