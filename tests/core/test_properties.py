"""Property-based tests (hypothesis): config round trips, MPO maps of any size, random circuits on every backend.

Examples are derandomised (the same draws on every run, so CI failures reproduce) and no example database
is kept. The strategies for adapter configs are built from each registered method's
pydantic field constraints, so a method or field added later is covered without editing this file; a
field of a type no strategy knows fails loudly instead of being skipped.
"""

from __future__ import annotations

import json
import math
import string
import types
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from qwthn.contract.backend import QuantumBackend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.contract.gates import GATES
from qwthn.errors import OptionsError, QwthnError
from qwthn.methods.base import AdapterConfig
from qwthn.methods.loading import parse_adapter_config
from qwthn.methods.qwthn.mpo import MPOLinear, factorize
from qwthn.plugins import host
from qwthn.runtime.config import RuntimeConfig
from qwthn.runtime.executor import Runtime
from qwthn.runtime.lowering import lower
from qwthn.testing import harness, reference
from qwthn.validation import ConfigValueError

CI = settings(derandomize=True, database=None, deadline=None)
"""Reproducible in CI: a fixed example sequence per test, no example database, no per-example deadline."""


def ci(max_examples: int, **overrides: Any) -> settings:
    """The CI profile with a per-test example budget (slow simulators get few examples)."""
    return settings(CI, max_examples=max_examples, **overrides)


METHODS = host.methods.names()
"""Every registered adapter method (core's and installed plugins'), at collection time."""

PRIMES = [2, 3, 5, 7, 11, 13, 31, 97, 127, 151, 211, 251, 257, 277, 293]

# ---------------------------------------------------------------------------------------------------------------
# Strategies from pydantic field constraints
# ---------------------------------------------------------------------------------------------------------------


CONSTRAINTS = {
    annotated_types.Ge: "ge", annotated_types.Gt: "gt", annotated_types.Le: "le", annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length",
}  # fmt: skip


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    """The numeric bounds and minimum length a field declares (pydantic's annotated_types metadata), by name."""
    found: dict[str, Any] = {}
    for item in metadata:
        key = CONSTRAINTS.get(type(item))
        if key is not None:
            found[key] = getattr(item, key)
    return found


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
"""Anything a JSON file can hold (free-form options such as `backend_options`)."""

FIELD_OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    # a field validator (not visible in the metadata) refuses an empty list or string
    "target_modules": st.lists(st.text(max_size=12), min_size=1, max_size=4)
    | st.text(alphabet=string.ascii_letters + "_.", min_size=1, max_size=12),  # a string is a regex: a valid one
    # LoRA's per-module ranks and alphas: keys are regexes (valid ones), values positive (a field validator)
    "rank_pattern": st.dictionaries(st.text(alphabet=string.ascii_letters + "_.", min_size=1, max_size=12),
                                    st.integers(min_value=1, max_value=64), max_size=3),
    "alpha_pattern": st.dictionaries(st.text(alphabet=string.ascii_letters + "_.", min_size=1, max_size=12),
                                     st.floats(min_value=0.01, max_value=64, allow_nan=False), max_size=3),
    # QuanTA's axis sizes: at least two, each positive (a field validator), or none (equal axes)
    "axes": st.none() | st.lists(st.integers(min_value=1, max_value=64), min_size=2, max_size=8),
    # QPA's mapping widths: positive (a field validator)
    "mapping": st.lists(st.integers(min_value=1, max_value=64), max_size=4),
    # QPA's per-module mapping widths: regex keys (valid ones) -> positive widths
    "mapping_pattern": st.dictionaries(st.text(alphabet=string.ascii_letters + "_.", min_size=1, max_size=12),
                                       st.lists(st.integers(min_value=1, max_value=64), max_size=3), max_size=3),
}


def _valid(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """Values of `annotation` inside the declared bounds."""
    if get_origin(annotation) is Annotated:  # an alias such as `Seed` carries its bounds in a FieldInfo
        inner, *extra = get_args(annotation)
        nested = [item for info in extra for item in getattr(info, "metadata", [info])]
        return _valid(inner, [*metadata, *nested])
    origin, bounds = get_origin(annotation), _bounds(metadata)
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin in (Union, types.UnionType):
        return st.one_of(*(st.none() if arg is type(None) else _valid(arg, metadata) for arg in get_args(annotation)))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = bounds["ge"] if "ge" in bounds else bounds["gt"] + 1 if "gt" in bounds else None
        high = bounds["le"] if "le" in bounds else bounds["lt"] - 1 if "lt" in bounds else None
        return st.integers(min_value=low, max_value=high)
    if annotation is float:
        return st.floats(
            min_value=bounds.get("ge", bounds.get("gt")),
            max_value=bounds.get("le", bounds.get("lt")),
            exclude_min="gt" in bounds,
            exclude_max="lt" in bounds,
            allow_nan=False,
            allow_infinity=False,
        )
    if annotation is str:
        return st.text(min_size=bounds.get("min_length", 0), max_size=12)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)
    raise TypeError(f"no strategy for a field of type {annotation!r}; extend _valid in {__name__}")


def _field_values(name: str, field: FieldInfo) -> st.SearchStrategy[Any]:
    return FIELD_OVERRIDES[name] if name in FIELD_OVERRIDES else _valid(field.annotation, field.metadata)


def config_data(model: type[BaseModel], exclude: frozenset[str] = frozenset()) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for `model`: any subset of its fields, each inside its declared range."""
    optional = {name: _field_values(name, field) for name, field in model.model_fields.items() if name not in exclude}
    return st.fixed_dictionaries({}, optional=optional)


def _scalar(annotation: Any) -> bool:
    """A Literal, bool, int or float, optionally `| None`: what a strategy can draw for any backend's options."""
    if get_origin(annotation) in (Union, types.UnionType):
        return all(arg is type(None) or _scalar(arg) for arg in get_args(annotation))
    return get_origin(annotation) is Literal or annotation in (bool, int, float)


@cache
def listed_backends() -> dict[str, type[QuantumBackend] | str]:
    """Each backend the host lists: its class, or why its module does not import (e.g. its SDK is missing)."""
    found: dict[str, type[QuantumBackend] | str] = {}
    for entry in host.backends():
        try:
            found[entry.name] = entry.backend_class  # a lazily registered backend imports its module here
        except QwthnError as error:
            found[entry.name] = f"not loadable: {error}"
    return found


def loadable_backends() -> list[str]:
    return [name for name, loaded in listed_backends().items() if not isinstance(loaded, str)]


@st.composite
def runtime_config_data(draw: st.DrawFn) -> dict[str, Any]:
    """RuntimeConfig keywords: an installed backend, and options drawn from its own options model's scalar fields."""
    data = draw(config_data(RuntimeConfig, exclude=frozenset({"backend", "backend_options"})))
    if draw(st.booleans(), label="names a backend"):
        data["backend"] = draw(st.sampled_from(loadable_backends()), label="backend")
    options = listed_backends()[data.get("backend", "emulator")].Options  # type: ignore[union-attr]
    scalar = {
        name: _valid(f.annotation, f.metadata) for name, f in options.model_fields.items() if _scalar(f.annotation)
    }
    data["backend_options"] = draw(st.fixed_dictionaries({}, optional=scalar), label="backend_options")
    return data


def _out_of_range(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any] | None:
    """Finite numbers just outside (or far outside) a numeric field's bounds; None for unbounded fields."""
    if get_origin(annotation) in (Union, types.UnionType):
        numeric = [arg for arg in get_args(annotation) if arg in (int, float)]
        annotation = numeric[0] if numeric else None
    bounds, options = _bounds(metadata), []
    if annotation is int:
        if "ge" in bounds or "gt" in bounds:
            options.append(st.integers(max_value=bounds["ge"] - 1 if "ge" in bounds else bounds["gt"]))
        if "le" in bounds or "lt" in bounds:
            options.append(st.integers(min_value=bounds["le"] + 1 if "le" in bounds else bounds["lt"]))
    elif annotation is float:
        finite = {"allow_nan": False, "allow_infinity": False}
        if "ge" in bounds or "gt" in bounds:
            low = bounds.get("ge", bounds.get("gt"))
            options.append(st.floats(max_value=low, exclude_max="ge" in bounds, **finite))
        if "le" in bounds or "lt" in bounds:
            high = bounds.get("le", bounds.get("lt"))
            options.append(st.floats(min_value=high, exclude_min="le" in bounds, **finite))
    return st.one_of(*options) if options else None


def bounded_fields(model: type[BaseModel]) -> list[tuple[str, st.SearchStrategy[Any]]]:
    """(field, strategy of values it must refuse) for every numeric field with declared bounds."""
    found = []
    for name, field in model.model_fields.items():
        strategy = _out_of_range(field.annotation, field.metadata)
        if strategy is not None:
            found.append((name, strategy))
    return found


def _build(config_class: type[AdapterConfig], data: dict[str, Any]) -> AdapterConfig:
    """The config, or a rejected example when only a cross-field rule refuses it.

    Every per-field value is in range, so a refusal naming a field ("invalid '<field>'") is a failure;
    a model validator's message (e.g. QWTHN's "fusion 'weighted' needs readout 'expval_z'") names none.
    """
    try:
        return config_class(**data)
    except ConfigValueError as error:
        assert not error.detail.startswith("invalid '"), f"an in-range value was refused: {error}"
        reject()


# ---------------------------------------------------------------------------------------------------------------
# 1. Config round trips and one-line refusals
# ---------------------------------------------------------------------------------------------------------------


def test_the_strategies_cover_every_method_and_the_documented_bounds() -> None:
    """The properties below are only as good as their coverage: every field of every method gets a strategy
    (an unknown field type raises TypeError here), and the refusal check includes the bounds users hit."""
    assert {"qwthn", "lora", "qtha"} <= set(METHODS)
    checked = set()
    for method in METHODS:
        model = host.methods.get(method).config_class
        for name, field in model.model_fields.items():
            _field_values(name, field)
        checked |= {(method, name) for name, _ in bounded_fields(model)}
    wanted = {("qwthn", "n_qubits"), ("qwthn", "bond_dim"), ("qwthn", "dropout"), ("lora", "r"), ("qtha", "r")}
    assert wanted <= checked, wanted - checked


@pytest.mark.parametrize("method", METHODS)
@ci(40, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_adapter_config_survives_json_and_yaml(method: str, data: st.DataObject) -> None:
    """A saved config (JSON, or YAML as users write it) must load back as the very same config."""
    config_class = host.methods.get(method).config_class
    config = _build(config_class, data.draw(config_data(config_class), label="fields"))
    dumped = config.model_dump(mode="json")
    assert dumped["method"] == method
    text = json.dumps(dumped)
    from_json = parse_adapter_config(json.loads(text), source="adapter.json")
    assert type(from_json) is config_class
    assert from_json == config
    assert json.dumps(from_json.model_dump(mode="json")) == text
    from_yaml = parse_adapter_config(yaml.safe_load(yaml.safe_dump(dumped)), source="adapter.yaml")
    assert from_yaml == config


@pytest.mark.parametrize(
    ("method", "field", "bad"),
    [
        pytest.param(method, name, strategy, id=f"{method}.{name}")
        for method in METHODS
        for name, strategy in bounded_fields(host.methods.get(method).config_class)
    ],
)
@ci(8)
@given(data=st.data())
def test_out_of_range_values_are_one_line_errors(
    method: str, field: str, bad: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    """Built in Python or read from a file, a value outside a field's bounds is one line naming the field."""
    config_class = host.methods.get(method).config_class
    value = data.draw(bad, label=field)
    with pytest.raises(ConfigValueError) as built:
        config_class(**{field: value})
    message = str(built.value)
    assert isinstance(built.value, QwthnError) and isinstance(built.value, ValueError)
    assert message.startswith(f"{config_class.__name__}: invalid '{field}': ") and "\n" not in message
    with pytest.raises(QwthnError) as parsed:
        parse_adapter_config({"method": method, field: value}, source="bad.json")
    from_file = str(parsed.value)
    assert from_file.startswith("bad.json: ") and f"invalid '{field}': " in from_file and "\n" not in from_file


def test_a_file_error_names_the_file_not_the_config_class() -> None:
    """parse_adapter_config means to say '<source>: invalid ...' (its `except ConfigValueError` branch)."""
    with pytest.raises(QwthnError) as caught:
        parse_adapter_config({"n_qubits": 0}, source="my.yaml")
    assert str(caught.value).startswith("my.yaml: invalid 'n_qubits': ")


def test_assigning_an_out_of_range_value_is_a_one_line_error() -> None:
    """AdapterConfig promises the same one-line error for a bad value set in Python as in a file."""
    config = parse_adapter_config({"method": "qwthn"})
    with pytest.raises(ConfigValueError):
        config.n_qubits = 0


@ci(60)
@given(data=runtime_config_data())
def test_runtime_config_survives_json(data: dict[str, Any]) -> None:
    """Runtime settings travel as JSON (CLI, benchmark records) and must come back unchanged."""
    try:
        config = RuntimeConfig(**data)
    except OptionsError:  # a backend's rule across options (cirq: qsim_threads needs simulator 'qsim')
        reject()  # if every draw were refused, hypothesis fails the test as unsatisfiable
    assert RuntimeConfig.model_validate_json(config.model_dump_json()) == config
    assert RuntimeConfig.model_validate(json.loads(json.dumps(config.model_dump(mode="json")))) == config


@pytest.mark.parametrize(
    ("field", "bad"), [pytest.param(name, strategy, id=name) for name, strategy in bounded_fields(RuntimeConfig)]
)
@ci(8)
@given(data=st.data())
def test_runtime_config_refuses_out_of_range_values(
    field: str, bad: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    """Zero shots, a negative timeout or retry count never reach a backend, and the refusal is one line."""
    value = data.draw(bad, label=field)
    with pytest.raises(QwthnError) as caught:
        RuntimeConfig(**{field: value})
    message = str(caught.value)
    assert isinstance(caught.value, ValueError) and f"invalid '{field}': " in message and "\n" not in message


# ---------------------------------------------------------------------------------------------------------------
# 2. MPO factorisation and maps of any size
# ---------------------------------------------------------------------------------------------------------------

WIDTHS = st.integers(1, 300) | st.sampled_from(PRIMES)
"""Layer widths, with primes (the sizes that factorise worst) drawn on purpose."""


def _smallest_exact_max(dim: int, n_factors: int) -> int:
    """Brute force: the smallest possible largest factor of an exact split of `dim` into `n_factors` factors."""
    if n_factors == 1:
        return dim
    best = dim
    for divisor in range(1, dim + 1):
        if dim % divisor == 0 and divisor < best:
            best = min(best, max(divisor, _smallest_exact_max(dim // divisor, n_factors - 1)))
    return best


def _integer_root_ceiling(dim: int, n_factors: int) -> int:
    """The smallest k with k ** n_factors >= dim, in integers (no floating-point root)."""
    k = 1
    while k**n_factors < dim:
        k += 1
    return k


@ci(150)
@given(dim=WIDTHS, n_factors=st.integers(1, 6))
def test_factorisation_covers_the_width_with_bounded_padding(dim: int, n_factors: int) -> None:
    """The modes hold the width, pad by at most the documented ~6%, and never pad a width with a good exact split."""
    factors = factorize(dim, n_factors)
    assert len(factors) == n_factors and all(isinstance(f, int) and f >= 1 for f in factors)
    assert dim <= math.prod(factors) <= dim + max(8, dim // 16)
    if n_factors <= 4 and _smallest_exact_max(dim, n_factors) <= 2 * _integer_root_ceiling(dim, n_factors):
        assert math.prod(factors) == dim, f"{dim} has an exact split with small factors but was padded to {factors}"


@ci(30)
@given(dim=st.integers(-5, 0), n_factors=st.integers(1, 4))
def test_factorisation_refuses_empty_widths(dim: int, n_factors: int) -> None:
    """A zero or negative width is a user error with a one-line message, not an empty or endless split."""
    with pytest.raises(QwthnError, match="cannot factorise") as caught:
        factorize(dim, n_factors)
    assert "\n" not in str(caught.value)


def _contract(cores: list[torch.Tensor]) -> torch.Tensor:
    """The full [prod(in modes), prod(out modes)] matrix by one einsum over all bonds (float64).

    Core k is [bond_k, i_k, j_k, bond_k+1]; rows are (i_1..i_n), columns (j_1..j_n), the first mode most
    significant: the definition in the module docstring, computed independently of `MPOLinear.weight`.
    """
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    bonds = [next(letters) for _ in range(len(cores) + 1)]
    rows = [next(letters) for _ in cores]
    cols = [next(letters) for _ in cores]
    terms = [f"{bonds[k]}{rows[k]}{cols[k]}{bonds[k + 1]}" for k in range(len(cores))]
    full = torch.einsum(f"{','.join(terms)}->{''.join(rows)}{''.join(cols)}", *[c.double() for c in cores])
    return full.reshape(math.prod(c.shape[1] for c in cores), math.prod(c.shape[2] for c in cores))


LEADING = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
"""Leading batch dimensions of any rank (none at all included)."""


@ci(40)
@given(
    in_features=WIDTHS,
    out_features=WIDTHS,
    n_cores=st.integers(1, 5),
    bond_dim=st.integers(1, 6),
    init=st.sampled_from(["variance", "kaiming"]),
    leading=LEADING,
    seed=st.integers(0, 2**32 - 1),
)
def test_mpo_is_the_zero_padded_contraction_of_its_cores(
    in_features: int, out_features: int, n_cores: int, bond_dim: int, init: str, leading: tuple[int, ...], seed: int
) -> None:
    """forward(x) = x @ W.T for W the contraction of the cores with padded rows and columns dropped, any batch shape."""
    generator = torch.Generator().manual_seed(seed)
    mpo = MPOLinear(in_features, out_features, bond_dim=bond_dim, n_cores=n_cores, init=init, generator=generator)
    assert math.prod(mpo.in_factors) >= in_features and math.prod(mpo.out_factors) >= out_features
    assert [tuple(core.shape[1:3]) for core in mpo.cores] == list(zip(mpo.in_factors, mpo.out_factors, strict=True))
    assert [core.shape[0] for core in mpo.cores] == [1] + [bond_dim] * (n_cores - 1)
    assert [core.shape[3] for core in mpo.cores] == [bond_dim] * (n_cores - 1) + [1]
    dense = _contract(list(mpo.cores))[:in_features, :out_features].T  # [out, in]
    inputs = torch.randn((*leading, in_features), generator=generator)
    outputs = mpo(inputs)
    assert outputs.shape == (*leading, out_features)
    expected = inputs.double() @ dense.T
    torch.testing.assert_close(outputs.double(), expected, rtol=1e-4, atol=1e-5)
    basis = mpo(torch.eye(in_features))  # row i is the image of basis vector i: column i of W
    torch.testing.assert_close(basis.double(), dense.T, rtol=1e-4, atol=1e-6)


@ci(30)
@given(data=st.data(), n_cores=st.integers(1, 4), bond_dim=st.integers(1, 4), leading=LEADING)
def test_mpo_with_given_mode_sizes(data: st.DataObject, n_cores: int, bond_dim: int, leading: tuple[int, ...]) -> None:
    """Caller-chosen modes work for any width they hold, and modes too small for the width are refused."""
    modes = st.lists(st.integers(1, 6), min_size=n_cores, max_size=n_cores).map(tuple)
    in_factors, out_factors = data.draw(modes, label="in modes"), data.draw(modes, label="out modes")
    in_features = data.draw(st.integers(1, math.prod(in_factors)), label="in_features")
    out_features = data.draw(st.integers(1, math.prod(out_factors)), label="out_features")
    mpo = MPOLinear(in_features, out_features, bond_dim=bond_dim, n_cores=n_cores,
                    in_factors=in_factors, out_factors=out_factors)  # fmt: skip
    dense = _contract(list(mpo.cores))[:in_features, :out_features].T
    inputs = torch.randn(*leading, in_features)
    torch.testing.assert_close(mpo(inputs).double(), inputs.double() @ dense.T, rtol=1e-4, atol=1e-5)
    with pytest.raises(QwthnError, match="cannot hold"):
        MPOLinear(math.prod(in_factors) + 1, out_features, n_cores=n_cores, in_factors=in_factors,
                  out_factors=out_factors)  # fmt: skip


@ci(25)
@given(
    in_features=WIDTHS,
    out_features=WIDTHS,
    n_cores=st.integers(1, 5),
    bond_dim=st.integers(1, 6),
    leading=LEADING,
    scale=st.floats(1e-3, 1e3),
)
def test_zero_init_mpo_outputs_exact_zeros(
    in_features: int, out_features: int, n_cores: int, bond_dim: int, leading: tuple[int, ...], scale: float
) -> None:
    """A zero-initialised up-map makes the adapter start as the base model exactly, whatever the input."""
    mpo = MPOLinear(in_features, out_features, bond_dim=bond_dim, n_cores=n_cores, zero_init=True)
    outputs = mpo(torch.randn(*leading, in_features) * scale)
    assert outputs.shape == (*leading, out_features)
    assert torch.count_nonzero(outputs) == 0
    assert all(torch.count_nonzero(core) > 0 for core in list(mpo.cores)[:-1])  # only the last core is zeroed


# ---------------------------------------------------------------------------------------------------------------
# 3. Random circuits: core lowering and every installed exact backend against the NumPy reference
# ---------------------------------------------------------------------------------------------------------------

ANGLES = st.floats(-2 * math.pi, 2 * math.pi, allow_nan=False, allow_infinity=False)
MAX_QUBITS = 4
MAX_GATES = 8


def runnable_gates(native: frozenset[str]) -> list[str]:
    """Gate-table gates that execute on `native`, directly or through the core's lowering rules."""
    found = []
    for name, spec in sorted(GATES.items()):
        angle = Angle.const(0.3) if spec.parametrised else None
        single = Circuit(spec.n_wires, (Gate(name, tuple(range(spec.n_wires)), angle),), 0, 0)
        if lower(single, native).circuit.gate_names <= native:
            found.append(name)
    return found


@st.composite
def circuits(
    draw: st.DrawFn,
    gate_names: list[str],
    max_qubits: int = MAX_QUBITS,
    coupling: frozenset[tuple[int, int]] | None = None,
    max_gates: int = MAX_GATES,
) -> Circuit:
    """1..max_qubits qubits, up to `max_gates` gates of `gate_names` on allowed pairs, angles from all sources."""
    n_qubits = draw(st.integers(1, max_qubits), label="qubits")
    pairs = reference.allowed_pairs(n_qubits, coupling)
    usable = [name for name in gate_names if GATES[name].n_wires == 1 or pairs]
    n_inputs = draw(st.integers(0, 3), label="inputs")
    n_weights = draw(st.integers(0, 3), label="weights")
    sources = ["const"] + ["input"] * bool(n_inputs) + ["weight"] * bool(n_weights)
    gates = []
    for _ in range(draw(st.integers(0, max_gates), label="gates") if usable else 0):
        spec = GATES[draw(st.sampled_from(usable))]
        wires = (draw(st.integers(0, n_qubits - 1)),) if spec.n_wires == 1 else draw(st.sampled_from(pairs))
        angle = None
        if spec.parametrised:
            source = draw(st.sampled_from(sources))
            if source == "const":
                angle = Angle.const(draw(ANGLES))
            elif source == "input":
                angle = Angle.input(draw(st.integers(0, n_inputs - 1)))
            else:
                angle = Angle.weight(draw(st.integers(0, n_weights - 1)))
        gates.append(Gate(spec.name, tuple(wires), angle))
    if draw(st.booleans(), label="probs"):
        readout = Readout("probs")
    else:
        order = draw(st.permutations(range(n_qubits)))
        readout = Readout("expval_z", tuple(order[: draw(st.integers(1, n_qubits))]))
    return Circuit(n_qubits, tuple(gates), n_inputs, n_weights, readout=readout)


@st.composite
def batches(draw: st.DrawFn, circuit: Circuit) -> tuple[np.ndarray, np.ndarray]:
    """(inputs [rows, n_inputs], weights [n_weights] shared or [rows, n_weights] per row), float64."""
    rows = draw(st.integers(1, 3), label="rows")

    def matrix(*shape: int) -> np.ndarray:
        values = draw(st.lists(ANGLES, min_size=math.prod(shape), max_size=math.prod(shape)))
        return np.array(values, dtype=np.float64).reshape(shape)

    inputs = matrix(rows, circuit.n_inputs)
    weights = matrix(rows, circuit.n_weights) if draw(st.booleans(), label="per-row") else matrix(circuit.n_weights)
    return inputs, weights


SMALL_GATE_SETS = [
    frozenset({"RX", "RY", "RZ", "H", "X", "CZ", "CNOT"}),  # no controlled rotations (the emulator's set)
    frozenset({"RX", "RY", "RZ", "CZ"}),  # superconducting chips
    frozenset({"RX", "RY", "RZ", "CNOT"}),
    frozenset({"RY", "RZ", "CNOT"}),
    frozenset({"RY", "RZ", "H", "CZ"}),
]


@ci(100)
@given(
    native=st.sampled_from(SMALL_GATE_SETS)
    | st.sets(st.sampled_from(sorted(GATES)), min_size=1, max_size=7)
    .map(lambda missing: frozenset(GATES) - missing)
    .filter(runnable_gates),
    data=st.data(),
)
def test_lowering_preserves_the_reference_values(native: frozenset[str], data: st.DataObject) -> None:
    """Rewriting into any gate set gives gates of that set only and the original circuit's exact values.

    The gate set is a small universal one (as chips have) or the table minus a few gates, so most examples
    have something to rewrite.
    """
    circuit = data.draw(circuits(runnable_gates(native), max_gates=16), label="circuit")
    inputs, weights = data.draw(batches(circuit), label="batch")
    lowering = lower(circuit, native)
    assert lowering.circuit.gate_names <= native
    slot_inputs, slot_weights = lowering.bind(torch.from_numpy(inputs), torch.from_numpy(weights))
    lowered = reference.evaluate(lowering.circuit, slot_inputs.numpy(), slot_weights.numpy())
    np.testing.assert_allclose(lowered, reference.evaluate(circuit, inputs, weights), atol=1e-10)


def _noise_free(backend_class: type) -> dict[str, Any]:
    """Options that switch a noisy simulator's noise off, when its options model has a noise scale."""
    return {"noise_scale": 0.0} if "noise_scale" in backend_class.Options.model_fields else {}


@cache
def exact_backend(name: str) -> tuple[harness.BackendUnderTest, Runtime, list[str]] | str:
    """(backend, its runtime, the gates it runs) for an installed exact local backend, or why it is skipped.

    Decided from the host's listing and declared capabilities only, never from a failing comparison.
    """
    backend_class = listed_backends()[name]
    if isinstance(backend_class, str):
        return backend_class
    backend = harness.BackendUnderTest(name)
    if backend.capabilities.supports_noise:
        backend = harness.BackendUnderTest(name, _noise_free(backend_class))
    caps = backend.capabilities
    if caps.remote or not caps.exact or caps.supports_noise:
        return f"{backend.label} is remote, shot-only or noisy (no noise-free option)"
    return backend, backend.runtime(), runnable_gates(caps.native_gates)


BROKEN = {f"broken-plugin:{broken.plugin.name}": broken.reason for broken in host.broken()}
"""Plugins that failed to import (a missing SDK): listed as skipped with their reason, never silently dropped."""


@pytest.fixture(scope="module", params=[entry.name for entry in host.backends()] + sorted(BROKEN))
def installed_backend(request: pytest.FixtureRequest) -> tuple[harness.BackendUnderTest, Runtime, list[str]]:
    """Each listed backend, set up once per module; skipped (with why) unless it is exact, local and noise-free."""
    if request.param in BROKEN:
        pytest.skip(BROKEN[request.param])
    found = exact_backend(request.param)
    if isinstance(found, str):
        pytest.skip(found)
    return found


@ci(15)
@given(data=st.data())
def test_random_circuits_match_the_reference_on_every_backend(
    installed_backend: tuple[harness.BackendUnderTest, Runtime, list[str]], data: st.DataObject
) -> None:
    """Each vendor translator (after core lowering) computes what the gate table's matrices say, within 1e-5."""
    backend, runtime, gate_names = installed_backend
    caps = backend.capabilities
    circuit = data.draw(circuits(gate_names, min(MAX_QUBITS, caps.max_qubits), backend.circuit_coupling))
    inputs, weights = data.draw(batches(circuit), label="batch")
    outputs = harness.run_rows(runtime, circuit, torch.from_numpy(inputs), torch.from_numpy(weights))
    expected = reference.evaluate(circuit, inputs, weights)
    harness.check_values(outputs, expected, circuit=circuit, what="random circuit", label=backend.label)


def test_the_default_backend_is_among_those_checked() -> None:
    """The emulator (core's default) must be among the checked backends, so the property above cannot go vacuous."""
    names = [entry.name for entry in host.backends()]
    assert "emulator" in names
    emulator = exact_backend("emulator")
    assert not isinstance(emulator, str), emulator
    assert set(emulator[2]) == set(GATES)  # through lowering, the emulator runs the whole gate table
