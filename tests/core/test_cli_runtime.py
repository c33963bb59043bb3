"""The runtime flags, declared once: a command gets them from `with_runtime_flags`, checked in one line each."""

from __future__ import annotations

from typing import Annotated, Optional

import pytest
import typer
from typer.testing import CliRunner

from qwthn.cli_runtime import RuntimeFlags, with_runtime_flags
from qwthn.errors import QwthnError


def toy_app(received: list) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @with_runtime_flags("backend", "backend_options", "shots", "timeout", "retries")
    def run(
        name: Annotated[str, typer.Argument(help="a positional argument of the command's own")],
        seed: Annotated[int, typer.Option(help="a command option of its own")] = 0,
        runtime: Optional[RuntimeFlags] = None,
    ) -> None:
        received.append((name, seed, runtime))

    return app


def test_a_command_receives_its_runtime_flags_as_one_object():
    received: list = []
    result = CliRunner().invoke(toy_app(received), ["x", "--seed", "3", "--shots", "100", "--timeout", "2.5",
                                                    "--backend-options", '{"dtype": "complex128"}'])  # fmt: skip
    assert result.exit_code == 0, result.output
    ((name, seed, runtime),) = received
    assert (name, seed) == ("x", 3)
    assert runtime == RuntimeFlags(shots=100, timeout=2.5, backend_options='{"dtype": "complex128"}')
    config = runtime.runtime_config(seed=seed)
    assert (config.backend, config.shots, config.timeout, config.seed) == ("emulator", 100, 2.5, 3)
    assert config.backend_options == {"dtype": "complex128"} and config.retries == 3  # RuntimeConfig's default


def test_only_the_flags_asked_for_are_offered():
    help_text = CliRunner().invoke(toy_app([]), ["--help"], env={"COLUMNS": "200"}).output
    for offered in ("--backend", "--backend-options", "--shots", "--timeout", "--retries", "--seed"):
        assert offered in help_text
    assert "--device" not in help_text
    with pytest.raises(ValueError, match="not runtime flags: \\['qubits'\\]"):
        with_runtime_flags("qubits")


@pytest.mark.parametrize(
    "flags, message",
    [
        (RuntimeFlags(shots=0), "--shots must be at least 1, got 0"),
        (RuntimeFlags(timeout=0.0), "--timeout must be greater than 0, got 0.0"),
        (RuntimeFlags(retries=-1), "--retries must be at least 0, got -1"),
        (RuntimeFlags(shots=True), "--shots must be a number, got True"),
        (RuntimeFlags(backend=" "), "--backend is empty"),
        (RuntimeFlags(backend_options="{bad"), "--backend-options is not valid JSON"),
        (RuntimeFlags(backend_options="[1]"), "--backend-options must be a JSON object"),
    ],
)
def test_each_bad_flag_is_one_line_naming_the_flag(flags, message):
    with pytest.raises(QwthnError, match=message.replace("[", "\\[")) as refused:
        flags.runtime_config()
    assert "\n" not in str(refused.value)
