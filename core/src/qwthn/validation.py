"""Config models whose refusals are one line, however they are built: in Python, from a file, by
`model_validate`, or by assigning a field; pydantic's own report is several lines long."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from qwthn.errors import QwthnError


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
    """Mix-in: every way of building or changing the model raises `ConfigValueError`, not pydantic's report."""

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
