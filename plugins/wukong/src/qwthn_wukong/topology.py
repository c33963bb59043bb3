"""The Wukong grid: 72 qubits on 12 rows x 6 columns, 126 nearest-neighbour couplers.

Qubit q sits at row q // 6, column q % 6; couplers join (q, q+1) within a row and (q, q+6)
between rows: 12*5 + 11*6 = 126, the published "72 qubits + 126 couplers".
"""

from __future__ import annotations

ROWS = 12
COLUMNS = 6
N_QUBITS = ROWS * COLUMNS


def position(qubit: int) -> tuple[int, int]:
    """(row, column) of a physical qubit."""
    return divmod(qubit, COLUMNS)


def grid_couplers() -> tuple[tuple[int, int], ...]:
    """All 126 couplers of the grid, each as (a, b) with a < b."""
    pairs = []
    for qubit in range(N_QUBITS):
        row, column = position(qubit)
        if column + 1 < COLUMNS:
            pairs.append((qubit, qubit + 1))
        if row + 1 < ROWS:
            pairs.append((qubit, qubit + COLUMNS))
    return tuple(pairs)


GRID_COUPLERS = frozenset(grid_couplers())


def edge(a: int, b: int) -> tuple[int, int]:
    """The coupler key of a pair: (min, max)."""
    return (a, b) if a < b else (b, a)


def is_grid_coupler(a: int, b: int) -> bool:
    return edge(a, b) in GRID_COUPLERS
