"""Options: bad values are one OptionsError line naming the option; simulator choice, noise parsing, the qsim extra."""

from __future__ import annotations

import json
import sys

import cirq
import pytest

from qwthn import OptionsError, get_backend
from qwthn_cirq.options import QSIM_EXTRA, CirqOptions, qsim_available


@pytest.mark.parametrize(
    ("options", "named", "says"),
    [
        ({"simulator": "gpu"}, "simulator", "statevector"),
        ({"dtype": "complex256"}, "dtype", "complex128"),
        ({"depolarizing": 1.5}, "depolarizing", "less than or equal to 1"),
        ({"depolarizing": 0.1, "simulator": "statevector"}, "depolarizing", "density_matrix"),
        ({"noise_model": cirq.amplitude_damp(0.1), "simulator": "statevector"}, "noise_model", "density_matrix"),
        ({"noise_model": 5}, "noise_model", "cirq.NoiseModel"),
        ({"noise_model": "{not json"}, "noise_model", "cirq.to_json"),
        ({"qsim_threads": 4}, "qsim_threads", "only to simulator 'qsim'"),
        ({"max_batch": 0}, "max_batch", "greater than or equal to 1"),
        ({"shots": 100}, "shots", "Extra inputs"),
    ],
)
def test_bad_option_is_one_line_naming_it(options, named, says):
    with pytest.raises(OptionsError) as error:
        get_backend("cirq", **options)
    message = str(error.value)
    assert f"option '{named}'" in message and says in message and "\n" not in message, message


@pytest.mark.skipif(not qsim_available(), reason="qsimcirq is not installed")
def test_qsim_refuses_complex128():
    with pytest.raises(OptionsError, match=r"option 'dtype'.*complex64 only"):
        get_backend("cirq", simulator="qsim", dtype="complex128")


def test_qsim_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "qsimcirq", None)  # makes `import qsimcirq` raise ImportError
    assert not qsim_available()
    with pytest.raises(OptionsError) as error:
        get_backend("cirq", simulator="qsim")
    assert "option 'simulator'" in str(error.value) and QSIM_EXTRA in str(error.value)
    assert QSIM_EXTRA == "pip install 'qwthn-cirq[qsim]'"


def test_auto_picks_density_matrix_for_noise_and_declares_it():
    plain, noisy = get_backend("cirq"), get_backend("cirq", depolarizing=0.01)
    assert plain.options.kind == "statevector" and not plain.capabilities.supports_noise
    assert noisy.options.kind == "density_matrix" and noisy.capabilities.supports_noise
    assert noisy.capabilities.max_qubits == 10 < plain.capabilities.max_qubits
    assert plain.options.numpy_dtype == "complex128"
    if qsim_available():
        assert get_backend("cirq", simulator="qsim").options.numpy_dtype == "complex64"


def test_noise_model_forms():
    """A channel becomes a constant per-qubit model; a NoiseModel is kept; JSON dumps read back equal."""
    from_channel = CirqOptions(noise_model=cirq.amplitude_damp(0.1)).noise_model
    assert from_channel == cirq.ConstantQubitNoiseModel(cirq.amplitude_damp(0.1))
    model = cirq.ConstantQubitNoiseModel(cirq.depolarize(0.02))
    options = CirqOptions(noise_model=model, max_batch=8)
    assert options.noise_model is model
    dumped = json.loads(options.model_dump_json())
    assert isinstance(dumped["noise_model"], str)
    again = get_backend("cirq", **dumped).options
    assert again.noise_model == model and again.max_batch == 8 and again.kind == "density_matrix"
    assert CirqOptions(noise_model=cirq.NO_NOISE).noise_model is None
