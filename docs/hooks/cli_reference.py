"""MkDocs hook: generates the CLI reference page (reference/cli.md) from the `qwthn` command itself.

At build time it imports `qwthn.cli`, lets every installed plugin register its commands (as
`qwthn` does on start-up), turns the typer app into its click command and renders each command's
usage, description, arguments and options as Markdown. The page exists only in the build
(`File.generated`), so nothing is written into docs/ and the reference cannot go stale.
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.structure.files import File

PAGE = "reference/cli.md"
PROG = "qwthn"

# A help text ends with typer's "[default: x]" or the project's own "\[default: x]" (escaped for rich).
_DEFAULT = re.compile(r"\s*\\?\[default: (?P<value>[^\]]*)\]\s*$")
_CODE_SPAN = re.compile(r"(`[^`]*`)")


def _markdown_text(text: str) -> str:
    """Help text as Markdown inline text: rich escapes dropped, HTML-like and table characters escaped
    (outside code spans, which render as written)."""
    text = " ".join(text.replace("\\[", "[").split())
    parts = _CODE_SPAN.split(text)
    for index in range(0, len(parts), 2):  # the even parts are outside code spans
        parts[index] = parts[index].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("[", "\\[")
    return "".join(parts).replace("|", "\\|")


def _code(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def _type_of(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False) and not getattr(param, "secondary_opts", None):
        return "flag"
    if getattr(param, "is_flag", False):
        return "flag pair"
    display_type = getattr(param, "display_type", None)
    if callable(display_type):  # typer >= 0.2x: "<int>", "<path>", ...
        try:
            return str(display_type(ctx)).strip("<>") or "-"
        except Exception:  # any typer internals change: fall back to click's type name
            pass
    type_ = getattr(param, "type", None)
    return str(getattr(type_, "name", "") or "-").lower()


def _param_row(param: Any, ctx: Any) -> str | None:
    record = param.get_help_record(ctx)
    if record is None:  # hidden
        return None
    help_text = record[1] or ""
    default = ""
    match = _DEFAULT.search(help_text)
    if match:
        default = match.group("value")
        help_text = help_text[: match.start()]
    if param.param_type_name == "argument":
        name = (param.name or "").upper()
        if not param.required:
            name = f"[{name}]"
        help_text = help_text.replace("[required]", "").strip()
        required = "yes" if param.required else "no"
    else:
        name = " / ".join([*param.opts, *getattr(param, "secondary_opts", [])])
        required = "yes" if param.required else ""
    return (
        f"| {_code(name)} | {_markdown_text(_type_of(param, ctx))} | "
        f"{_markdown_text(default) if default else ''} | {required} | {_markdown_text(help_text)} |"
    )


def _param_table(params: list[Any], ctx: Any) -> list[str]:
    rows = [row for row in (_param_row(param, ctx) for param in params) if row is not None]
    if not rows:
        return []
    return ["| Name | Type | Default | Required | Description |", "| --- | --- | --- | --- | --- |", *rows, ""]


def _help_paragraphs(text: str | None) -> list[str]:
    if not text:
        return []
    paragraphs = [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.strip())]
    return [_markdown_text(paragraph) for paragraph in paragraphs if paragraph] + [""]


def _sources(app: Any) -> dict[str, str]:
    """Command name -> the module that defines it (core, or the plugin that registered it)."""
    sources = {}
    for info in getattr(app, "registered_commands", []):
        callback = getattr(info, "callback", None)
        if callback is None:
            continue
        name = info.name or callback.__name__.replace("_", "-")
        sources[name] = getattr(callback, "__module__", "")
    return sources


def render() -> str:
    """The CLI reference page, generated from the installed `qwthn` command and its plugins."""
    import typer

    from qwthn import __version__
    from qwthn.cli import app
    from qwthn.plugins import host

    host.register_commands(app)  # idempotent per app, as `qwthn` does on start-up
    group = typer.main.get_command(app)
    ctx = group.context_class(group, info_name=PROG)
    sources = _sources(app)
    commands = {name: command for name, command in group.commands.items() if not getattr(command, "hidden", False)}

    lines = [
        "# CLI reference",
        "",
        f"Generated at build time from the `{PROG}` command (qwthn {__version__}) and the plugins installed",
        "where this site was built: `qwthn backends` comes from core, every other command from a plugin's",
        "`qwthn_register_commands` hook. Lists of backends and methods in the help texts are those of",
        f"that installation; run `{PROG} COMMAND --help` for yours.",
        "",
        "Bad input prints one line naming the problem and the fix and exits with status 2; Ctrl-C exits",
        "with status 130.",
        "",
        f"## `{PROG}`",
        "",
        "```text",
        group.get_usage(ctx).strip(),
        "```",
        "",
        *_help_paragraphs(group.help),
        *_param_table(group.get_params(ctx), ctx),
        "| Command | Description | Defined in |",
        "| --- | --- | --- |",
    ]
    for name, command in commands.items():
        summary = command.get_short_help_str(limit=200) if hasattr(command, "get_short_help_str") else ""
        lines.append(f"| [`{name}`](#{PROG}-{name}) | {_markdown_text(summary)} | {_code(sources.get(name, ''))} |")
    lines.append("")
    for name, command in commands.items():
        sub_ctx = command.context_class(command, info_name=name, parent=ctx)
        lines += [
            f"## `{PROG} {name}` {{#{PROG}-{name}}}",
            "",
            "```text",
            command.get_usage(sub_ctx).strip(),
            "```",
            "",
            *_help_paragraphs(command.help),
            *_param_table(command.get_params(sub_ctx), sub_ctx),
        ]
    return "\n".join(lines) + "\n"


def on_files(files: Any, config: Any) -> Any:
    existing = files.get_file_from_path(PAGE)
    if existing is not None:
        files.remove(existing)
    files.append(File.generated(config, PAGE, content=render()))
    return files
