"""The plugin system: discovery through entry points, validation, lookup errors, allow-list."""

from __future__ import annotations

import pytest
import torch

from qwthn import BackendNotFoundError, PluginValidationError, get_backend, list_backends
from qwthn.ansatz import build_qnn_circuit
from qwthn.errors import CapabilityError
from qwthn.quantum_layer import QuantumLayer


def test_emulator_comes_through_the_entry_point_like_any_plugin(fresh_registry):
    entries = {entry.name: entry for entry in list_backends()}
    assert entries["emulator"].distribution == "qwthn-emulator"
    assert entries["emulator"].plugin == "emulator"
    assert type(get_backend("emulator")).__module__ == "qwthn_emulator.backend"


def test_third_party_plugin_is_found_listed_and_used(install_plugin):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    entries = {entry.name: entry for entry in list_backends()}
    assert entries["numpy-test"].version == "0.3"
    assert entries["numpy-test"].distribution == "qwthn-numpy-test"

    circuit = build_qnn_circuit(3, 2, entangler="ring", readout="probs")
    theirs = QuantumLayer(circuit, get_backend("numpy-test"), seed=7).double()
    ours = QuantumLayer(circuit, get_backend("emulator", dtype="complex128"), seed=7).double()
    inputs = torch.randn(6, 3, dtype=torch.float64)
    their_inputs, our_inputs = inputs.clone().requires_grad_(), inputs.clone().requires_grad_()
    cotangent = torch.randn(6, 8, dtype=torch.float64)
    (theirs(their_inputs) * cotangent).sum().backward()
    (ours(our_inputs) * cotangent).sum().backward()
    # little-endian output reordered by the core; parameter-shift gradients equal autograd's
    torch.testing.assert_close(theirs(inputs), ours(inputs), atol=1e-10, rtol=0)
    torch.testing.assert_close(their_inputs.grad, our_inputs.grad, atol=1e-9, rtol=0)
    torch.testing.assert_close(theirs.weights.grad, ours.weights.grad, atol=1e-9, rtol=0)


def test_plugin_with_unknown_hook_fails_validation(install_plugin):
    install_plugin("qwthn-bad", "0.1", "bad", "bad_plugin")
    with pytest.raises(PluginValidationError) as caught:
        list_backends()
    message = str(caught.value)
    assert "'bad'" in message and "qwthn_register_devices" in message
    assert "qwthn_register_backends" in message  # tells the author which hooks exist
    assert "\n" not in message


def test_unknown_backend_names_installed_ones_and_the_extra(fresh_registry):
    with pytest.raises(BackendNotFoundError) as caught:
        get_backend("wukong-9000")
    message = str(caught.value)
    assert "'wukong-9000'" in message and "emulator" in message and "qwthn[wukong-9000]" in message


def test_allow_list_loads_only_named_plugins(install_plugin, monkeypatch):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    monkeypatch.setenv("QWTHN_PLUGINS", "numpy-test")
    from qwthn import registry

    registry.reset()
    assert [entry.name for entry in list_backends()] == ["numpy-test"]


def test_capabilities_are_checked_before_compiling(install_plugin):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    backend = get_backend("numpy-test")
    with pytest.raises(CapabilityError, match="at most 10 qubits"):
        QuantumLayer(build_qnn_circuit(11, 1), backend)
    with pytest.raises(CapabilityError, match="no finite-shot mode"):
        QuantumLayer(build_qnn_circuit(2, 1), backend, shots=100)
    with pytest.raises(CapabilityError, match="takes no options"):
        get_backend("numpy-test", fast=True)
