"""Core's own adapter methods, registered through the same hook as any plugin's."""

from qwthn.contract.hookspecs import hookimpl


@hookimpl
def qwthn_register_methods(register):
    from qwthn.methods.lora import LoRAConfig, LoRALinear
    from qwthn.methods.qpa import QPAConfig, QPALinear
    from qwthn.methods.qtha import QTHALinear
    from qwthn.methods.qtha.config import CONFIG_CLASSES
    from qwthn.methods.quanta import QuanTAConfig, QuanTALinear
    from qwthn.methods.quantum_peft import QuantumPEFTConfig, QuantumPEFTLinear
    from qwthn.methods.qwthn import QWTHNConfig, QWTHNLinear

    register("qwthn", QWTHNConfig, QWTHNLinear)
    register("lora", LoRAConfig, LoRALinear)
    register("quanta", QuanTAConfig, QuanTALinear)
    register("qpa", QPAConfig, QPALinear)
    register("quantum-peft", QuantumPEFTConfig, QuantumPEFTLinear)
    for name, config_class in CONFIG_CLASSES.items():  # the authors' architecture and its ablation variants
        register(name, config_class, QTHALinear)
