"""Registers `qwthn finetune`, `evaluate`, `dequantize` and `ablate` (the `qwthn_register_commands` hook)."""

from qwthn import hookimpl

QWTHN_CONTRACT = "0.1"  # the qwthn contract this plugin was built for: core refuses to load it under another


@hookimpl
def qwthn_register_commands(app):
    from qwthn_transformers.commands import ablate, dequantize, evaluate, finetune

    app.command()(finetune)
    app.command()(evaluate)
    app.command()(dequantize)
    app.command()(ablate)
