"""Runs the installed `qwthn` command for the bad-input catalogue, one fresh child process per case.

Why not `subprocess.run([qwthn, ...])` per case: every `qwthn finetune` pays ~3-5 s importing torch and
transformers before it can refuse anything, which made 47 refusals cost minutes. This helper imports those
libraries once (WARM: nothing of qwthn), then forks one child per case; the child takes the case's environment,
working directory and argv and runs the console script `qwthn` itself (the file pip installed), so qwthn, its
plugins, QWTHN_PLUGINS and the exit status are all as a user's shell would get them. `CATALOGUE_PLAIN=1` makes
each child exec the script instead (no pre-import at all), to compare the two.

Protocol: one JSON request per stdin line, {"argv", "env", "cwd", "stdout", "stderr"} (the last two are files
for the child's output); one JSON line back per request, {"status": exit status}.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import runpy
import sys
import traceback

PLAIN_ENV = "CATALOGUE_PLAIN"
WARM = ("torch", "transformers", "transformers.modeling_utils", "pydantic", "typer", "rich")
"""Third-party libraries only (never qwthn or its plugins): what `qwthn finetune` spends seconds importing."""


def _exit_status(code: object) -> int:
    """What the interpreter makes of `sys.exit(code)`: None is 0, an int itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(request: dict) -> None:
    """In the forked child: become the case's `qwthn` process; never returns."""
    status = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        if os.environ.get(PLAIN_ENV) == "1":
            os.execve(request["argv"][0], request["argv"], request["env"])
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own descriptors, as at startup
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.argv = list(request["argv"])
        try:
            runpy.run_path(request["argv"][0], run_name="__main__")
            status = 0
        except SystemExit as exited:
            status = _exit_status(exited.code)
        except BaseException:  # as the interpreter would: the traceback on stderr, status 1
            traceback.print_exc()
            status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream has nothing left to flush
                stream.flush()
        os._exit(status)


def serve() -> None:
    if os.environ.get(PLAIN_ENV) != "1":
        for module in WARM:  # imported once here so that each case's child starts warm
            importlib.import_module(module)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, wait_status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(wait_status)}), flush=True)


if __name__ == "__main__":
    serve()
