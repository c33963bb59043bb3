"""Option validation: every mistake is one `OptionsError` line naming the option, before any circuit runs."""

from __future__ import annotations

import pytest

from qwthn import OptionsError, get_backend

BAD = {
    "unknown device": (
        {"device": "no.such.device"},
        ["'device'", "no.such.device", "plugin_devices", "lightning.qubit"],
    ),
    "shots on the device": ({"device_kwargs": {"shots": 100}}, ["'device_kwargs'", "shots", "runtime"]),
    "seed on the device": ({"device_kwargs": {"seed": 1}}, ["'device_kwargs'", "seed"]),
    "wires on the device": ({"device_kwargs": {"wires": 3}}, ["'device_kwargs'", "wires"]),
    "argument the device lacks": ({"device_kwargs": {"bogus": 1}}, ["'device_kwargs'", "bogus", "max_workers"]),
    "arguments the device refuses": (
        {"device": "default.mixed", "device_kwargs": {"readout_prob": 2.0}},
        ["'device_kwargs'", "cannot be built", "readout"],
    ),
    "backprop on lightning": ({"device": "lightning.qubit", "diff_method": "backprop"}, ["'diff_method'", "backprop"]),
    "adjoint on a mixed-state device": ({"device": "default.mixed", "diff_method": "adjoint"}, ["'diff_method'"]),
    "unknown diff method": ({"diff_method": "finite-diff"}, ["'diff_method'"]),
    "noise on a pure-state device": ({"noise": {"depolarizing": 0.1}}, ["'noise'", "default.mixed"]),
    "depolarizing out of range": ({"device": "default.mixed", "noise": {"depolarizing": 0.9}}, ["noise.depolarizing"]),
    "unknown noise channel": ({"device": "default.mixed", "noise": {"bit_flip": 0.1}}, ["noise.bit_flip"]),
    "no qubits": ({"max_qubits": 0}, ["'max_qubits'"]),
    "zero batch": ({"max_batch": 0}, ["'max_batch'"]),
    "unknown option": ({"shots": 100}, ["'shots'", "device, device_kwargs"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_option_is_one_line_naming_it(case):
    options, fragments = BAD[case]
    with pytest.raises(OptionsError) as caught:
        get_backend("pennylane", **options)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize(
    "options",
    [
        {"device": "lightning.qubit", "device_kwargs": {"batch_obs": True}},
        {"device_kwargs": {"max_workers": None}},
        {"device": "default.mixed", "noise": {"depolarizing": 0.05, "amplitude_damping": 0.02}},
        {"device": "default.mixed", "noise": {"depolarizing": 0.0}},
    ],
)
def test_good_options_are_accepted(options):
    backend = get_backend("pennylane", **options)
    assert backend.options.device == options["device"] if "device" in options else "default.qubit"
