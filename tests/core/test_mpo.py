"""MPO maps: factorisation of awkward sizes and agreement with an explicit contraction."""

from __future__ import annotations

import math

import pytest
import torch

from qwthn.errors import QwthnError
from qwthn.methods.qwthn.mpo import MPOLinear, factorize


@pytest.mark.parametrize("dim", [1, 2, 10, 20, 896, 1536, 151936])
@pytest.mark.parametrize("n_factors", [2, 3, 4])
def test_factorisation_covers_the_size_with_little_padding(dim, n_factors):
    factors = factorize(dim, n_factors)
    assert len(factors) == n_factors
    assert dim <= math.prod(factors) <= dim + max(8, dim // 16)
    assert max(factors) <= 2 * math.ceil(dim ** (1 / n_factors)) + 1


def test_large_prime_factor_is_padded_away():
    factors = factorize(151936, 3)  # 2^7 * 1187
    assert 1187 not in factors and max(factors) < 60


def test_bad_sizes_are_refused():
    with pytest.raises(QwthnError):
        factorize(0, 3)


def _explicit_weight(mpo: MPOLinear) -> torch.Tensor:
    """Sum over all bond indices, element by element, straight from the definition."""
    in_f, out_f = mpo.in_factors, mpo.out_factors
    weight = torch.zeros(math.prod(out_f), math.prod(in_f), dtype=torch.float64)
    for i in range(math.prod(in_f)):
        for j in range(math.prod(out_f)):
            i_digits = [(i // math.prod(in_f[k + 1:])) % in_f[k] for k in range(len(in_f))]
            j_digits = [(j // math.prod(out_f[k + 1:])) % out_f[k] for k in range(len(out_f))]
            product = torch.eye(1, dtype=torch.float64)
            for core, a, b in zip(mpo.cores, i_digits, j_digits, strict=True):
                product = product @ core[:, a, b, :].double()
            weight[j, i] = product[0, 0]
    return weight[: mpo.out_features, : mpo.in_features]


@pytest.mark.parametrize(("in_features", "out_features"), [(10, 4), (20, 7), (12, 30)])
def test_weight_matches_the_definition(in_features, out_features):
    torch.manual_seed(0)
    mpo = MPOLinear(in_features, out_features, bond_dim=3, n_cores=3)
    torch.testing.assert_close(mpo.weight().double(), _explicit_weight(mpo), atol=1e-6, rtol=1e-5)
    inputs = torch.randn(5, in_features)
    torch.testing.assert_close(mpo(inputs), inputs @ mpo.weight().T)


def test_zero_init_gives_a_zero_map_that_still_learns():
    mpo = MPOLinear(8, 896, zero_init=True)
    assert torch.count_nonzero(mpo.weight()) == 0
    mpo(torch.randn(3, 8)).pow(2).sum().backward()
    assert torch.count_nonzero(mpo.cores[-1].grad) == 0  # zero output -> zero loss gradient here
    (mpo(torch.randn(3, 8)) - 1).pow(2).sum().backward()
    assert torch.count_nonzero(mpo.cores[-1].grad) > 0


def test_initial_scale_keeps_the_input_scale():
    torch.manual_seed(0)
    mpo = MPOLinear(1536, 64, bond_dim=4)
    inputs = torch.randn(256, 1536)
    ratio = mpo(inputs).std() / inputs.std()
    assert 0.5 < ratio < 2.0
