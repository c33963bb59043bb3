"""Saves and loads adapters as adapter_config.json + adapter_model.safetensors (no pickle).

LoRA adapters are written in peft's LoRA format (peft_format.py), so peft loads them; qwthn reads peft's
LoRA adapters and its own older LoRA files too. QWTHN/QTHA adapters keep qwthn's format (a `method` field):
peft cannot load them (see docs/peft.md), `from_pretrained` here is their peft-shaped loader.

Files are written under temporary names and renamed into place, so a crash
mid-save never leaves a half-written adapter behind.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from qwthn.errors import QwthnError
from qwthn.files import read_user_text, write_atomically, write_text_atomically
from qwthn.methods.base import AdapterConfig
from qwthn.methods.loading import parse_adapter_config
from qwthn.methods.lora import LoRAConfig
from qwthn.model import peft_format
from qwthn.model.inject import CONFIG_ATTRIBUTE, adapter_layers, inject_adapter, remove_adapter
from qwthn.runtime import Runtime, RuntimeConfig
from qwthn.version import __version__

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"

BASE_IDENTITY_ATTRIBUTE = "qwthn_base_identity"
"""Set by a loader on a base model it can name exactly (a GGUF file: name, size, sha256)."""
BASE_IDENTITY_KEY = "qwthn_base_model"
"""Where that identity is kept: the weights file's safetensors header, which peft and every reader ignore."""

Model = TypeVar("Model", bound=nn.Module)


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter's own tensors, keyed by their full name in the model."""
    state = {}
    for layer_name, layer in adapter_layers(model).items():
        for name, param in layer.adapter_parameters().items():
            state[f"{layer_name}.{name}"] = param.detach().to("cpu").contiguous()
    return state


def write_adapter(
    directory: str | Path, config: AdapterConfig, state: dict[str, torch.Tensor], base: str | None,
    base_identity: dict | None = None,
) -> Path:  # fmt: skip
    """The two adapter files, each written atomically (weights first, so a config never points at nothing)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise QwthnError(f"{directory} is a file; save the adapter to a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise QwthnError(f"cannot create {directory}: {error.strerror}; save the adapter somewhere writable") from None
    if isinstance(config, LoRAConfig):
        meta, state = peft_format.peft_config(config, base), peft_format.to_peft_keys(state)
    else:
        meta = {**config.model_dump(mode="json"), "qwthn_version": __version__}
        if base:
            meta["base_model_name_or_path"] = base
    header = {"format": "pt", "qwthn_version": __version__}
    if base_identity:
        header[BASE_IDENTITY_KEY] = json.dumps(base_identity, sort_keys=True)
    write_atomically(directory / WEIGHTS_NAME, lambda path: save_file(state, path, metadata=header))
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    write_text_atomically(directory / CONFIG_NAME, text)
    return directory


def save_adapter(model: nn.Module, directory: str | Path, *, overwrite: bool = False) -> Path:
    """Write the model's adapter to `directory`; one already there is replaced with a warning unless `overwrite`.

    Replacing (not refusing) keeps reruns and resumed runs working; the warning says a trained adapter went.
    """
    config = getattr(model, CONFIG_ATTRIBUTE, None)
    if config is None:
        raise QwthnError("this model has no qwthn adapter to save; call inject_adapter or load_adapter first")
    directory = Path(directory)
    if not overwrite and any((directory / name).is_file() for name in (CONFIG_NAME, WEIGHTS_NAME)):
        warnings.warn(f"replacing the adapter already in {directory}; pass overwrite=True to replace it silently, "
                      "or save to a new directory", UserWarning, stacklevel=2)  # fmt: skip
    base = getattr(getattr(model, "config", None), "_name_or_path", None)
    identity = getattr(model, BASE_IDENTITY_ATTRIBUTE, None)
    return write_adapter(directory, config, adapter_state_dict(model), base, identity)


def _read_tensors(directory: str | Path) -> dict[str, torch.Tensor]:
    weights_path = Path(directory) / WEIGHTS_NAME
    if not weights_path.is_file():
        raise QwthnError(f"no {WEIGHTS_NAME} in {directory}; the adapter directory is incomplete")
    try:
        return load_file(weights_path)
    except (SafetensorError, OSError) as error:
        raise QwthnError(f"{weights_path} is not a readable safetensors file ({error}); save the adapter "
                         "again") from None


def read_adapter_weights(directory: str | Path) -> dict[str, torch.Tensor]:
    """The adapter's tensors keyed by their full name in the model, whichever format the files use."""
    state = _read_tensors(directory)
    data, path = _read_config_data(directory)
    return peft_format.from_peft_keys(state, str(path)) if peft_format.is_peft(data) else state


def base_model_name(directory: str | Path) -> str | None:
    """The base model recorded in an adapter's config file, if any."""
    try:
        return json.loads((Path(directory) / CONFIG_NAME).read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None


def base_model_identity(directory: str | Path) -> dict | None:
    """The exact base model (file, bytes, sha256) an adapter was saved on, when its loader could name it."""
    try:
        with safe_open(Path(directory) / WEIGHTS_NAME, framework="pt") as handle:
            text = (handle.metadata() or {}).get(BASE_IDENTITY_KEY)
        return json.loads(text) if text else None
    except (SafetensorError, OSError, ValueError):
        return None


def check_base_model(model: nn.Module, directory: str | Path) -> None:
    """Refuse an adapter saved on another exactly-named base file (both sides must name theirs to compare)."""
    check_base_identity(directory, getattr(model, BASE_IDENTITY_ATTRIBUTE, None))


def check_base_identity(directory: str | Path, current: dict | None) -> None:
    """The same check against a base's identity computed before loading it (a loader's cheap early check)."""
    saved = base_model_identity(directory)
    if not saved or not current or saved.get("sha256") == current.get("sha256"):
        return
    raise QwthnError(f"the adapter in {directory} was trained on {saved.get('file')} (sha256 "
                     f"{str(saved.get('sha256'))[:12]}), not on {current.get('file')} (sha256 "
                     f"{str(current.get('sha256'))[:12]}); load it onto the base model it was trained on")  # fmt: skip


def _read_config_data(directory: str | Path) -> tuple[dict[str, Any], Path]:
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise QwthnError(
            f"no {CONFIG_NAME} in {directory}; point at a directory written by save_adapter or peft's save_pretrained"
        )
    try:
        data = json.loads(read_user_text(path, "adapter config"))
    except json.JSONDecodeError as error:
        raise QwthnError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise QwthnError(f"{path} holds a JSON {type(data).__name__}, not an object of adapter settings")
    return data, path


def read_adapter_config(directory: str | Path) -> AdapterConfig:
    """The adapter's config: qwthn's own (a `method` field, also older LoRA files) or a peft LoRA config."""
    data, path = _read_config_data(directory)
    if peft_format.is_peft(data):
        return peft_format.config_from_peft(data, str(path), lambda: _read_tensors(directory).keys())
    for key in ("qwthn_version", "base_model_name_or_path"):
        data.pop(key, None)
    return parse_adapter_config(data, source=str(path))


def load_adapter(
    model: nn.Module, directory: str | Path, runtime: RuntimeConfig | Runtime | None = None
) -> AdapterConfig:
    """Inject the saved adapter into a fresh base model and load its weights exactly.

    `runtime` says where its circuits run, e.g. `RuntimeConfig(backend="qiskit", shots=1000)`
    to run an adapter trained on the emulator elsewhere; the saved files are not touched.
    """
    config = read_adapter_config(directory)
    state = read_adapter_weights(directory)
    check_base_model(model, directory)
    inject_adapter(model, config, runtime)
    try:
        copy_adapter_weights(model, state, directory)
    except BaseException:
        remove_adapter(model)  # a failed load leaves the base model as it was, ready for another try
        raise
    return config


def from_pretrained(
    model: Model, model_id: str | Path, *, runtime: RuntimeConfig | Runtime | None = None, is_trainable: bool = False
) -> Model:
    """peft's `PeftModel.from_pretrained(model, model_id)` for every qwthn adapter, QWTHN and QTHA included.

    peft cannot load those (its method registry is closed to new methods, docs/peft.md), so this is their
    loader. `model_id` is a local adapter directory; `runtime` says where circuits run. As in peft, the
    adapter is frozen and the model put in eval mode unless `is_trainable`. Returns `model`, adapted in place.
    """
    load_adapter(model, model_id, runtime)
    if not is_trainable:
        for layer in adapter_layers(model).values():
            for param in layer.adapter_parameters().values():
                param.requires_grad_(False)
        model.eval()
    return model


def copy_adapter_weights(model: nn.Module, state: dict[str, torch.Tensor], directory: str | Path) -> None:
    expected = adapter_state_dict(model)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise QwthnError(
            f"adapter in {directory} does not fit this model (missing {missing[:3]}, unexpected {unexpected[:3]}); "
            "load it onto the base model it was trained on"
        )
    parameters = dict(model.named_parameters())
    for name, tensor in state.items():
        if parameters[name].shape != tensor.shape:
            raise QwthnError(f"adapter tensor {name} has shape {tuple(tensor.shape)}, the model expects "
                             f"{tuple(parameters[name].shape)}; load it onto the base model it was trained on")
    with torch.no_grad():
        for name, tensor in state.items():
            parameters[name].copy_(tensor)
