"""Registers `qwthn finetune`, `evaluate`, `dequantize` and `ablate` (the `qwthn_register_commands` hook)."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_commands(app):
    from qwthn_transformers.commands import ablate, dequantize, evaluate, finetune

    app.command()(finetune)
    app.command()(evaluate)
    app.command()(dequantize)
    app.command()(ablate)
