"""QNN forward+backward throughput: the qwthn emulator against PennyLane and against a dense-GEMM floor.

The QNN is the adapter's own circuit, built by core from a QWTHNConfig (`QWTHNConfig.circuit()`): RY angle
encoding of n inputs, then L layers of [RZ(w), RY(w) on every qubit] with a CZ chain between
layers, read out <Z_i> on every qubit; loss = sum of outputs; gradients w.r.t. inputs and weights.

- qwthn: a QuantumLayer on a Runtime over the emulator backend, exactly as an adapter runs it.
- PennyLane: the same gate list translated op by op, default.qubit through qml.qnn.TorchLayer,
  diff_method="backprop", the whole batch in one call (parameter broadcasting).
- floor: three complex64 GEMMs [B x 2^n] @ [2^n x 2^n] (the forward product and the two
  backward ones) — what applying one dense layer unitary costs, whatever the simulator.

Both sides are checked to agree before anything is timed. Times are medians after a warm-up; the
head-to-head times its three contenders in turn every round, so they share whatever else the machine does.

    python benchmarks/qnn_throughput.py                 # n=8, L=4, B=4096 head-to-head + cost table
    python benchmarks/qnn_throughput.py --smoke         # tiny sizes, a few seconds (CI)
    python benchmarks/qnn_throughput.py --markdown out.md
    python benchmarks/qnn_throughput.py --threads 1     # on a machine shared with other jobs
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from qwthn import QWTHNConfig, get_backend
from qwthn.contract.circuit import Circuit
from qwthn.runtime import QuantumLayer, Runtime

TARGET_VS_PENNYLANE = 35.0
TARGET_VS_FLOOR = 1.25
TARGET_REGIME_VS_FLOOR = 2.0
MAX_AMPLITUDES = 1 << 24
"""Cost-table cells with batch * 2^n above this (128 MiB per complex64 state) are skipped."""


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    """Other jobs on the machine skew every time: the 1-minute load average is printed with the results."""
    return f"load average {os.getloadavg()[0]:.2f}"


def qnn_circuit(n_qubits: int, n_layers: int) -> Circuit:
    """The circuit a QWTHN adapter with n qubits and L layers (other knobs at their defaults) runs."""
    return QWTHNConfig(n_qubits=n_qubits, n_layers=n_layers).circuit()


PENNYLANE_OPS = {"RX": "RX", "RY": "RY", "RZ": "RZ", "H": "Hadamard", "X": "PauliX", "CZ": "CZ", "CNOT": "CNOT"}


def pennylane_layer(circuit: Circuit, weights: torch.Tensor) -> torch.nn.Module:
    """The same gate list as PennyLane operations, one op per gate."""
    import pennylane as qml

    device = qml.device("default.qubit", wires=circuit.n_qubits)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def qnode(inputs, weights):
        for gate in circuit.gates:
            operation = getattr(qml, PENNYLANE_OPS[gate.name])
            angle = gate.angle
            if angle is None:
                operation(wires=list(gate.wires))
            elif angle.source == "input":
                operation(inputs[..., angle.index], wires=list(gate.wires))
            elif angle.source == "weight":
                operation(weights[angle.index], wires=list(gate.wires))
            else:
                operation(angle.value, wires=list(gate.wires))
        return [qml.expval(qml.PauliZ(wire)) for wire in circuit.readout.wires]

    layer = qml.qnn.TorchLayer(qnode, {"weights": (circuit.n_weights,)})
    with torch.no_grad():
        layer.weights.copy_(weights)
    return layer


def median_seconds(step: Callable[[], object], repeats: int, budget_seconds: float = 3.0) -> float:
    """Median of up to `repeats` timed runs after one warm-up, fewer when a run is slow (table cells)."""
    start = time.perf_counter()
    step()
    repeats = max(1, min(repeats, int(budget_seconds / (time.perf_counter() - start))))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(steps: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict[str, float]:
    """Median seconds per step, timing the steps in turn each round (each `count` times per round).

    Interleaving makes the compared times share whatever else the machine is doing.
    """
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(rounds + 1):  # round 0 is the warm-up
        for name, (step, count) in steps.items():
            for _ in range(count):
                start = time.perf_counter()
                step()
                if round_index:
                    times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def forward_backward(model: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        inputs.grad = None
        model(inputs).sum().backward()

    return step


def emulator_model(circuit: Circuit, weights: torch.Tensor) -> QuantumLayer:
    """A QuantumLayer on the emulator through the runtime, as an adapter runs it (compiled once, here)."""
    layer = QuantumLayer(circuit, Runtime(get_backend("emulator")))
    with torch.no_grad():
        layer.weights.copy_(weights)
    return layer


def floor_step(batch: int, n_qubits: int, generator: torch.Generator) -> Callable[[], None]:
    dim = 2**n_qubits
    state = torch.randn(batch, dim, dtype=torch.complex64, generator=generator)
    unitary = torch.randn(dim, dim, dtype=torch.complex64, generator=generator)
    grad_out = torch.randn(batch, dim, dtype=torch.complex64, generator=generator)

    def step() -> tuple[torch.Tensor, ...]:
        return (
            state @ unitary,  # forward
            grad_out @ unitary.mH,  # gradient w.r.t. the state
            state.mH @ grad_out,  # gradient w.r.t. the unitary
        )

    return step


def head_to_head(n_qubits: int, n_layers: int, batch: int, repeats: int) -> dict[str, float]:
    generator = torch.Generator().manual_seed(0)
    circuit = qnn_circuit(n_qubits, n_layers)
    inputs = (torch.rand(batch, n_qubits, generator=generator) * torch.pi).requires_grad_()
    weights = torch.rand(circuit.n_weights, generator=generator) * 2 * torch.pi
    ours = emulator_model(circuit, weights)
    theirs = pennylane_layer(circuit, weights)

    ours_out = ours(inputs)
    (ours_grad,) = torch.autograd.grad(ours_out.sum(), inputs)
    theirs_out = theirs(inputs)
    (theirs_grad,) = torch.autograd.grad(theirs_out.sum(), inputs)
    torch.testing.assert_close(ours_out, theirs_out.to(ours_out.dtype), atol=1e-4, rtol=0)
    torch.testing.assert_close(ours_grad, theirs_grad.to(ours_grad.dtype), atol=1e-4, rtol=0)

    steps = {
        "pennylane": (forward_backward(theirs, inputs), 1),
        "emulator": (forward_backward(ours, inputs), 4),
        "floor": (floor_step(batch, n_qubits, generator), 4),
    }
    return interleaved_medians(steps, repeats)


def fourier_model(circuit: Circuit, weights: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The circuit through its exact Fourier series, differentiable in the weights as in training.

    Each call evaluates the circuit on its small grid (3^n rows without re-uploading) through the
    emulator, turns those values into the series' coefficients (linear, so autograd carries gradients
    back to the weights) and evaluates the series on the whole batch: exact, and no state vectors
    of batch size.
    """
    from qwthn.runtime.fourier import FourierSeries, coefficients_from_values, grid

    layer = emulator_model(circuit, weights)
    series = FourierSeries(circuit)
    points = grid(series.frequencies).to(torch.float32)

    def model(inputs: torch.Tensor) -> torch.Tensor:
        coefficients = coefficients_from_values(layer(points), series.frequencies).to(inputs.dtype)
        del series.coefficients
        series.coefficients = coefficients
        return series(inputs)

    return model


def adapter_regime(n_qubits: int, n_layers: int, batch: int, rounds: int) -> dict[str, float]:
    """The regime an adapter runs the emulator in (small n, a batch of tokens): emulator, Fourier path, floor."""
    generator = torch.Generator().manual_seed(2)
    circuit = qnn_circuit(n_qubits, n_layers)
    weights = torch.rand(circuit.n_weights, generator=generator) * 2 * torch.pi
    inputs = (torch.rand(batch, n_qubits, generator=generator) * torch.pi).requires_grad_()
    emulator, fourier = emulator_model(circuit, weights), fourier_model(circuit, weights)
    torch.testing.assert_close(fourier(inputs), emulator(inputs), atol=1e-4, rtol=0)
    steps = {
        "emulator": (forward_backward(emulator, inputs), 2),
        "fourier path": (forward_backward(fourier, inputs), 2),
        "floor": (floor_step(batch, n_qubits, generator), 2),
    }
    return interleaved_medians(steps, rounds)


REGIME_QUBITS, REGIME_BATCHES = range(2, 7), (4_096, 16_384, 65_536, 262_144)
TARGET_REGIME_TABLE = 2.5
"""The [13] target for n = 4..6 at B >= 16,384: the emulator within 2.5x its three-GEMM floor."""


def regime_table(qubits: range, batches: tuple[int, ...], n_layers: int, rounds: int) -> list[list[str]]:
    """The adapter regime over sizes: emulator forward + backward against its floor, each cell side by side."""
    generator = torch.Generator().manual_seed(3)
    rows = []
    for n_qubits in qubits:
        circuit = qnn_circuit(n_qubits, n_layers)
        model = emulator_model(circuit, torch.rand(circuit.n_weights, generator=generator) * 2 * torch.pi)
        cells = [str(n_qubits)]
        for batch in batches:
            inputs = (torch.rand(batch, n_qubits, generator=generator) * torch.pi).requires_grad_()
            times = interleaved_medians({"emulator": (forward_backward(model, inputs), 1),
                                         "floor": (floor_step(batch, n_qubits, generator), 1)}, rounds)  # fmt: skip
            cells.append(f"{times['emulator'] * 1e3:.1f} ms ({times['emulator'] / times['floor']:.2f}x)")
        rows.append(cells)
        print("| " + " | ".join(cells) + " |", flush=True)
    return rows


def cost_table(qubits: range, batches: tuple[int, ...], n_layers: int, repeats: int) -> list[list[str]]:
    generator = torch.Generator().manual_seed(1)
    rows = []
    for n_qubits in qubits:
        circuit = qnn_circuit(n_qubits, n_layers)
        model = emulator_model(circuit, torch.rand(circuit.n_weights, generator=generator) * 2 * torch.pi)
        cells = [str(n_qubits)]
        for batch in batches:
            if batch * 2**n_qubits > MAX_AMPLITUDES:
                cells.append("skipped")
                continue
            inputs = (torch.rand(batch, n_qubits, generator=generator) * torch.pi).requires_grad_()
            seconds = median_seconds(forward_backward(model, inputs), repeats)
            cells.append(f"{seconds * 1e3:.2f} ms ({batch / seconds / 1e3:.0f}k rows/s)")
        rows.append(cells)
        print("| " + " | ".join(cells) + " |", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, finishes in seconds (CI)")
    parser.add_argument("--markdown", metavar="PATH", help="write the results as markdown to PATH")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--no-table", action="store_true", help="only the n=8 head-to-head, no cost table")
    parser.add_argument("--regime", action="store_true", help="only the adapter regime: n=4, L=2, batch 65536")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.smoke:
        n_qubits, n_layers, batch, repeats = 4, 2, 64, 1
        qubits, batches = range(2, 5), (16, 64)
    else:
        n_qubits, n_layers, batch, repeats = 8, 4, 4096, 5
        qubits, batches = range(2, 13), (256, 1024, 4096, 16384)

    machine = f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    print(f"torch {torch.__version__}, {machine}, {load()}")
    regime = adapter_regime(4, 2, 256 if args.smoke else 65536, 1 if args.smoke else 5)
    regime_lines = [
        f"Adapter regime n=4, L=2, batch={256 if args.smoke else 65536}, forward+backward (median):",
        *(
            f"- {name}: {seconds * 1e3:.1f} ms ({seconds / regime['floor']:.2f}x the floor)"
            for name, seconds in regime.items()
        ),
        f"- target: emulator within {TARGET_REGIME_VS_FLOOR:g}x the floor",
    ]
    print("\n".join(regime_lines))
    if args.regime:
        sizes = (range(2, 5), (256, 1024)) if args.smoke else (REGIME_QUBITS, REGIME_BATCHES)
        header = "| n | " + " | ".join(f"B={b:,}" for b in sizes[1]) + " |"
        print(f"\nAdapter regime, L=2, forward + backward (median; in brackets: / the three-GEMM floor; target "
              f"<= {TARGET_REGIME_TABLE:g}x for n >= 4 at B >= 16,384):\n{header}\n|" + "---|" * (len(sizes[1]) + 1))
        table = regime_table(*sizes, 2, 1 if args.smoke else 5)
        if args.markdown:
            lines = [f"torch {torch.__version__}, {machine}; {load()} at the end", "", *regime_lines, "",
                     "Adapter regime, L=2, forward + backward, median of interleaved rounds; in brackets: the "
                     "emulator's time over the three-GEMM floor's at the same size.", "", header,
                     "|" + "---|" * (len(sizes[1]) + 1), *("| " + " | ".join(row) + " |" for row in table)]  # fmt: skip
            with open(args.markdown, "w") as handle:
                handle.write("\n".join(lines) + "\n")
        return
    result = head_to_head(n_qubits, n_layers, batch, repeats)
    speedup = result["pennylane"] / result["emulator"]
    vs_floor = result["emulator"] / result["floor"]
    summary = [
        f"QNN n={n_qubits}, L={n_layers}, batch={batch}, forward+backward (median):",
        f"- qwthn emulator: {result['emulator'] * 1e3:.1f} ms",
        f"- PennyLane default.qubit TorchLayer (backprop, broadcast): {result['pennylane'] * 1e3:.1f} ms",
        f"- dense floor (3 complex64 GEMMs [{batch} x {2**n_qubits}] @ [{2**n_qubits} x {2**n_qubits}]): "
        f"{result['floor'] * 1e3:.1f} ms",
        f"- speed-up over PennyLane: {speedup:.1f}x{'' if args.smoke else f' (target >= {TARGET_VS_PENNYLANE:.0f}x)'}",
        f"- emulator / floor: {vs_floor:.2f}{'' if args.smoke else f' (target <= {TARGET_VS_FLOOR})'}",
    ]
    print("\n".join(summary))
    if args.no_table:
        print(f"at the end: {load()}")
        return

    header = "| n | " + " | ".join(f"B={b}" for b in batches) + " |"
    print(f"\nEmulator forward+backward, L={n_layers} (median; skipped: batch * 2^n > {MAX_AMPLITUDES}):")
    print(header + "\n|" + "---|" * (len(batches) + 1))
    table = cost_table(qubits, batches, n_layers, repeats)
    print(f"at the end: {load()}")
    if args.markdown:
        lines = [
            f"torch {torch.__version__}, {machine}; {load()} at the end",
            "",
            *regime_lines,
            "",
            *summary,
            "",
            f"Emulator forward+backward, L={n_layers}, median; 'skipped': batch x 2^n > {MAX_AMPLITUDES} amplitudes.",
            "",
            header,
            "|" + "---|" * (len(batches) + 1),
            *("| " + " | ".join(row) + " |" for row in table),
        ]
        with open(args.markdown, "w") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
