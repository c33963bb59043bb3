"""`--config FILE` on every command, `qwthn config schema|init`: round trips, flags win, one-line refusals."""

from __future__ import annotations

import json

import pytest
import yaml

from qwthn.cli import app, main
from qwthn.cli_config import commands, options_model, read_command_config
from qwthn.plugins import host


@pytest.fixture(autouse=True)
def registered():
    host.register_commands(app)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_every_command_round_trips_through_init_and_its_schema(tmp_path, capsys):
    names = sorted(commands(app))
    assert {"backends", "finetune", "evaluate", "dequantize", "ablate"} <= set(names)
    for name in names:
        path = tmp_path / f"{name}.yaml"
        code, out, _ = run(capsys, "config", "init", name, "--output", str(path))
        assert code == 0 and str(path) in out
        model = options_model(name, commands(app)[name])
        from_file = model.model_validate(yaml.safe_load(path.read_text()) or {})
        assert from_file == model(), name  # the file holds every default, as the schema states them
        code, out, _ = run(capsys, "config", "schema", name)
        schema = json.loads(out)
        written = set(yaml.safe_load(path.read_text()))
        assert code == 0 and set(schema["properties"]) == set(model.model_fields) == written
        assert schema["additionalProperties"] is False


def test_flags_given_on_the_command_line_win_over_the_file(tmp_path, capsys, monkeypatch):
    seen = {}
    monkeypatch.setattr("qwthn_transformers.finetune.run_finetune", lambda options: seen.setdefault("o", options))
    path = tmp_path / "run.yaml"
    path.write_text("seed: 5\nmax-steps: 3\nmethod: lora\ncheckpoint_every: 2\n")
    code, _, err = run(capsys, "finetune", "--config", str(path), "--seed", "7")
    assert code == 0, err
    options = seen["o"]
    assert (options.seed, options.max_steps, options.method, options.checkpoint_every) == (7, 3, "lora", 2)


def test_a_required_argument_may_come_from_the_file(tmp_path, capsys, monkeypatch):
    seen = {}
    monkeypatch.setattr("qwthn_transformers.evaluate_adapter.run_evaluate",
                        lambda options, console=None: seen.setdefault("o", options) and {})  # fmt: skip
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"adapter": str(tmp_path / "adapter"), "limit": 4}))
    code, _, err = run(capsys, "evaluate", "--config", str(path))
    assert code == 0, err
    assert (str(seen["o"].adapter), seen["o"].limit) == (str(tmp_path / "adapter"), 4)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sed: 1\n", "invalid 'sed': Extra inputs are not permitted"),
        ("seed: many\n", "invalid 'seed': Input should be a valid integer"),
        ("- seed\n", "holds a list, not a mapping of finetune options"),
        ("seed: [1\n", "is not valid YAML (line 2, column 1)"),
    ],
)
def test_bad_config_files_are_one_line(tmp_path, capsys, text, fragment):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    code, _, err = run(capsys, "finetune", "--config", str(path))
    assert code == 2 and fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_config_init_never_replaces_a_file_and_needs_a_known_command(tmp_path, capsys):
    path = tmp_path / "exists.yaml"
    path.write_text("keep me\n")
    code, _, err = run(capsys, "config", "init", "finetune", "--output", str(path))
    assert code == 2 and "already exists" in err and path.read_text() == "keep me\n"
    code, _, err = run(capsys, "config", "init", "nosuch")
    assert code == 2 and "unknown command 'nosuch'" in err
    code, _, err = run(capsys, "finetune", "--config")
    assert code == 2 and "--config needs a YAML or JSON file" in err


def test_the_adapter_schema_is_the_method_config_schema(capsys):
    code, out, _ = run(capsys, "config", "schema", "--adapter", "lora")
    assert code == 0 and set(json.loads(out)["properties"]) >= {"method", "r", "alpha", "target_modules"}


def test_read_command_config_returns_only_what_the_file_sets(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dry_run: true\n")
    assert read_command_config(app, "finetune", path) == {"dry_run": True}


def test_every_command_help_names_the_config_flag(capsys):
    for name in commands(app):
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "--config FILE" in " ".join(out.split()), name
