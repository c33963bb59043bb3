"""Core's own adapter methods, registered through the same hook as any plugin's."""

from qwthn.contract.hookspecs import hookimpl


@hookimpl
def qwthn_register_methods(register):
    from qwthn.methods.lora import LoRAConfig, LoRALinear
    from qwthn.methods.qwthn import QWTHNConfig, QWTHNLinear

    register("qwthn", QWTHNConfig, QWTHNLinear)
    register("lora", LoRAConfig, LoRALinear)
