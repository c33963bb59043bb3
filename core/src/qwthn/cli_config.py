"""`--config FILE` for every command, and `qwthn config schema|init`.

A command's options are described once, by its typer signature; from it we build a pydantic model
(the file's schema, validated in one line per mistake) and hand the file's values to click as the
command's `default_map`, so anything given on the command line still wins.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from pydantic import ConfigDict, Field, create_model, field_validator

from qwthn.errors import QwthnError
from qwthn.files import read_config_file
from qwthn.validation import ConfigValueError, OneLineErrors

CONFIG_FLAG = "--config"
NOT_CONFIGURABLE = frozenset({"config"})
"""Commands whose own options make no sense in a file (the `config` group itself)."""


CONFIG_EPILOG = "Every option can also come from a YAML/JSON file: --config FILE (`qwthn config init COMMAND`)."


def advertise_config_flag(app: typer.Typer) -> None:
    """`--config` is parsed before click sees the arguments, so each command's help says it exists."""
    for info in app.registered_commands:
        if info.epilog is None:
            info.epilog = CONFIG_EPILOG


def commands(app: typer.Typer) -> dict[str, Any]:
    """The click commands of `app` by name (plugins' commands included once they are registered)."""
    group = typer.main.get_command(app)
    return {name: command for name, command in group.commands.items() if name not in NOT_CONFIGURABLE}


def _command(app: typer.Typer, name: str) -> Any:
    known = commands(app)
    if name not in known:
        raise QwthnError(f"unknown command '{name}'; the commands are: {', '.join(sorted(known))}")
    return known[name]


class CommandOptions(OneLineErrors):
    """Base of every command's options model: unknown keys are mistakes, not extras."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_empty_values(cls, value: Any) -> Any:
        """`output: ''` would silently mean a default (as `--output ''` would)."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty; give it a value, or delete the line for its default")
        return value


def options_model(name: str, command: Any) -> type[CommandOptions]:
    """A pydantic model of the command's options: its parameters' types, defaults and help texts.

    A parameter the command line requires (an argument) may come from the file or the command line,
    so the model leaves it optional and says so.
    """
    try:
        hints = typing.get_type_hints(command.callback, include_extras=True)
    except Exception:  # a command built without resolvable annotations still gets loose fields
        hints = {}
    fields: dict[str, Any] = {}
    for param in command.params:
        hint = hints.get(param.name, Any)
        if typing.get_origin(hint) is typing.Annotated:
            hint = typing.get_args(hint)[0]
        description = " ".join((param.help or "").replace("\\[", "[").split())
        if param.required:
            hint, description = Optional[hint], f"{description} (required: here or on the command line)".strip()
        fields[param.name] = (hint, Field(default=None if param.required else param.default, description=description))
    title = "".join(part.capitalize() for part in name.split("-"))
    return create_model(f"{title}Options", __base__=CommandOptions, **fields)


def read_command_config(app: typer.Typer, name: str, path: Path) -> dict[str, Any]:
    """The file's values for command `name`, validated; keys may be written with dashes or underscores."""
    data = read_config_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise QwthnError(f"config file {path} holds a {type(data).__name__}, not a mapping of {name} options")
    data = {str(key).replace("-", "_"): value for key, value in data.items()}
    model = options_model(name, _command(app, name))
    try:
        values = model.model_validate(data)
    except ConfigValueError as error:
        raise QwthnError(f"config file {path}: {error.detail} (options of `qwthn {name}`: see "
                         f"`qwthn config schema {name}`)") from None  # fmt: skip
    return values.model_dump(exclude_unset=True)


def split_config_flag(argv: list[str]) -> tuple[list[str], str | None, Path | None]:
    """argv without `--config FILE`, the command it belongs to, and the file (None when not given)."""
    command_at = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if command_at is None:
        return argv, None, None
    rest = argv[command_at + 1 :]
    for i, arg in enumerate(rest):
        if arg == "--":
            break
        if arg == CONFIG_FLAG or arg.startswith(CONFIG_FLAG + "="):
            if arg == CONFIG_FLAG:
                if i + 1 >= len(rest):
                    raise QwthnError(f"{CONFIG_FLAG} needs a YAML or JSON file; write one with "
                                     f"`qwthn config init {argv[command_at]}`")  # fmt: skip
                value, remaining = rest[i + 1], rest[:i] + rest[i + 2 :]
            else:
                value, remaining = arg.split("=", 1)[1], rest[:i] + rest[i + 1 :]
            return argv[: command_at + 1] + remaining, argv[command_at], Path(value)
    return argv, argv[command_at], None


def default_map(app: typer.Typer, argv: list[str]) -> tuple[list[str], dict[str, Any] | None]:
    """The arguments click should parse and the defaults a `--config FILE` gives the command."""
    remaining, name, path = split_config_flag(argv)
    if path is None or name is None:
        return argv, None
    if name == "config":
        raise QwthnError("`qwthn config` takes no --config file")
    return remaining, {name: read_command_config(app, name, path)}


def schema(app: typer.Typer, name: str) -> dict[str, Any]:
    return options_model(name, _command(app, name)).model_json_schema()


def init_text(app: typer.Typer, name: str) -> str:
    """A YAML file of every option at its default, each with its help text as a comment."""
    model = options_model(name, _command(app, name))
    lines = [f"# qwthn {name} options: pass with `qwthn {name} --config FILE`; flags given on the command line win.",
             f"# Schema: `qwthn config schema {name}`. Delete what you do not need.", ""]  # fmt: skip
    for field_name, field in model.model_fields.items():
        if field.description:
            lines.append(f"# {field.description}")
        value = str(field.default) if isinstance(field.default, Path) else field.default
        entry = yaml.safe_dump({field_name: value}, default_flow_style=True, sort_keys=False).strip()
        lines.append(entry.removeprefix("{").removesuffix("}"))
    return "\n".join(lines) + "\n"
