"""Registers the `wukong` backend (by path: nothing heavy loads until it is used) and the `qwthn chip` command."""

from qwthn import hookimpl

QWTHN_CONTRACT = "0.1"  # the qwthn contract this plugin was built for: core refuses to load it under another


@hookimpl
def qwthn_register_backends(register):
    register("wukong", "qwthn_wukong.backend:WukongBackend")


@hookimpl
def qwthn_register_commands(app):
    from qwthn_wukong.chip_command import chip

    app.command()(chip)
