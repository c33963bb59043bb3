"""What `qwthn backends` shows: every installed backend, its capabilities and options schema, and broken plugins.

Plain lines rather than a wide table, so nothing is cut at 80 columns or in a pipe:
names and hints are printed whole, and long lists wrap.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from rich.console import Console

from qwthn.errors import QwthnError
from qwthn.plugins import BackendEntry, BrokenPlugin, host

YES_NO = {True: "yes", False: "no"}
JSON_SCALARS = (str, int, float, bool, list, dict, type(None))


def _capabilities(entry: BackendEntry) -> tuple[dict[str, Any] | None, str | None]:
    """The capabilities of an instance with default options, or why there is none."""
    try:
        backend = entry.backend_class(entry.backend_class.Options())
        caps = backend.capabilities
    except Exception as error:  # required options, missing credentials: the listing still shows the rest
        return None, f"needs options to describe ({type(error).__name__}: {' '.join(str(error).split())})"
    data = caps.model_dump(mode="json")
    data["native_gates"] = sorted(caps.native_gates)
    if caps.coupling_map is not None:
        data["coupling_map"] = sorted(list(pair) for pair in caps.coupling_map)
    return data, None


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, get_args(annotation)))
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _options_schema(options: type[BaseModel]) -> list[dict[str, Any]]:
    fields = []
    for name, field in options.model_fields.items():
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        fields.append({
            "name": name,
            "type": _type_name(field.annotation),
            "required": field.is_required(),
            "default": default if isinstance(default, JSON_SCALARS) else str(default),
            "description": field.description or "",
        })  # fmt: skip
    return fields


def _describe(entry: BackendEntry) -> dict[str, Any]:
    capabilities, problem = _capabilities(entry)
    return {
        "name": entry.name,
        "description": entry.backend_class.description,
        "distribution": entry.distribution,
        "version": entry.version,
        "plugin": entry.plugin.name,
        "capabilities": capabilities,
        "capabilities_note": problem,
        "options": _options_schema(entry.backend_class.Options),
    }


def _describe_broken(broken: BrokenPlugin) -> dict[str, str]:
    plugin = broken.plugin
    return {"plugin": plugin.name, "distribution": plugin.distribution, "version": plugin.version,
            "reason": broken.reason}  # fmt: skip


def describe_all() -> dict[str, Any]:
    described, broken = [], [_describe_broken(each) for each in host.broken()]
    for entry in host.backends():
        try:
            described.append(_describe(entry))
        except QwthnError as error:  # a lazily registered backend whose module fails to import
            plugin = entry.plugin
            broken.append({"plugin": plugin.name, "distribution": plugin.distribution, "version": plugin.version,
                           "reason": str(error)})  # fmt: skip
    return {"entry_point_group": "qwthn", "backends": described, "broken_plugins": broken,
            "hidden": host.hidden_note(), "blocked": host.blocked_note()}  # fmt: skip


def backend_details(name: str) -> dict[str, Any]:
    return _describe(host.backend_entry(name))


def _summary(caps: dict[str, Any]) -> list[str]:
    shots = YES_NO[caps["supports_shots"]] + (f" (max {caps['max_shots']})" if caps["max_shots"] else "")
    coupling = "all-to-all" if caps["coupling_map"] is None else f"{len(caps['coupling_map'])} couplers"
    batch = caps["max_batch"] or "unbounded"
    return [
        f"qubits <= {caps['max_qubits']} | gradient {caps['gradient']} | shots {shots} | exact "
        f"{YES_NO[caps['exact']]} | noise {YES_NO[caps['supports_noise']]}",
        f"ordering {caps['qubit_ordering']} | coupling {coupling} | max batch {batch} | remote "
        f"{YES_NO[caps['remote']]} | devices {', '.join(caps['devices'])}",
    ]


def print_listing(listing: dict[str, Any], console: Console) -> None:
    backends = listing["backends"]
    for note in ("blocked", "hidden"):
        if listing.get(note):
            console.print(f"warning: {listing[note]}", markup=False, style="yellow")
    if not backends and not listing.get("hidden") and not listing.get("blocked"):
        console.print("no backend installed; pip install 'qwthn[emulator]' for the default one", markup=False)
    for backend in backends:
        console.print(f"{backend['name']}  ({backend['distribution']} {backend['version']})", markup=False)
        if backend["description"]:
            console.print(f"  {backend['description']}", markup=False)
        caps = backend["capabilities"]
        if caps is None:
            console.print(f"  {backend['capabilities_note']}", markup=False)
        else:
            for line in _summary(caps):
                console.print(f"  {line}", markup=False)
            console.print(f"  gates: {' '.join(caps['native_gates'])}", markup=False)
        options = ", ".join(option["name"] for option in backend["options"]) or "none"
        console.print(f"  options: {options}", markup=False)
    for broken in listing["broken_plugins"]:
        console.print(
            f"broken plugin {broken['plugin']} ({broken['distribution']} {broken['version']}): {broken['reason']}",
            markup=False,
        )
    console.print(f"(entry-point group '{listing['entry_point_group']}'; `qwthn backends NAME` for details)",
                  markup=False)


def print_details(details: dict[str, Any], console: Console) -> None:
    console.print(f"{details['name']}  ({details['distribution']} {details['version']}, plugin "
                  f"'{details['plugin']}')", markup=False)
    if details["description"]:
        console.print(details["description"], markup=False)
    caps = details["capabilities"]
    console.print("capabilities (default options):", markup=False)
    if caps is None:
        console.print(f"  {details['capabilities_note']}", markup=False)
    else:
        for key, value in caps.items():
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            console.print(f"  {key}: {shown}", markup=False)
    console.print("options:", markup=False)
    if not details["options"]:
        console.print("  none", markup=False)
    for option in details["options"]:
        default = "required" if option["required"] else f"default {option['default']!r}"
        console.print(f"  {option['name']} ({option['type']}, {default}): {option['description']}", markup=False)
