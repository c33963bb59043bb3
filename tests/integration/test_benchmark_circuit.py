"""The throughput benchmark times the circuit an adapter actually runs (it used to time a hand-built other one)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from torch import nn

from qwthn import QWTHNConfig, get_backend
from qwthn.methods.qwthn import QWTHNLinear
from qwthn.runtime import Runtime

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "qnn_throughput.py"


def test_benchmark_circuit_is_the_adapters_circuit():
    spec = importlib.util.spec_from_file_location("qnn_throughput", SCRIPT)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    config = QWTHNConfig(n_qubits=8, n_layers=4)
    adapter = QWTHNLinear(nn.Linear(16, 16), config, Runtime(get_backend("emulator")))
    assert benchmark.qnn_circuit(8, 4) == adapter.qnn.circuit
