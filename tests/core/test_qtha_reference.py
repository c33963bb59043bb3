"""QTHA layers against a plain-torch reference written from the authors' equations (QLLM-peft).

The reference re-implements the authors' `TTOLayer` contraction on cores stored their way (core i
as a [out_mode * r_next, r_prev * in_mode] matrix, converted here from qwthn's [r_prev, in_mode,
out_mode, r_next] cores), applies the dense maps as plain matmuls and composes them as each
`qpeft_arch` branch of their `Linear.forward` does. The QNN is taken from the layer itself
(tests/integration/test_qtha_pennylane.py checks it gate by gate).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from qwthn import get_backend
from qwthn.methods.qtha import VARIANTS, QTHALinear
from qwthn.methods.qtha.config import CONFIG_CLASSES
from qwthn.methods.qtha.layer import mpo_modes
from qwthn.methods.qwthn.mpo import MPOLinear
from qwthn.runtime import Runtime

AUTHORS_FACTORS = {  # QLLM-peft, tuners/lora/layer.py, `factors_dict`
    "18944": [37, 8, 8, 8], "3584": [8, 8, 8, 7], "27648": [27, 16, 8, 8], "5120": [10, 8, 8, 8],
    "4096": [8, 8, 8, 8], "2560": [8, 8, 8, 5], "2048": [8, 8, 8, 4], "1024": [8, 8, 4, 4],
    "512": [8, 4, 4, 4], "256": [4, 4, 4, 4], "20480": [40, 8, 8, 8],
}  # fmt: skip
AUTHORS_MIDDLE = 256
AUTHORS_RANKS = [1, 8, 8, 8, 1]

EXPECTED_CODES = {
    "qtha": "ABC", "qtha-mpo": "A", "qtha-mpo-dense": "AB", "qtha-dense-qnn": "BC", "qtha-qnn": "C",
    "qtha-dense": "B", "qtha-mlp2": "BD", "qtha-mlp3": "BE", "qtha-mlp4": "BF",
}  # fmt: skip
MLP_DEPTH = {"D": 2, "E": 3, "F": 4}
METHODS = sorted(CONFIG_CLASSES)
WIDTHS = [(64, 32), (256, 256)]


def runtime128() -> Runtime:
    return Runtime(get_backend("emulator", dtype="complex128"))


def build(method: str, d_in: int, d_out: int, runtime: Runtime, **settings) -> QTHALinear:
    torch.manual_seed(0)  # the frozen base layer
    config = CONFIG_CLASSES[method](seed=3, **settings)
    layer = QTHALinear(nn.Linear(d_in, d_out), config, runtime)
    layer.test_config = config  # the layer keeps the config's pieces; the reference reads the config itself
    return layer


# ---------------------------------------------------------------- the authors' computation


def authors_matrix(core: torch.Tensor) -> torch.Tensor:
    """qwthn core [r_prev, in, out, r_next] -> the authors' stored [out * r_next, r_prev * in] matrix."""
    r_prev, in_mode, out_mode, r_next = core.shape
    matrix = core.permute(2, 3, 0, 1).reshape(out_mode * r_next, r_prev * in_mode)
    # Their layout read back as the brief's relation: C.view(out, r_next, r_prev, in).permute(2, 3, 0, 1) == core.
    assert torch.equal(matrix.view(out_mode, r_next, r_prev, in_mode).permute(2, 3, 0, 1), core)
    return matrix


def authors_tto(
    inputs: torch.Tensor, matrices: list[torch.Tensor], in_modes, out_modes, ranks, out_features: int
) -> torch.Tensor:
    """TTOLayer.forward: out = x^T; per core: reshape (r_i * in_i, -1), C_i @ out, reshape (out_i, -1), transpose.

    Inputs narrower than prod(in_modes) are zero-padded and extra outputs dropped (only for widths
    outside the authors' table; theirs always factorise exactly).
    """
    leading = inputs.shape[:-1]
    inputs = F.pad(inputs, (0, math.prod(in_modes) - inputs.shape[-1]))
    out = inputs.reshape(-1, math.prod(in_modes)).t()
    for index, matrix in enumerate(matrices):
        out = out.reshape(ranks[index] * in_modes[index], -1)
        out = matrix @ out
        out = out.reshape(out_modes[index], -1)
        out = out.t()
    return out.reshape(*leading, math.prod(out_modes))[..., :out_features]


def expected_modes(width: int, mpo: MPOLinear, side: str) -> tuple[int, ...]:
    """The authors' modes where their table has the width; qwthn's own factorisation otherwise."""
    if str(width) in AUTHORS_FACTORS:
        return tuple(AUTHORS_FACTORS[str(width)])
    return mpo.in_factors if side == "in" else mpo.out_factors


def apply_mpo(inputs: torch.Tensor, mpo: MPOLinear, in_width: int, out_width: int, bond: int) -> torch.Tensor:
    in_modes, out_modes = expected_modes(in_width, mpo, "in"), expected_modes(out_width, mpo, "out")
    assert math.prod(in_modes) >= in_width and math.prod(out_modes) >= out_width
    ranks = [1] + [bond] * (len(in_modes) - 1) + [1]
    for index, core in enumerate(mpo.cores):
        assert core.shape == (ranks[index], in_modes[index], out_modes[index], ranks[index + 1])
    matrices = [authors_matrix(core) for core in mpo.cores]
    return authors_tto(inputs, matrices, in_modes, out_modes, ranks, out_width)


def dense(weight: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """nn.Linear(bias=False) as a matmul: inputs @ W^T."""
    return inputs @ weight.t()


def reference_delta(layer: QTHALinear, inputs: torch.Tensor) -> torch.Tensor:
    config = layer.test_config
    code, r = EXPECTED_CODES[config.method], config.r
    scale = (config.alpha if config.alpha is not None else 2 * r) / r
    d_in, d_out, width, bond = layer.in_features, layer.out_features, config.mpo_width, config.mpo_bond

    hidden = apply_mpo(inputs, layer.mpo_down, d_in, width, bond) if "A" in code else inputs
    if code == "A":
        return scale * apply_mpo(hidden, layer.mpo_up, width, d_out, bond)
    h = dense(layer.dense_down.weight, hidden)  # MLP_A
    if code in ("ABC", "BC"):
        u = dense(layer.quantum_weight.weight, layer.qnn(h)) + dense(layer.classical_weight.weight, h)
    elif code in ("AB", "B"):
        u = dense(layer.classical_weight.weight, h)
    elif code == "C":
        u = dense(layer.quantum_weight.weight, layer.qnn(h))
    else:  # BD / BE / BF: NW_k(silu(... silu(NW_1 h))) + CW h
        weights = [module.weight for module in layer.mlp if isinstance(module, nn.Linear)]
        assert len(weights) == MLP_DEPTH[code[1]]
        v = h
        for index, weight in enumerate(weights):
            v = dense(weight, v)
            if index < len(weights) - 1:
                v = F.silu(v)
        u = v + dense(layer.classical_weight.weight, h)
    out = dense(layer.dense_up.weight, u)  # MLP_B
    if "A" in code:
        out = apply_mpo(out, layer.mpo_up, width, d_out, bond)
    return scale * out


def expected_parameters(
    code: str, r: int, d_in: int, d_out: int, in_modes: tuple[int, ...] = (), out_modes: tuple[int, ...] = ()
) -> dict[str, tuple[int, ...]]:
    """Adapter parameter name -> shape, as the authors' `_update_layer_qpeft` builds each arch.

    `in_modes` / `out_modes`: the MPO modes of d_in / d_out (only for archs with an MPO).
    """
    shapes: dict[str, tuple[int, ...]] = {}
    mpo = "A" in code
    if mpo:
        middle, ranks = tuple(AUTHORS_FACTORS[str(AUTHORS_MIDDLE)]), AUTHORS_RANKS
        for prefix, (ins, outs) in {"mpo_down": (in_modes, middle), "mpo_up": (middle, out_modes)}.items():
            for i in range(4):
                shapes[f"{prefix}.cores.{i}"] = (ranks[i], ins[i], outs[i], ranks[i + 1])
    if "B" in code or code == "C":
        shapes["dense_down.weight"] = (r, AUTHORS_MIDDLE if mpo else d_in)  # MLP_A
        shapes["dense_up.weight"] = (AUTHORS_MIDDLE if mpo else d_out, r)  # MLP_B
    if "B" in code:
        shapes["classical_weight.weight"] = (r, r)  # CW
    if "C" in code:
        shapes["qnn.weights"] = (4 * r * r,)  # L = r layers of 4r angles
        shapes["quantum_weight.weight"] = (r, r)  # QW
    for letter, depth in MLP_DEPTH.items():
        if letter in code:
            for index in range(depth):
                shapes[f"mlp.{2 * index}.weight"] = (r, r)  # NW_1..NW_k, SiLU between
    return shapes


def randomise_zero_parts(layer: QTHALinear, seed: int) -> None:
    """At init the update is 0 (MPO_B's last core, or MLP_B, and the MLP's last layer are zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        targets = []
        if hasattr(layer, "mpo_up"):
            targets.append(layer.mpo_up.cores[-1])
        if hasattr(layer, "dense_up"):
            targets.append(layer.dense_up.weight)
        if hasattr(layer, "mlp"):
            targets.append([m for m in layer.mlp if isinstance(m, nn.Linear)][-1].weight)
        for tensor in targets:
            fan_in = tensor.shape[-1] if tensor.ndim == 2 else tensor.shape[0] * tensor.shape[1]
            noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float64) / math.sqrt(fan_in)
            tensor.copy_(noise.to(tensor.dtype))


# ---------------------------------------------------------------- tests


def test_every_registered_variant_is_one_of_the_authors_architectures():
    assert set(VARIANTS) == set(CONFIG_CLASSES) == set(EXPECTED_CODES)
    for name, architecture in VARIANTS.items():
        assert architecture.code == EXPECTED_CODES[name]
        assert CONFIG_CLASSES[name]().method == name


def test_authors_contraction_on_their_layout_equals_our_mpo():
    """The layout relation alone, on random cores everywhere (no zero core), widths in and out of the table."""
    generator = torch.Generator().manual_seed(0)
    for in_f, out_f, in_modes, out_modes in [(256, 512, (4, 4, 4, 4), (8, 4, 4, 4)), (64, 32, None, None)]:
        mpo = MPOLinear(in_f, out_f, bond_dim=8, n_cores=4, in_factors=in_modes, out_factors=out_modes).double()
        with torch.no_grad():
            for core in mpo.cores:
                core.copy_(torch.randn(core.shape, generator=generator, dtype=torch.float64) * 0.3)
        inputs = torch.randn(2, 3, in_f, generator=generator, dtype=torch.float64)
        theirs = apply_mpo(inputs, mpo, in_f, out_f, 8)
        assert theirs.abs().max() > 1e-2
        torch.testing.assert_close(mpo(inputs), theirs, atol=1e-10, rtol=0)
        # A shape-compatible but wrong conversion (r_next before out_mode in the rows) disagrees: the check can fail.
        wrong = [core.permute(3, 2, 0, 1).reshape(core.shape[2] * core.shape[3], -1) for core in mpo.cores]
        mismatched = authors_tto(inputs, wrong, mpo.in_factors, mpo.out_factors, AUTHORS_RANKS, out_f)
        assert (mismatched - mpo(inputs)).abs().max() > 1e-3


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("d_in", "d_out"), WIDTHS)
def test_update_matches_the_authors_equations(method, d_in, d_out):
    layer = build(method, d_in, d_out, runtime128()).double()
    r, code = layer.test_config.r, EXPECTED_CODES[method]
    modes = {}
    if "A" in code:
        modes = {
            "in_modes": expected_modes(d_in, layer.mpo_down, "in"),
            "out_modes": expected_modes(d_out, layer.mpo_up, "out"),
        }
    shapes = expected_parameters(code, r, d_in, d_out, **modes)
    params = dict(layer.adapter_parameters())
    assert {name: tuple(param.shape) for name, param in params.items()} == shapes

    randomise_zero_parts(layer, seed=11)
    inputs = torch.randn(2, 3, d_in, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with torch.no_grad():
        expected = reference_delta(layer, inputs)
        ours = layer.delta(inputs)
    assert ours.shape == expected.shape == (2, 3, d_out)
    assert expected.abs().max() > 1e-2  # a real, non-zero update
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("d_in", "d_out"), WIDTHS)
def test_forward_adds_the_reference_update_to_the_frozen_layer(method, d_in, d_out):
    """layer(x) - base(x): the adapter runs in float32 (AdapterLayer casts its input), so float32 precision."""
    exact = build(method, d_in, d_out, runtime128()).double()
    randomise_zero_parts(exact, seed=11)
    layer = build(method, d_in, d_out, Runtime(get_backend("emulator")))
    layer.load_state_dict(exact.state_dict())
    inputs = torch.randn(2, 3, d_in, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with torch.no_grad():
        expected = reference_delta(exact, inputs)
        update = layer(inputs.float()) - layer.base_layer(inputs.float())
    assert update.dtype == torch.float32 and expected.abs().max() > 1e-2
    size = float(expected.abs().max())
    torch.testing.assert_close(update.double(), expected, atol=1e-5 * max(1.0, size), rtol=0)


def test_alpha_scales_the_update():
    layer = build("qtha", 64, 32, runtime128(), r=3, alpha=5.0).double()
    assert layer.scale == pytest.approx(5.0 / 3)
    randomise_zero_parts(layer, seed=2)
    inputs = torch.randn(2, 3, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(layer.delta(inputs), reference_delta(layer, inputs), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- initialisation


@pytest.mark.parametrize("method", METHODS)
def test_update_is_exactly_zero_at_init(method):
    layer = build(method, 64, 32, Runtime(get_backend("emulator")))
    code = EXPECTED_CODES[method]
    inputs = torch.randn(2, 3, 64)
    with torch.no_grad():
        assert torch.equal(layer(inputs), layer.base_layer(inputs))
        assert torch.count_nonzero(layer.delta(inputs)) == 0
    # Which part is zero, as in the authors' init: MPO_B's last core with an MPO, else MLP_B (and the last NW).
    if "A" in code:
        assert torch.count_nonzero(layer.mpo_up.cores[-1]) == 0
        assert all(torch.count_nonzero(core) > 0 for core in list(layer.mpo_down.cores) + list(layer.mpo_up.cores)[:-1])
        if hasattr(layer, "dense_up"):
            assert torch.count_nonzero(layer.dense_up.weight) > 0
    else:
        assert torch.count_nonzero(layer.dense_up.weight) == 0
        assert torch.count_nonzero(layer.dense_down.weight) > 0
    if hasattr(layer, "mlp"):
        linears = [m for m in layer.mlp if isinstance(m, nn.Linear)]
        assert torch.count_nonzero(linears[-1].weight) == 0
        assert all(torch.count_nonzero(m.weight) > 0 for m in linears[:-1])
        assert all(isinstance(m, nn.SiLU) for m in list(layer.mlp)[1::2])


def test_mpo_cores_are_kaiming_normal_on_the_authors_fan_in():
    """kaiming_normal_ on the [out * r_next, r_prev * in] matrix: std = sqrt(2 / (r_prev * in_mode))."""
    layer = build("qtha-mpo", 4096, 4096, Runtime(get_backend("emulator")))
    checked = 0
    for core in list(layer.mpo_down.cores) + list(layer.mpo_up.cores)[:-1]:
        if core.numel() < 2000:
            continue
        r_prev, in_mode = core.shape[0], core.shape[1]
        expected = math.sqrt(2.0 / (r_prev * in_mode))
        assert float(core.detach().std()) == pytest.approx(expected, rel=0.08)
        assert abs(float(core.detach().mean())) < 0.1 * expected
        checked += 1
    assert checked >= 4  # the (8, 8, 8, 8) modes give four 8 x 8 x 4|8 x 8 cores of >= 2048 entries


def test_dense_maps_are_kaiming_uniform():
    layer = build("qtha-dense-qnn", 4096, 4096, Runtime(get_backend("emulator")), r=8)
    weight = layer.dense_down.weight.detach()  # [r, d_in]: bound sqrt(6 / fan_in), a = 0
    bound = math.sqrt(6.0 / 4096)
    assert float(weight.abs().max()) <= bound and float(weight.abs().max()) > 0.99 * bound
    assert float(weight.std()) == pytest.approx(bound / math.sqrt(3), rel=0.05)


@pytest.mark.parametrize("r", [2, 4, 6])
def test_circuit_weights_lie_in_minus_pi_to_pi(r):
    layer = build("qtha", 64, 32, Runtime(get_backend("emulator")), r=r)
    weights = layer.qnn.weights.detach()
    assert weights.shape == (4 * r * r,)
    assert float(weights.min()) >= -math.pi and float(weights.max()) <= math.pi
    assert float(weights.min()) < -1.0 and float(weights.max()) > 1.0  # spread over the range, not near 0


@pytest.mark.parametrize("r", [1, 2, 4, 8])
def test_default_scale_is_alpha_over_r_equal_two(r):
    config = CONFIG_CLASSES["qtha-dense"](r=r)
    assert config.scale == 2.0
    layer = QTHALinear(nn.Linear(16, 8), config, Runtime(get_backend("emulator")))
    assert layer.scale == 2.0
    assert CONFIG_CLASSES["qtha-dense"](r=r, alpha=1.0).scale == pytest.approx(1.0 / r)


# ---------------------------------------------------------------- modes


def test_1536_factorises_into_four_modes_covering_it():
    modes = mpo_modes(1536, 4)
    assert len(modes) == 4 and all(mode >= 1 for mode in modes)
    assert 1536 <= math.prod(modes) <= 1536 + 1536 // 16


@pytest.mark.parametrize("width", sorted(int(w) for w in AUTHORS_FACTORS))
def test_table_widths_get_the_authors_modes(width):
    assert tuple(mpo_modes(width, 4)) == tuple(AUTHORS_FACTORS[str(width)])


def test_mpo_layer_on_table_widths_uses_the_authors_modes():
    layer = build("qtha-mpo", 512, 1024, Runtime(get_backend("emulator")))
    assert layer.mpo_down.in_factors == (8, 4, 4, 4) and layer.mpo_down.out_factors == (4, 4, 4, 4)
    assert layer.mpo_up.in_factors == (4, 4, 4, 4) and layer.mpo_up.out_factors == (8, 8, 4, 4)
    ranks = [core.shape[0] for core in layer.mpo_down.cores] + [layer.mpo_down.cores[-1].shape[-1]]
    assert ranks == AUTHORS_RANKS


# ---------------------------------------------------------------- meta device


@pytest.mark.parametrize("method", METHODS)
def test_layer_wraps_a_1536_wide_linear_built_on_the_meta_device(method):
    """As `inject_adapter` sees a model made under `torch.device("meta")`: the adapter follows the base there.

    1536 (Qwen2.5-1.5B) is missing from the authors' table; the MPOs take qwthn's factorisation.
    """
    with torch.device("meta"):
        base = nn.Linear(1536, 1536)
    layer = QTHALinear(base, CONFIG_CLASSES[method](r=4, seed=0), Runtime(get_backend("emulator")))
    code = EXPECTED_CODES[method]
    params = dict(layer.adapter_parameters())
    assert params and all(param.device.type == "meta" and param.requires_grad for param in params.values())
    modes = mpo_modes(1536, 4)  # not in the authors' table
    shapes = expected_parameters(code, 4, 1536, 1536, in_modes=modes, out_modes=modes)
    assert {name: tuple(param.shape) for name, param in params.items()} == shapes
    assert sum(param.numel() for param in params.values()) == sum(math.prod(shape) for shape in shapes.values())
    if "C" not in code:  # no circuit to simulate: the classical update runs through on meta tensors
        output = layer(torch.empty(2, 3, 1536, device="meta"))
        assert output.device.type == "meta" and output.shape == (2, 3, 1536)
        with torch.device("meta"):  # and the whole layer can be made inside the context too
            inside = QTHALinear(nn.Linear(1536, 1536), CONFIG_CLASSES[method](r=4), Runtime(get_backend("emulator")))
            assert inside(torch.empty(2, 3, 1536)).shape == (2, 3, 1536)
        assert {name: tuple(param.shape) for name, param in inside.adapter_parameters().items()} == shapes
