"""Config validation: every bad value is refused with one line naming the field."""

from __future__ import annotations

import pytest

from qwthn import LoRAConfig, QWTHNConfig, load_adapter_config, parse_adapter_config
from qwthn.errors import QwthnError


def test_method_selects_the_config_class():
    assert isinstance(parse_adapter_config({}), QWTHNConfig)
    assert isinstance(parse_adapter_config({"method": "lora", "r": 8}), LoRAConfig)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"n_qubits": 0}, "invalid 'n_qubits'"),
        ({"fusion": "sum"}, "invalid 'fusion'"),
        ({"readout": "probs"}, "fusion 'weighted' needs readout 'expval_z'"),
        ({"method": "lora", "r": 0}, "invalid 'r'"),
        ({"method": "dora"}, "invalid 'method': unknown adapter method 'dora'; the registered methods are: qwthn, lora"),  # noqa: E501
        ({"n_qbits": 4}, "invalid 'n_qbits': Extra inputs are not permitted"),
        ({"target_modules": []}, "invalid 'target_modules'"),
        ({"dropout": 1.5}, "invalid 'dropout'"),
    ],
)
def test_bad_values_give_one_line_naming_the_field(data, expected):
    with pytest.raises(QwthnError) as caught:
        parse_adapter_config(data, source="my.yaml")
    message = str(caught.value)
    assert message.startswith("my.yaml: ") and expected in message and "\n" not in message


def test_yaml_and_json_files(tmp_path):
    (tmp_path / "a.yaml").write_text("n_qubits: 6\nfusion: linear\nreadout: probs\n")
    (tmp_path / "b.json").write_text('{"method": "lora", "r": 2}')
    assert load_adapter_config(tmp_path / "a.yaml").n_qubits == 6
    assert load_adapter_config(tmp_path / "b.json").r == 2


def test_unreadable_config_files(tmp_path):
    with pytest.raises(QwthnError, match="does not exist"):
        load_adapter_config(tmp_path / "missing.yaml")
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(QwthnError, match=r"not valid JSON \(line 1, column 2\)"):
        load_adapter_config(tmp_path / "broken.json")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(QwthnError, match="expected a mapping"):
        load_adapter_config(tmp_path / "list.yaml")


def _numeric_fields(model: type) -> list[str]:
    from qwthn.validation import _numeric_types

    return [name for name, field in model.model_fields.items() if _numeric_types(field.annotation)]


def _configs() -> list[type]:
    from qwthn.plugins import host
    from qwthn.runtime import RuntimeConfig

    return [*(host.methods.get(name).config_class for name in host.methods.names()), RuntimeConfig]


@pytest.mark.parametrize("value", [True, False])
def test_no_number_field_of_any_config_takes_a_boolean(value):
    """YAML's `yes`/`on`/`true` is a bool, which pydantic would take as 1: n_qubits: yes trained a 1-qubit adapter."""
    checked = 0
    for model in _configs():
        for name in _numeric_fields(model):
            with pytest.raises(QwthnError, match=rf"invalid '{name}': takes a number, not a boolean"):
                model(**{name: value})
            checked += 1
    assert checked >= 10  # n_qubits, n_layers, bond_dim, scale, r, alpha, shots, seed, retries, timeout, ...


def test_yaml_yes_for_a_count_names_the_field(tmp_path):
    (tmp_path / "a.yaml").write_text("n_qubits: yes\n")
    with pytest.raises(QwthnError, match=r"a.yaml: invalid 'n_qubits': takes a number, not a boolean"):
        load_adapter_config(tmp_path / "a.yaml")


def test_booleans_and_numbers_still_work():
    from qwthn.runtime import RuntimeConfig

    config = QWTHNConfig(n_qubits=3, scale=2, reupload=True)
    assert (config.n_qubits, config.scale, config.reupload) == (3, 2.0, True)
    assert RuntimeConfig(shots=10, seed=0, forward_only=True).shots == 10


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seeds_outside_0_to_2_32_are_refused_in_every_config(seed):
    from qwthn.runtime import RuntimeConfig
    from qwthn.validation import check_seed

    for build in (lambda: RuntimeConfig(seed=seed), lambda: QWTHNConfig(seed=seed),
                  lambda: parse_adapter_config({"method": "qtha", "seed": seed})):  # fmt: skip
        with pytest.raises(QwthnError, match="invalid 'seed'"):
            build()
    with pytest.raises(QwthnError, match="--seed must be from 0 to 4294967295"):
        check_seed(seed)


def test_duplicate_keys_and_byte_order_marks_in_config_files(tmp_path):
    (tmp_path / "dup.yaml").write_text("r: 2\nmethod: lora\nr: 4\n")
    with pytest.raises(QwthnError, match=r"line 3, column 1\): duplicate key 'r'"):
        load_adapter_config(tmp_path / "dup.yaml")
    (tmp_path / "bom.json").write_bytes(b'\xef\xbb\xbf{"method": "lora", "r": 2}')
    assert load_adapter_config(tmp_path / "bom.json").r == 2
    (tmp_path / "utf16.yaml").write_bytes("r: 2\n".encode("utf-16"))
    with pytest.raises(QwthnError, match="is UTF-16 text; save it as UTF-8"):
        load_adapter_config(tmp_path / "utf16.yaml")
