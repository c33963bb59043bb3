"""The `qwthn` command line: `backends` here; every other command comes from a plugin's
`qwthn_register_commands` hook (`finetune` from qwthn-transformers), so core imports no adapter.

User mistakes (QwthnError) print one line on stderr, markup off, and exit with status 2;
nothing else is caught, so real bugs keep their traceback.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from qwthn import __version__
from qwthn.console import make_console
from qwthn.errors import QwthnError

app = typer.Typer(
    name="qwthn",
    help="Quantum Weighted Tensor Hybrid Network adapters for LLM fine-tuning, on pluggable quantum backends.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
CLICK_ERRORS = sys.modules[typer.BadParameter.__module__]
"""click's exception module, wherever this typer takes click from (newer releases vendor it)."""
NO_ARGS_IS_HELP = getattr(CLICK_ERRORS, "NoArgsIsHelpError", ())
USAGE_ERROR = 2
INTERRUPTED = 130
"""The shell's status for a command ended by SIGINT."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qwthn {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    """Quantum Weighted Tensor Hybrid Network adapters for LLM fine-tuning."""


@app.command()
def backends(
    name: Annotated[Optional[str], typer.Argument(help="Show one backend in full: capabilities and options.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead.")] = False,
) -> None:
    """List the installed quantum backends (and broken plugins), or describe one."""
    from qwthn.cli_backends import backend_details, describe_all, print_details, print_listing

    if name is not None:
        details = backend_details(name)
        if as_json:
            typer.echo(json.dumps(details, indent=2))
        else:
            print_details(details, make_console(highlight=False))
        return
    listing = describe_all()
    if as_json:
        typer.echo(json.dumps(listing, indent=2))
    else:
        print_listing(listing, make_console(highlight=False))


config_app = typer.Typer(
    name="config", help="Config files for any command: its JSON schema, or a commented file of its defaults.",
    no_args_is_help=True,
)
app.add_typer(config_app)


@config_app.command()
def schema(
    command: Annotated[Optional[str], typer.Argument(help="The command whose options file to describe.")] = None,
    adapter: Annotated[Optional[str], typer.Option(
        help="Describe the adapter config file of this method instead (e.g. qwthn, lora, qtha)."
    )] = None,
) -> None:  # fmt: skip
    """Print the JSON schema of a command's --config file (or of an adapter config), for editors."""
    from qwthn.cli_config import schema as command_schema
    from qwthn.plugins import host

    if (command is None) == (adapter is None):
        raise QwthnError("name a command (e.g. `qwthn config schema finetune`) or --adapter METHOD, not both")
    document = host.methods.get(adapter).config_class.model_json_schema() if adapter else command_schema(app, command)
    typer.echo(json.dumps(document, indent=2))


@config_app.command()
def init(
    command: Annotated[str, typer.Argument(help="The command whose options file to write.")],
    output: Annotated[Optional[Path], typer.Option(
        help="Where to write it; an existing file is never replaced.  \\[default: print it]"
    )] = None,
) -> None:  # fmt: skip
    """Write a YAML file of a command's options at their defaults, each explained, to pass as --config."""
    from qwthn.cli_config import init_text
    from qwthn.files import check_output_file, write_output_file

    text = init_text(app, command)
    if output is None:
        typer.echo(text, nl=False)
        return
    check_output_file(output, "--output", replace=False)
    if output.suffix.lower() == ".json":
        raise QwthnError(f"--output {output}: the file is YAML, and a .json name is read as JSON; name it .yaml")
    write_output_file(output, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"), "--output")
    typer.echo(f"wrote {output}; use it with: qwthn {command} --config {output}")


def print_error(message: str) -> None:
    """One line on stderr with markup off, so `[brackets]` in a hint print as written."""
    make_console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {message}", markup=False)


def usage_line(error: Exception) -> str:
    """click's usage error (unknown option, bad value, missing argument) as one line naming where help is."""
    message = " ".join(error.format_message().split())
    command = error.ctx.command_path if error.ctx is not None else "qwthn"
    return f"{message} (see '{command} --help')"


def hidden_command_line(error: Exception) -> str | None:
    """An unknown command while QWTHN_PLUGINS or QWTHN_BLOCK_PLUGINS keeps plugins out, as one line naming the
    variable and its fix: commands come from plugins, so click's bare "No such command" would hide the cause."""
    from qwthn.plugins import host

    unknown = re.match(r"No such command '([^']+)'", error.format_message())
    notes = [note for note in (host.hidden_note(), host.blocked_note()) if note is not None] if unknown else []
    if not notes:
        return None
    return f"no command '{unknown.group(1)}' in the plugins loaded (commands come from plugins); {'; '.join(notes)}"


def refuse_empty_arguments(argv: list[str]) -> None:
    """`--output ''` would silently mean a default (Path('') is '.'): an empty value is always a mistake."""
    for index, arg in enumerate(argv):
        if arg.startswith("--") and arg.endswith("=") and len(arg) > 3:
            raise QwthnError(f"{arg[:-1]} is empty; give it a value, or leave it out for its default")
        if arg == "":
            before = argv[index - 1] if index else ""
            flag = before if before.startswith("-") and "=" not in before else "an argument"
            raise QwthnError(f"{flag} is empty; give it a value, or leave it out for its default")


def main(argv: list[str] | None = None) -> Any:
    from qwthn.cli_config import advertise_config_flag, default_map
    from qwthn.plugins import host

    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        refuse_empty_arguments(argv)
        host.register_commands(app)
        advertise_config_flag(app)
        argv, defaults = default_map(app, argv)
        status = app(args=argv, prog_name="qwthn", standalone_mode=False, default_map=defaults)
    except QwthnError as error:
        print_error(str(error))
        sys.exit(USAGE_ERROR)
    except NO_ARGS_IS_HELP as error:  # `qwthn` alone: the help, as before
        typer.echo(error.ctx.get_help())
        sys.exit(0)
    except CLICK_ERRORS.UsageError as error:
        print_error(hidden_command_line(error) or usage_line(error))
        sys.exit(USAGE_ERROR)
    except (KeyboardInterrupt, typer.Abort):
        _interrupted()
    if status == INTERRUPTED:  # typer turns Ctrl-C into a silent exit code
        _interrupted()
    sys.exit(status if isinstance(status, int) else 0)  # as click's standalone mode does


def _interrupted() -> None:
    make_console(stderr=True, highlight=False).print("interrupted (Ctrl-C)", markup=False)
    sys.exit(INTERRUPTED)
