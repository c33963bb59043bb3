"""Per-gate depolarizing noise, written into the translated program once at compile time.

`cirq.ConstantQubitNoiseModel` adds noise to every qubit after every moment, idle or not, so
its strength depends on how Cirq packs moments. The `depolarizing` option means something
simpler and backend-independent: each gate is followed by `cirq.depolarize(p, k)` on its own
k qubits. The channels go in their own moments tagged `cirq.VirtualTag`, which Cirq's
moment-based noise models skip, so a user `noise_model`, applied after this one (translate.py),
sees the same moments as without them: a gate's moment, the user model's noise, then the gate's
depolarizing channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import cirq


class GateDepolarizing(cirq.NoiseModel):
    """After each moment, `cirq.depolarize(p, k)` on the k qubits of each non-virtual, non-measurement gate."""

    def __init__(self, p: float) -> None:
        self.p = p

    def noisy_moment(self, moment: cirq.Moment, system_qubits: Sequence[cirq.Qid]) -> cirq.OP_TREE:
        channels = [
            cirq.depolarize(self.p, n_qubits=len(op.qubits)).on(*op.qubits).with_tags(cirq.VirtualTag())
            for op in moment
            if cirq.VirtualTag() not in op.tags and not cirq.is_measurement(op)
        ]
        return [moment, cirq.Moment(channels)] if channels else [moment]
