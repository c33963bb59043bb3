"""Registers `qwthn finetune`, `evaluate` and `dequantize` with the core command line (`qwthn_register_commands`)."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_commands(app):
    from qwthn_transformers.commands import dequantize, evaluate, finetune

    app.command()(finetune)
    app.command()(evaluate)
    app.command()(dequantize)
