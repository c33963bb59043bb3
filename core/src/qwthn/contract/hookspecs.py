"""The pluggy hook specification of qwthn plugins.

A plugin is a module (or object) registered under the entry-point group `qwthn`
that implements any of the hooks below, marked with `hookimpl`:

    from qwthn import hookimpl

    @hookimpl
    def qwthn_register_backends(register):
        register(MyBackend)

Built-in parts (the emulator, the QWTHN and LoRA methods, `qwthn finetune`)
register through exactly these hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "qwthn"
ENTRY_POINT_GROUP = "qwthn"

CONTRACT_VERSION = "0.1"
"""The version of this contract (hooks, circuit IR, backend base class): core's release series, MAJOR.MINOR.

A plugin module states the contract it was built for as a literal, `QWTHN_CONTRACT = "0.1"` (never by
importing this constant: that would always match). Core refuses to load a plugin that states another
one, with a one-line reason and the pip command that fixes it, instead of failing later with an
AttributeError from deep inside a backend. A plugin that states none is loaded unchecked.
"""
CONTRACT_ATTRIBUTE = "QWTHN_CONTRACT"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def qwthn_register_backends(register: Callable[..., None]) -> None:
    """Call `register(BackendClass)`, or `register("name", "module:Class")`, once per backend the plugin provides.

    The second form imports the module (and the SDK behind it) only when that backend is used or
    described, so listing plugins, `qwthn --help` and `get_backend("emulator")` stay fast however
    many SDK plugins are installed.
    """


@hookspec
def qwthn_register_methods(register: Callable[..., None]) -> None:
    """Call `register(name, config_class, layer_class)` once per adapter method the plugin provides.

    `config_class` is a `qwthn.methods.AdapterConfig` subclass whose `method` field
    defaults to `name`; `layer_class(base_layer, config, runtime)` builds one adapted layer.
    """


@hookspec
def qwthn_register_commands(app: Any) -> None:
    """Add commands to the `qwthn` command line; `app` is its `typer.Typer`."""
