"""Discovers backend plugins through entry points and hands out backends by name.

Loading is lazy (on the first lookup) so importing qwthn stays cheap, and
strict: a hook implementation without a matching spec is rejected by
pluggy's `check_pending`, as are classes that do not fulfil the contract.
Set `QWTHN_PLUGINS` to a comma-separated list of entry-point names to load
only those (as simonw/llm's LLM_LOAD_PLUGINS).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from qwthn import hookspecs
from qwthn.backend import QuantumBackend
from qwthn.errors import BackendNotFoundError, PluginValidationError

DEFAULT_BACKEND = "emulator"
ALLOW_LIST_ENV = "QWTHN_PLUGINS"


@dataclass(frozen=True)
class BackendEntry:
    """A registered backend class and the distribution it came from."""

    name: str
    backend_class: type[QuantumBackend]
    plugin: str
    distribution: str
    version: str


class BackendRegistry:
    """The plugin manager plus the backends its plugins registered."""

    def __init__(self) -> None:
        self._manager: pluggy.PluginManager | None = None
        self._entries: dict[str, BackendEntry] = {}

    @property
    def manager(self) -> pluggy.PluginManager:
        if self._manager is None:
            self._manager = self._load()
        return self._manager

    def _load(self) -> pluggy.PluginManager:
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        allowed = os.environ.get(ALLOW_LIST_ENV)
        allow = {name.strip() for name in allowed.split(",") if name.strip()} if allowed is not None else None
        for entry_point in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if allow is not None and entry_point.name not in allow:
                continue
            if manager.get_plugin(entry_point.name) is not None or manager.is_blocked(entry_point.name):
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:  # a broken plugin must not take the others down
                print(f"qwthn: skipping backend plugin '{entry_point.name}': {error}", file=sys.stderr)
                continue
            dist = entry_point.dist
            self._register_plugin(manager, plugin, entry_point.name, dist)
        return manager

    def _register_plugin(self, manager: pluggy.PluginManager, plugin: Any, name: str, dist: Any) -> None:
        manager.register(plugin, name=name)
        try:
            manager.check_pending()
        except pluggy.PluginValidationError as error:
            manager.unregister(plugin)
            raise PluginValidationError(
                f"backend plugin '{name}' implements a hook qwthn does not define ({error}); "
                f"the hooks are: {', '.join(self._hook_names())}"
            ) from None
        distribution = dist.metadata["Name"] if dist is not None else name
        version = dist.version if dist is not None else "unknown"

        def register(backend_class: type) -> None:
            self._add(backend_class, plugin=name, distribution=distribution, version=version)

        for impl in manager.hook.qwthn_register_backends.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            try:
                impl.function(register=register)
            except PluginValidationError:
                raise
            except Exception as error:  # a plugin whose own imports fail is skipped, loudly
                print(f"qwthn: skipping backend plugin '{name}': {type(error).__name__}: {error}", file=sys.stderr)

    @staticmethod
    def _hook_names() -> list[str]:
        return sorted(name for name in dir(hookspecs) if name.startswith("qwthn_"))

    def _add(self, backend_class: type, *, plugin: str, distribution: str, version: str) -> None:
        if not (isinstance(backend_class, type) and issubclass(backend_class, QuantumBackend)):
            raise PluginValidationError(
                f"backend plugin '{plugin}' registered {backend_class!r}, which is not a QuantumBackend subclass"
            )
        name = getattr(backend_class, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginValidationError(f"backend plugin '{plugin}': {backend_class.__name__} has no `name`")
        if name in self._entries and self._entries[name].backend_class is not backend_class:
            other = self._entries[name].plugin
            raise PluginValidationError(f"backend name '{name}' is registered by both '{other}' and '{plugin}'")
        self._entries[name] = BackendEntry(name, backend_class, plugin, distribution, version)

    def register_plugin(self, plugin: Any, name: str) -> None:
        """Register a plugin object directly (tests, notebooks); same validation as entry points."""
        self._register_plugin(self.manager, plugin, name, None)

    def unregister_plugin(self, name: str) -> None:
        plugin = self.manager.unregister(name=name)
        if plugin is not None:
            self._entries = {key: entry for key, entry in self._entries.items() if entry.plugin != name}

    def entries(self) -> list[BackendEntry]:
        self.manager  # noqa: B018 - loads the plugins on first use
        return sorted(self._entries.values(), key=lambda entry: entry.name)

    def get(self, name: str, **options: Any) -> QuantumBackend:
        self.manager  # noqa: B018
        entry = self._entries.get(name)
        if entry is None:
            installed = ", ".join(sorted(self._entries)) or "none"
            raise BackendNotFoundError(
                f"unknown backend '{name}' (installed: {installed}); "
                f"install its plugin, e.g. pip install 'qwthn[{name}]'"
            )
        return entry.backend_class(**options)

    def reset(self) -> None:
        """Forget everything so the next lookup rescans entry points (after installs, in tests)."""
        self._manager = None
        self._entries = {}


registry = BackendRegistry()


def get_backend(name: str = DEFAULT_BACKEND, **options: Any) -> QuantumBackend:
    """The backend registered as `name`, built with its backend-specific `options`."""
    return registry.get(name, **options)


def list_backends() -> list[BackendEntry]:
    return registry.entries()
