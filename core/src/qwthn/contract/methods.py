"""What an adapter method plugin registers, as the registry checks it: by shape, not by base class.

The registry sits below the methods floor (it is the plugin host's), so it cannot import
`qwthn.methods.base`; a method's config and layer classes are checked against these protocols
instead. qwthn's own `AdapterConfig` and `AdapterLayer` satisfy them, and subclassing those is
still the way to write a method.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class MethodConfig(Protocol):
    """An adapter config: a pydantic model with a `method` field defaulting to the method's name."""

    def for_layer(self, index: int) -> Any: ...

    def describe(self) -> str: ...

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any: ...


@runtime_checkable
class MethodLayer(Protocol):
    """An adapted layer: a torch module wrapping a frozen linear layer with a trainable update."""

    def delta(self, inputs: Any) -> Any: ...

    def adapter_parameters(self) -> Any: ...

    def forward(self, inputs: Any) -> Any: ...
