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
