"""The quantumness meter: variance per Fourier term, terms carrying 99% of it, and the order they reach."""

from __future__ import annotations

import math

import pytest
import torch

from qwthn.runtime.spectrum import spectrum


def test_a_known_series_is_read_exactly():
    """f(x) = 3 + 2 cos x + 0.1 sin 2x: variance 2 + 0.005; cos x alone carries 99.75% of it."""
    coefficients = torch.zeros(5, 1, dtype=torch.float64)
    coefficients[0, 0], coefficients[1, 0], coefficients[4, 0] = 3.0, 2.0, 0.1
    meter = spectrum(coefficients, (2,))
    assert (meter.terms, meter.terms_for_share, meter.max_order, meter.full_order) == (5, 1, 1, 2)
    assert meter.power_by_order == pytest.approx([2 / 2.005, 0.005 / 2.005])
    assert spectrum(coefficients, (2,), share=0.999).terms_for_share == 2  # then sin 2x is needed too


def test_the_variance_it_assigns_each_order_is_the_series_own_variance():
    """Independent check: evaluate the series on a fine grid of the torus; the variance of its values, and of
    each order's part alone, equals the meter's (orthogonality of the trigonometric basis)."""
    from qwthn.contract.circuit import Angle, Circuit, Gate
    from qwthn.runtime.fourier import FourierSeries

    gates = (Gate("RY", (0,), Angle.input(0)), Gate("RY", (0,), Angle.input(0)), Gate("RX", (1,), Angle.input(1)))
    circuit = Circuit(2, gates, n_inputs=2, n_weights=0)
    series = FourierSeries(circuit, init_seed=3).double()
    points = torch.arange(32, dtype=torch.float64) * 2 * math.pi / 32
    grid = torch.cartesian_prod(points, points)
    with torch.no_grad():
        values = series(grid)
    meter = spectrum(series.coefficients, series.frequencies)
    variance = values.var(dim=0, unbiased=False).sum()
    first_order = series.coefficients.detach().clone()
    orders = torch.tensor([(i + 1) // 2 for i in range(5)])[:, None] + torch.tensor([(j + 1) // 2 for j in range(3)])
    first_order[orders != 1] = 0
    with torch.no_grad():
        series.coefficients.copy_(first_order)
        first = series(grid).var(dim=0, unbiased=False).sum()
    assert meter.power_by_order[0] == pytest.approx(float(first / variance), rel=1e-9)
    assert meter.full_order == 3 and len(meter.power_by_order) == 3 and sum(meter.power_by_order) == pytest.approx(1)


def test_a_constant_read_out_needs_no_term():
    coefficients = torch.zeros(3, 3, 2, dtype=torch.float64)
    coefficients[0, 0] = 1.5
    meter = spectrum(coefficients, (1, 1))
    assert (meter.terms, meter.terms_for_share, meter.max_order) == (9, 0, 0)
