"""Discovers plugins through the `qwthn` entry-point group and keeps what they register.

One pluggy manager serves every hook (backends, methods, commands). Loading is
lazy (on the first lookup) and strict per plugin: a plugin built for another
contract version (`QWTHN_CONTRACT`, see `hookspecs.CONTRACT_VERSION`), a hook
implementation without a spec, a failing import or a failing registration marks
that one plugin as broken, with a one-line reason that `qwthn backends` lists, and
never takes the other plugins down. Hooks are called through pluggy's hook callers, one plugin
at a time (`subset_hook_caller`), so each registration is attributed to the
plugin that made it. Core's own methods are a built-in plugin registered through
the same hooks. Set `QWTHN_PLUGINS` to a comma-separated list of entry-point
names to load only those (as simonw/llm's LLM_LOAD_PLUGINS), and
`QWTHN_BLOCK_PLUGINS` to a comma-separated list of entry-point names never to
import (a blocked plugin's code does not run at all); the block-list wins over
the allow-list.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from qwthn.contract import hookspecs
from qwthn.contract.backend import QuantumBackend
from qwthn.errors import BackendNotFoundError, OptionsError, PluginValidationError
from qwthn.method_registry import MethodRegistry

DEFAULT_BACKEND = "emulator"
ALLOW_LIST_ENV = "QWTHN_PLUGINS"
BLOCK_LIST_ENV = "QWTHN_BLOCK_PLUGINS"
BUILTIN_PLUGINS = ("qwthn.methods.builtin",)
CREDENTIAL_NAME = re.compile(r"token|secret|passw|api_?key|credential|auth", re.IGNORECASE)


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin came from."""

    name: str
    distribution: str
    version: str


@dataclass
class BackendEntry:
    """A registered backend and the plugin that registered it.

    A plugin may register the class itself or, to keep listing plugins cheap, its name and
    "module:Class" path: the module (and the SDK behind it) is imported on first use.
    """

    name: str
    plugin: PluginInfo
    path: str | None = None
    _class: type[QuantumBackend] | None = field(default=None, repr=False)

    @property
    def backend_class(self) -> type[QuantumBackend]:
        if self._class is None:
            module, _, attribute = (self.path or "").partition(":")
            try:
                loaded = getattr(import_module(module), attribute)
            except Exception as error:
                raise PluginValidationError(
                    f"backend '{self.name}' of plugin '{self.plugin.name}' failed to load from {self.path}: "
                    f"{_one_line(error)}"
                ) from None
            _check_backend_class(loaded)
            if loaded.name != self.name:
                raise PluginValidationError(
                    f"plugin '{self.plugin.name}' registered '{self.name}' but {self.path} is named '{loaded.name}'"
                )
            self._class = loaded
        return self._class

    @property
    def distribution(self) -> str:
        return self.plugin.distribution

    @property
    def version(self) -> str:
        return self.plugin.version


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed to import or register, and why (one line)."""

    plugin: PluginInfo
    reason: str


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if not isinstance(error, PluginValidationError) else text


class PluginHost:
    """The plugin manager plus everything its plugins registered."""

    def __init__(self) -> None:
        self._manager: pluggy.PluginManager | None = None
        self._backends: dict[str, BackendEntry] = {}
        self._broken: list[BrokenPlugin] = []
        self._hidden: list[str] = []
        self._blocked: list[str] = []
        self._infos: dict[int, PluginInfo] = {}
        self._methods = MethodRegistry()
        self._apps: list[Any] = []

    @property
    def methods(self) -> MethodRegistry:
        """The adapter methods every loaded plugin registered (core's built-ins included)."""
        self.manager  # noqa: B018 - loads the plugins on first use
        return self._methods

    @property
    def manager(self) -> pluggy.PluginManager:
        if self._manager is None:
            self._manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            self._manager.add_hookspecs(hookspecs)
            for module in BUILTIN_PLUGINS:
                self.register_plugin(__import__(module, fromlist=["_"]), PluginInfo(module, "qwthn", _core_version()))
            self._load_entry_points()
        return self._manager

    def _load_entry_points(self) -> None:
        allow, block = _names_in(ALLOW_LIST_ENV), _names_in(BLOCK_LIST_ENV) or set()
        for entry_point in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if entry_point.name in block:  # checked first: blocked wins over allowed, and is never imported
                self._blocked.append(entry_point.name)
                continue
            if allow is not None and entry_point.name not in allow:
                self._hidden.append(entry_point.name)
                continue
            dist = entry_point.dist
            info = PluginInfo(
                entry_point.name,
                dist.metadata["Name"] if dist is not None else entry_point.name,
                dist.version if dist is not None else "unknown",
            )
            if any(known.name == info.name for known in self._infos.values()):
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:  # a broken plugin must not take the others down
                self._broken.append(BrokenPlugin(info, f"import failed: {_one_line(error)}"))
                continue
            self.register_plugin(plugin, info)

    def register_plugin(self, plugin: Any, info: PluginInfo) -> bool:
        """Register `plugin` and run its registration hooks; on any failure it is listed as broken instead."""
        manager = self.manager
        mismatch = contract_mismatch(plugin, info)
        if mismatch is not None:  # before any of its hooks runs: they were written against another contract
            self._broken.append(BrokenPlugin(info, mismatch))
            return False
        manager.register(plugin, name=info.name)
        try:
            manager.check_pending()
        except pluggy.PluginValidationError as error:
            manager.unregister(plugin)
            reason = f"implements a hook qwthn does not define ({error}); the hooks are: {', '.join(_hook_names())}"
            self._broken.append(BrokenPlugin(info, reason))
            return False
        self._infos[id(plugin)] = info
        backends, methods = {}, MethodRegistry()
        try:
            def register(backend: Any, path: str | None = None) -> None:
                self._check_backend(backend, info, backends, path)

            self._call(plugin, "qwthn_register_backends", register=register)
            self._call(plugin, "qwthn_register_methods", register=methods.registrar(info.name))
            for name in backends:
                if name in self._backends:
                    other = self._backends[name].plugin.name
                    raise PluginValidationError(f"backend name '{name}' is already registered by plugin '{other}'")
            self._methods.merge(methods)
        except Exception as error:
            manager.unregister(plugin)
            del self._infos[id(plugin)]
            self._broken.append(BrokenPlugin(info, f"registration failed: {_one_line(error)}"))
            return False
        self._backends.update(backends)
        return True

    def _call(self, plugin: Any, hook_name: str, **kwargs: Any) -> None:
        """Call one plugin's implementation of a hook through pluggy's hook caller."""
        others = [other for other in self.manager.get_plugins() if other is not plugin]
        self.manager.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)

    @staticmethod
    def _check_backend(backend: Any, info: PluginInfo, into: dict[str, BackendEntry], path: Any = None) -> None:
        """`register(BackendClass)`, or `register("name", "module:Class")` to import it only when used."""
        if path is None:
            _check_backend_class(backend)
            into[backend.name] = BackendEntry(backend.name, info, _class=backend)
            return
        if not (isinstance(backend, str) and backend and isinstance(path, str) and path.count(":") == 1):
            raise PluginValidationError(
                f"register({backend!r}, {path!r}): a lazy backend is registered as register('name', 'module:Class')"
            )
        into[backend] = BackendEntry(backend, info, path=path)

    def register_commands(self, app: Any) -> None:
        """Let every plugin add its commands (once per app); a plugin whose command hook fails is listed as broken."""
        if any(known is app for known in self._apps):
            return
        self._apps.append(app)
        for plugin in list(self.manager.get_plugins()):
            info = self._infos.get(id(plugin))
            try:
                self._call(plugin, "qwthn_register_commands", app=app)
            except Exception as error:
                if info is not None:
                    self._broken.append(BrokenPlugin(info, f"command registration failed: {_one_line(error)}"))

    def backends(self) -> list[BackendEntry]:
        self.manager  # noqa: B018 - loads the plugins on first use
        return sorted(self._backends.values(), key=lambda entry: entry.name)

    def broken(self) -> list[BrokenPlugin]:
        self.manager  # noqa: B018
        return list(self._broken)

    def hidden_note(self) -> str | None:
        """One line saying which installed plugins the allow-list variable hides, if it hides any."""
        self.manager  # noqa: B018
        return _variable_note(ALLOW_LIST_ENV, self._hidden, "hides", "add them to it")

    def blocked_note(self) -> str | None:
        """One line saying which installed plugins the block-list variable blocks, if it blocks any."""
        self.manager  # noqa: B018
        return _variable_note(BLOCK_LIST_ENV, self._blocked, "blocks", "remove them from it")

    def backend_entry(self, name: str) -> BackendEntry:
        self.manager  # noqa: B018
        entry = self._backends.get(name)
        if entry is None and name in self._blocked:  # the plugin of that name was never imported, on purpose
            raise BackendNotFoundError(
                f"backend '{name}' is blocked by {BLOCK_LIST_ENV}={os.environ.get(BLOCK_LIST_ENV, '')!r}; "
                f"remove '{name}' from the variable (or unset it) to use it"
            )
        if entry is None:
            installed = ", ".join(sorted(self._backends)) or "none"
            broken = "".join(f"; plugin '{b.plugin.name}' is broken: {b.reason}" for b in self._broken)
            blocked = self.blocked_note()
            if blocked is not None:  # a blocked plugin may register a backend under another name
                broken += f"; {blocked}"
            hidden = self.hidden_note()
            if hidden is not None and (name in self._hidden or not self._backends):
                hint = hidden  # the allow-list hides the plugin asked for, or every backend
            elif name in _core_extras():
                hint = f"install its plugin: pip install 'qwthn[{name}]'"
            else:
                hint = "no qwthn extra provides it; install the plugin that does (see docs/plugins.md)"
            raise BackendNotFoundError(f"unknown backend '{name}' (installed: {installed}){broken}; {hint}")
        return entry

    def create_backend(self, name: str, options: dict[str, Any] | BaseModel | None = None) -> QuantumBackend:
        """The backend `name`, built from `options` validated against its `Options` model."""
        entry = self.backend_entry(name)
        return entry.backend_class(validate_options(entry.backend_class, options))

    def reset(self) -> None:
        """Forget everything so the next lookup rescans entry points (after installs, in tests)."""
        self.__init__()


def _variable_note(variable: str, plugins: list[str], verb: str, fix: str) -> str | None:
    if not plugins:
        return None
    return (f"{variable}={os.environ.get(variable, '')!r} {verb} installed plugins {', '.join(sorted(set(plugins)))}; "
            f"{fix} or unset {variable}")  # fmt: skip


def _names_in(variable: str) -> set[str] | None:
    """The comma-separated entry-point names in environment variable `variable`; None when it is unset."""
    value = os.environ.get(variable)
    return None if value is None else {name.strip() for name in value.split(",") if name.strip()}


def _check_backend_class(backend_class: Any) -> None:
    if not (isinstance(backend_class, type) and issubclass(backend_class, QuantumBackend)):
        raise PluginValidationError(f"registered {backend_class!r}, which is not a QuantumBackend subclass")
    name = getattr(backend_class, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginValidationError(f"{backend_class.__name__} has no `name`")
    options = getattr(backend_class, "Options", None)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        raise PluginValidationError(f"{backend_class.__name__}.Options must be a pydantic BaseModel subclass")


def validate_options(backend_class: type[QuantumBackend], options: dict[str, Any] | BaseModel | None) -> BaseModel:
    """`options` as the backend's `Options` model; anything it refuses is one `OptionsError` line."""
    model = backend_class.Options
    if isinstance(options, model):
        return options
    if isinstance(options, BaseModel):
        options = options.model_dump()
    try:
        return model.model_validate(options or {})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        fields = ", ".join(model.model_fields) or "none"
        message = first["msg"].removeprefix("Value error, ")
        if not field:  # a check across several options (a model validator): its message names them
            raise OptionsError(f"backend '{backend_class.name}': {message}; its options are: {fields}") from None
        shown = "" if _hide_input(first) else f" (got {first.get('input')!r})"
        raise OptionsError(
            f"backend '{backend_class.name}': option '{field}': {message}{shown}; its options are: {fields}"
        ) from None


def _hide_input(error: Any) -> bool:
    """Whether an OptionsError must not repeat the refused value: it may be a credential, and errors reach logs.

    The value of an unknown option never helps fix it (its name does), and nothing under a name that
    looks like a credential (api_key, token, secret...) is repeated, at any depth of a dict option.
    """
    if error["type"] == "extra_forbidden":
        return True

    def secret(value: Any) -> bool:
        if isinstance(value, dict):
            return any(CREDENTIAL_NAME.search(str(key)) or secret(item) for key, item in value.items())
        if isinstance(value, (list, tuple)):
            return any(secret(item) for item in value)
        return False

    return any(CREDENTIAL_NAME.search(str(part)) for part in error["loc"]) or secret(error.get("input"))


def contract_mismatch(plugin: Any, info: PluginInfo) -> str | None:
    """Why `plugin` cannot load under this core's contract (one line with the pip fix), or None when it can.

    The plugin states the contract it was built for as `QWTHN_CONTRACT = "MAJOR.MINOR"`; one that states
    none is not checked. A first-party plugin (one of core's extras, released in step with core) is fixed
    by installing its release of core's series; any other by upgrading it or by installing the core it needs.
    """
    stated = getattr(plugin, hookspecs.CONTRACT_ATTRIBUTE, None)
    if stated is None:
        return None
    core = hookspecs.CONTRACT_VERSION
    who = f"{info.distribution} {info.version}"
    if not (isinstance(stated, str) and _SERIES.fullmatch(stated)):
        return f"{who} states {hookspecs.CONTRACT_ATTRIBUTE} = {stated!r}, not a 'MAJOR.MINOR' string such as '{core}'"
    if stated == core:
        return None
    if _canonical(info.distribution) in _core_extra_distributions():
        fix = f"pip install '{info.distribution}{series_range(core)}' (its release for qwthn {_core_version()})"
    else:
        fix = f"pip install --upgrade {info.distribution} (to a release for qwthn {core}), or pip install " \
              f"'qwthn{series_range(stated)}'"  # fmt: skip
    return (f"{who} needs qwthn{series_range(stated)} (contract {stated}) but qwthn {_core_version()} "
            f"(contract {core}) is installed; fix: {fix}")  # fmt: skip


_SERIES = re.compile(r"(\d+)\.(\d+)")


def series_range(series: str) -> str:
    """The pip specifier of a release series: '0.1' -> '>=0.1,<0.2'."""
    major, minor = (int(part) for part in _SERIES.fullmatch(series).groups())  # type: ignore[union-attr]
    return f">={major}.{minor},<{major}.{minor + 1}"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _core_extra_distributions() -> set[str]:
    """The distributions core's extras install (qwthn-emulator, qwthn-qiskit, ...), from its installed metadata."""
    try:
        requirements = metadata.requires("qwthn") or []
    except metadata.PackageNotFoundError:
        return set()
    names = (re.match(r"[A-Za-z0-9._-]+", requirement) for requirement in requirements if "extra ==" in requirement)
    return {_canonical(name.group()) for name in names if name}


def _hook_names() -> list[str]:
    return sorted(name for name in dir(hookspecs) if name.startswith("qwthn_"))


def _core_extras() -> set[str]:
    """The backend extras core declares (pip install 'qwthn[qiskit]'), from its installed metadata."""
    try:
        return set(metadata.metadata("qwthn").get_all("Provides-Extra") or ())
    except metadata.PackageNotFoundError:
        return set()


def _core_version() -> str:
    from qwthn.version import __version__

    return __version__


host = PluginHost()


def get_backend(name: str = DEFAULT_BACKEND, **options: Any) -> QuantumBackend:
    """The backend registered as `name`, built with its backend-specific `options`."""
    return host.create_backend(name, options)


def list_backends() -> list[BackendEntry]:
    return host.backends()
