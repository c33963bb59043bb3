"""Registers `qwthn finetune` with the core command line through the `qwthn_register_commands` hook."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_commands(app):
    from qwthn_transformers.commands import finetune

    app.command()(finetune)
