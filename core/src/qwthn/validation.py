"""Config models whose refusals are one line, however they are built: in Python, from a file, by
`model_validate`, or by assigning a field; pydantic's own report is several lines long."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator

from qwthn.errors import QwthnError

MAX_SEED = 2**32 - 1
"""Seeds reach numpy's SeedSequence, torch and `random`; all take 0..2**32-1, and a negative one breaks numpy."""

Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
"""The type of every seed field: refused in one line outside 0..MAX_SEED, before any numpy call."""


def check_seed(seed: int, flag: str = "--seed") -> int:
    """One rule for every seed a user passes (CLI options, Python options objects, configs)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise QwthnError(f"{flag} must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise QwthnError(f"{flag} must be from 0 to {MAX_SEED} (seeds are non-negative 32-bit numbers), got {seed}")
    return seed


def _numeric_types(annotation: Any) -> bool:
    """Whether a field's type takes int or float (alone, optional or in a union) but not bool."""
    if annotation is bool:
        return False
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _numeric_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        arguments = typing.get_args(annotation)
        return bool not in arguments and any(_numeric_types(argument) for argument in arguments)
    return False


class ConfigValueError(QwthnError, ValueError):
    """A config field with a value its model refuses; `detail` is the line without its source."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.detail = detail


def validation_detail(error: ValidationError) -> str:
    """The first bad field, what it accepts and what it got."""
    first = error.errors()[0]
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, ConfigValueError):  # already one line, from a nested model's own check
        return raised.detail
    location = [str(part) for part in first["loc"]]
    message = first["msg"].removeprefix("Value error, ")
    if not location:
        return message
    return f"invalid '{'.'.join(location)}': {message} (got {first.get('input')!r})"


def describe_validation_error(error: ValidationError, source: str) -> str:
    """One line naming the first bad field and what it accepts."""
    return f"{source}: {validation_detail(error)}"


class OneLineErrors(BaseModel):
    """Mix-in: every way of building or changing the model raises `ConfigValueError`, not pydantic's report.

    Numbers are strict about booleans: pydantic takes True as 1, so YAML's `n_qubits: yes` would build
    a 1-qubit adapter; every int/float field of every subclass refuses a bool instead.
    """

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            if field is not None and _numeric_types(field.annotation):
                raise ValueError("takes a number, not a boolean (YAML reads yes/no/on/off as true/false); write the "
                                 "number")
        return value

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise ConfigValueError(type(self).__name__, validation_detail(error)) from None

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Any:
        try:
            return super().model_validate(obj, **options)
        except ValidationError as error:
            raise ConfigValueError(cls.__name__, validation_detail(error)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as error:
            raise ConfigValueError(type(self).__name__, validation_detail(error)) from None
