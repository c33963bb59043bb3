"""The pluggy hook specification of qwthn backend plugins.

A plugin is a module (or object) registered under the entry-point group
`qwthn.backends` that implements the hooks below, marked with `hookimpl`:

    from qwthn import hookimpl

    @hookimpl
    def qwthn_register_backends(register):
        register(MyBackend)

Built-in backends register through exactly this path.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT_NAME = "qwthn"
ENTRY_POINT_GROUP = "qwthn.backends"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def qwthn_register_backends(register: Callable[[type], None]) -> None:
    """Call `register(BackendClass)` once per `QuantumBackend` subclass the plugin provides."""
