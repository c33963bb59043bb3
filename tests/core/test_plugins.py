"""The plugin system: discovery through entry points, hook callers, broken plugins, lookup errors, allow-list."""

from __future__ import annotations

import pytest
import torch

from qwthn import BackendNotFoundError, OptionsError, PluginValidationError, get_backend, list_backends
from qwthn.errors import CapabilityError
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime


def test_emulator_comes_through_the_entry_point_like_any_plugin(fresh_registry):
    entries = {entry.name: entry for entry in list_backends()}
    assert entries["emulator"].distribution == "qwthn-emulator"
    assert entries["emulator"].plugin.name == "emulator"
    assert type(get_backend("emulator")).__module__ == "qwthn_emulator.backend"


def test_core_methods_come_through_the_same_hook(fresh_registry):
    from qwthn.methods.qtha import VARIANTS

    assert fresh_registry.methods.names() == ["qwthn", "lora", "quanta", "qpa", "quantum-peft", *VARIANTS]
    assert fresh_registry.methods.get("lora").plugin == "qwthn.methods.builtin"
    assert fresh_registry.methods.get("qtha-mlp4").plugin == "qwthn.methods.builtin"


def test_hooks_are_called_through_pluggys_hook_caller(fresh_registry):
    seen = []
    manager = fresh_registry.manager  # loads the plugins once, without monitoring
    undo = manager.add_hookcall_monitoring(lambda name, impls, kwargs: seen.append(name), lambda *args: None)
    try:
        fresh_registry.register_commands(object())
    finally:
        undo()
    assert seen.count("qwthn_register_commands") == len(manager.get_plugins())


def test_third_party_plugin_is_found_listed_and_used(install_plugin):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    entries = {entry.name: entry for entry in list_backends()}
    assert entries["numpy-test"].version == "0.3"
    assert entries["numpy-test"].distribution == "qwthn-numpy-test"

    circuit = build_qnn_circuit(3, 2, entangler="ring", readout="probs")
    theirs = QuantumLayer(circuit, Runtime(get_backend("numpy-test")), init_seed=7).double()
    ours = QuantumLayer(circuit, Runtime(get_backend("emulator", dtype="complex128")), init_seed=7).double()
    inputs = torch.randn(6, 3, dtype=torch.float64)
    their_inputs, our_inputs = inputs.clone().requires_grad_(), inputs.clone().requires_grad_()
    cotangent = torch.randn(6, 8, dtype=torch.float64)
    (theirs(their_inputs) * cotangent).sum().backward()
    (ours(our_inputs) * cotangent).sum().backward()
    # little-endian output reordered by the core; parameter-shift gradients equal autograd's
    torch.testing.assert_close(theirs(inputs), ours(inputs), atol=1e-10, rtol=0)
    torch.testing.assert_close(their_inputs.grad, our_inputs.grad, atol=1e-9, rtol=0)
    torch.testing.assert_close(theirs.weights.grad, ours.weights.grad, atol=1e-9, rtol=0)


def test_plugin_with_unknown_hook_is_listed_as_broken_and_spares_the_others(install_plugin):
    install_plugin("qwthn-bad", "0.1", "bad", "bad_plugin")
    (broken,) = [b for b in __import__("qwthn.plugins").plugins.host.broken() if b.plugin.name == "bad"]
    assert "qwthn_register_devices" in broken.reason
    assert "qwthn_register_backends" in broken.reason  # tells the author which hooks exist
    assert "\n" not in broken.reason
    assert "emulator" in [entry.name for entry in list_backends()]


def test_plugin_whose_import_fails_is_listed_as_broken(install_plugin):
    install_plugin("qwthn-missing-dep", "0.2", "missing-dep", "broken_import_plugin")
    from qwthn.plugins import host

    (broken,) = [b for b in host.broken() if b.plugin.name == "missing-dep"]
    assert broken.reason.startswith("import failed: ModuleNotFoundError")
    assert "qwthn_no_such_dependency" in broken.reason
    assert broken.plugin.version == "0.2"
    with pytest.raises(BackendNotFoundError, match="plugin 'missing-dep' is broken: import failed"):
        get_backend("missing-dep")
    assert get_backend("emulator").name == "emulator"


def test_unknown_backend_names_installed_ones_and_the_extra(fresh_registry):
    with pytest.raises(BackendNotFoundError) as caught:
        get_backend("wukong-9000")
    message = str(caught.value)
    assert "'wukong-9000'" in message and "emulator" in message
    assert message.endswith("no qwthn extra provides it; install the plugin that does (see docs/plugins.md)")


def test_allow_list_loads_only_named_plugins(install_plugin, monkeypatch):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    monkeypatch.setenv("QWTHN_PLUGINS", "numpy-test")
    from qwthn.plugins import host

    host.reset()
    assert [entry.name for entry in list_backends()] == ["numpy-test"]


def test_capabilities_are_checked_before_compiling(install_plugin):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    runtime = Runtime(get_backend("numpy-test"))
    with pytest.raises(CapabilityError, match="at most 10 qubits"):
        runtime.prepare(build_qnn_circuit(11, 1))
    with pytest.raises(CapabilityError, match="no finite-shot mode"):
        Runtime(get_backend("numpy-test"), shots=100).prepare(build_qnn_circuit(2, 1))
    assert runtime.tracker.circuits == 0


def test_capabilities_belong_to_the_instance(install_plugin):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    small, large = get_backend("numpy-test", max_qubits=4), get_backend("numpy-test", max_qubits=12)
    assert (small.capabilities.max_qubits, large.capabilities.max_qubits) == (4, 12)


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("emulator", {"fast": True}, "backend 'emulator': option 'fast': Extra inputs are not permitted"),
        ("emulator", {"dtype": "complex32"}, "backend 'emulator': option 'dtype': Input should be 'complex64'"),
        ("emulator", {"fuse_threshold": float("inf")}, "option 'fuse_threshold': must be a finite number"),
        ("numpy-test", {"max_batch": 0}, "backend 'numpy-test': option 'max_batch'"),
    ],
)
def test_bad_options_are_options_errors_naming_the_field(install_plugin, name, options, expected):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    with pytest.raises(OptionsError) as caught:
        get_backend(name, **options)
    assert not isinstance(caught.value, CapabilityError)
    assert expected in str(caught.value) and "its options are:" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_error_across_several_options_is_reported_without_a_bogus_field():
    from pydantic import BaseModel, model_validator

    from qwthn.plugins import validate_options

    class Options(BaseModel):
        low: int = 0
        high: int = 1

        @model_validator(mode="after")
        def _ordered(self):
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    class Backend:
        name = "ranged"

    Backend.Options = Options
    with pytest.raises(OptionsError) as caught:
        validate_options(Backend, {"low": 5})
    assert str(caught.value) == "backend 'ranged': low must not exceed high; its options are: low, high"


def test_a_backend_registered_by_path_is_imported_only_when_used(install_plugin):
    import sys

    install_plugin("qwthn-lazy", "0.1", "lazy", "lazy_plugin")
    sys.modules.pop("lazy_backend", None)
    assert {"lazy-test", "lazy-missing"} <= {entry.name for entry in list_backends()}
    assert "lazy_backend" not in sys.modules
    assert get_backend("lazy-test").capabilities.qubit_ordering == "little"
    assert "lazy_backend" in sys.modules
    with pytest.raises(PluginValidationError) as caught:
        get_backend("lazy-missing")
    assert str(caught.value).startswith(
        "backend 'lazy-missing' of plugin 'lazy' failed to load from qwthn_no_such_module:Backend: ModuleNotFoundError"
    )


def test_a_blocked_plugin_is_never_imported(install_plugin, monkeypatch):
    import sys

    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    monkeypatch.delitem(sys.modules, "numpy_backend", raising=False)
    monkeypatch.setenv("QWTHN_BLOCK_PLUGINS", " numpy-test ,nothing-by-that-name")
    from qwthn.plugins import host

    host.reset()
    names = [entry.name for entry in list_backends()]
    assert "numpy-test" not in names and "emulator" in names  # only the named plugin is blocked
    assert "numpy_backend" not in sys.modules  # its module never ran
    assert host.broken() == []
    assert host.blocked_note() == (
        "QWTHN_BLOCK_PLUGINS=' numpy-test ,nothing-by-that-name' blocks installed plugins numpy-test; "
        "remove them from it or unset QWTHN_BLOCK_PLUGINS"
    )


def test_the_block_list_wins_over_the_allow_list(install_plugin, monkeypatch):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    monkeypatch.setenv("QWTHN_PLUGINS", "numpy-test,emulator")
    monkeypatch.setenv("QWTHN_BLOCK_PLUGINS", "numpy-test")
    from qwthn.plugins import host

    host.reset()
    assert [entry.name for entry in list_backends()] == ["emulator"]


def test_asking_for_a_blocked_backend_names_the_variable(install_plugin, monkeypatch):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    monkeypatch.setenv("QWTHN_BLOCK_PLUGINS", "numpy-test")
    from qwthn.plugins import host

    host.reset()
    with pytest.raises(BackendNotFoundError) as caught:
        get_backend("numpy-test")
    assert str(caught.value) == (
        "backend 'numpy-test' is blocked by QWTHN_BLOCK_PLUGINS='numpy-test'; "
        "remove 'numpy-test' from the variable (or unset it) to use it"
    )


def test_a_backend_of_a_blocked_plugin_under_another_name_mentions_the_block(install_plugin, monkeypatch):
    install_plugin("qwthn-lazy", "0.1", "lazy", "lazy_plugin")
    monkeypatch.setenv("QWTHN_BLOCK_PLUGINS", "lazy")
    from qwthn.plugins import host

    host.reset()
    with pytest.raises(BackendNotFoundError) as caught:
        get_backend("lazy-test")
    message = str(caught.value)
    assert "QWTHN_BLOCK_PLUGINS='lazy' blocks installed plugins lazy" in message and "\n" not in message


def test_unset_or_empty_block_list_blocks_nothing(install_plugin, monkeypatch):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    monkeypatch.setenv("QWTHN_BLOCK_PLUGINS", " , ")
    from qwthn.plugins import host

    host.reset()
    assert "numpy-test" in [entry.name for entry in list_backends()]
    assert host.blocked_note() is None


@pytest.mark.parametrize("as_json", [False, True])
def test_qwthn_backends_warns_about_blocked_plugins(install_plugin, monkeypatch, capsys, as_json):
    import json

    from qwthn.cli import main

    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    monkeypatch.setenv("QWTHN_BLOCK_PLUGINS", "numpy-test")
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exited:
        main(["backends", "--json"] if as_json else ["backends"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    note = "QWTHN_BLOCK_PLUGINS='numpy-test' blocks installed plugins numpy-test; remove them from it or unset"
    if as_json:
        listing = json.loads(out)
        assert listing["blocked"].startswith(note)
        assert "numpy-test" not in [backend["name"] for backend in listing["backends"]]
    else:
        assert out.splitlines()[0].startswith(f"warning: {note}")
        assert "numpy-test  (" not in out


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        ({"api_key": "s3cr3t-value"}, False),  # an unknown option: its name is the fix, its value may be a key
        ({"device_kwargs": {"auth": {"Token": "s3cr3t-value"}}}, False),  # a credential-like name at any depth
        ({"device_kwargs": "s3cr3t-value"}, True),  # a wrong type under a plain name is still repeated
        ({"device_kwargs": {"wires": ["s3cr3t-value"]}, "limit": 1}, True),
    ],
)
def test_an_options_error_never_repeats_what_may_be_a_credential(options, shown):
    from typing import Any

    from pydantic import BaseModel, ConfigDict, field_validator

    from qwthn.plugins import validate_options

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        device_kwargs: dict[str, Any] = {}
        limit: int = 0

        @field_validator("device_kwargs")
        @classmethod
        def _refuse(cls, value):
            raise ValueError("the device takes none of these")

    class Backend:
        name = "remote"

    Backend.Options = Options
    with pytest.raises(OptionsError) as caught:
        validate_options(Backend, options)
    message = str(caught.value)
    assert message.startswith("backend 'remote': option '")
    assert message.endswith("its options are: device_kwargs, limit")
    assert ("s3cr3t-value" in message) is shown, message
