"""Wukong noisy engine: exact noisy probabilities (density matrix, read-out confusion) per second.

The adapter's circuit (`build_qnn_circuit(n, 2)`: RY encoding, 2 layers of RZ/RY, a CZ chain; native on
the chip) with a NoiseSpec of median Wukong figures: one-qubit fidelity 0.998 (lambda = 2(1-F) = 0.004),
CZ fidelity 0.963 (lambda = 4/3 (1-F) = 0.0493), T1 18 us, T2 5 us, gates 30 / 40 ns, read-out
(P(0|0), P(1|1)) = (0.956, 0.821). Batch of B rows, shared weights; printed beside the noiseless
emulator (complex128, probs read-out) on the same circuit. Target: >= 5000 circuit evaluations/s at n = 6.

    python benchmarks/wukong_engine.py            # n = 4, 6, 8, B = 1024
    python benchmarks/wukong_engine.py --smoke    # tiny (seconds)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

try:
    import qwthn_wukong  # noqa: F401
except ImportError:  # plugin not installed: use its source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "wukong" / "src"))

import qwthn
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn_wukong.density.channels import lambda_from_fidelity
from qwthn_wukong.engine import noisy_probabilities
from qwthn_wukong.noise_spec import NoiseSpec, WireNoise


def median_noise(n: int) -> NoiseSpec:
    wire = WireNoise(lambda_from_fidelity(0.998, 1), 18_000.0, 5_000.0, (0.956, 0.821))
    pairs = {(a, a + 1): lambda_from_fidelity(0.963, 2) for a in range(n - 1)}
    return NoiseSpec((wire,) * n, pairs, single_gate_ns=30.0, cz_gate_ns=40.0)


def rate(fn, batch: int, min_seconds: float) -> float:
    fn()  # warm-up
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and runs >= 3:
            return runs * batch / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    parser.add_argument("--qubits", type=int, nargs="*", default=None)
    parser.add_argument("--batch", type=int, default=None)
    args = parser.parse_args()
    qubits = args.qubits or ([2, 4] if args.smoke else [4, 6, 8])
    batch = args.batch or (16 if args.smoke else 1024)
    seconds = 0.05 if args.smoke else 2.0
    backend = qwthn.get_backend("emulator", dtype="complex128")
    rng = np.random.default_rng(0)
    print(f"torch threads {torch.get_num_threads()}, batch {batch}, shared weights, float64")
    print(f"{'n':>3} {'noisy evals/s':>14} {'noiseless emulator evals/s':>27} {'ms/batch noisy':>15}")
    for n in qubits:
        circuit = build_qnn_circuit(n, 2, readout="probs")
        inputs = torch.as_tensor(rng.uniform(-1, 1, (batch, n)))
        weights = torch.as_tensor(rng.uniform(-np.pi, np.pi, circuit.n_weights))
        noise = median_noise(n)
        compiled = backend.compile(circuit)
        noisy = rate(lambda: noisy_probabilities(circuit, inputs, weights, noise), batch, seconds)  # noqa: B023
        ideal = rate(lambda: backend.evaluate(compiled, inputs, weights), batch, seconds)  # noqa: B023
        print(f"{n:>3} {noisy:>14.0f} {ideal:>27.0f} {1000 * batch / noisy:>15.2f}")


if __name__ == "__main__":
    main()
