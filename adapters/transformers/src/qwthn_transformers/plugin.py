"""Registers `qwthn finetune` and `qwthn evaluate` with the core command line (the `qwthn_register_commands` hook)."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_commands(app):
    from qwthn_transformers.commands import evaluate, finetune

    app.command()(finetune)
    app.command()(evaluate)
