"""The device's own gradient (adjoint differentiation) as the contract's `vjp`.

The batch tape is executed once more under PennyLane's autograd interface with
`diff_method="adjoint"` and `device_vjp=True`, and autograd pulls the cotangent
back through it: PennyLane hands the cotangent to the device's `compute_vjp`
(lightning folds the weighted observables into one Hamiltonian and runs one adjoint
pass per row). The autograd interface keeps float64 end to end; the torch interface
turns lightning's Python-float results into float32 tensors.

Adjoint differentiation only takes expectation values, so for a `probs` read-out the
cotangent c of the probabilities is rewritten as one on Z-strings:
sum_k c_k p_k = sum_S a_S <Z_S> with a = WHT(c) / 2^n (see `CompiledCircuit.z_strings`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qwthn_pennylane.translate import CompiledCircuit, as_rows, walsh_hadamard


def adjoint_vjp(
    compiled: CompiledCircuit,
    device: Any,
    inputs: np.ndarray,
    weights: np.ndarray,
    cotangent: np.ndarray,
    *,
    device_vjp: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(d<c, f>/d inputs, d<c, f>/d weights) for the batch, in the shapes of inputs and weights."""
    import autograd
    import pennylane as qml

    if not compiled.slots:
        return np.zeros_like(inputs), np.zeros_like(weights)
    circuit = compiled.circuit
    batch = inputs.shape[0]
    if circuit.readout.kind == "probs":
        measurements = compiled.z_strings()
        coefficients = walsh_hadamard(cotangent, circuit.n_qubits)[:, 1:] / 2**circuit.n_qubits
    else:
        measurements, coefficients = compiled.measurements, cotangent
    n_inputs = inputs.size

    def objective(flat: Any) -> Any:
        tape = compiled.bind(
            flat[:n_inputs].reshape(inputs.shape), flat[n_inputs:].reshape(weights.shape), measurements=measurements
        )
        (result,) = qml.execute([tape], device, diff_method="adjoint", grad_on_execution=False, device_vjp=device_vjp)
        values = as_rows(result, len(measurements), tape.batch_size is not None, batch, qml.math)
        return (values * coefficients).sum()

    flat = autograd.grad(objective)(np.concatenate([inputs.ravel(), weights.ravel()]))
    return flat[:n_inputs].reshape(inputs.shape), flat[n_inputs:].reshape(weights.shape)
