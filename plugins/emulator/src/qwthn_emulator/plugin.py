"""Registers the emulator through the same entry point as any third-party backend."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    from qwthn_emulator.backend import EmulatorBackend

    register(EmulatorBackend)
