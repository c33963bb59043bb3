"""Registers the `wukong` backend (by path: nothing heavy loads until it is used) and the `qwthn chip` command."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    register("wukong", "qwthn_wukong.backend:WukongBackend")


@hookimpl
def qwthn_register_commands(app):
    from qwthn_wukong.chip_command import chip

    app.command()(chip)
