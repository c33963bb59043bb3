"""A pure-torch user: inject, train, save, load and merge on a plain nn.Module with transformers and peft unimportable.

Runs in a fresh interpreter where `import transformers` and `import peft` fail, so any import of the
Hugging Face stack on this path fails the test (only `qwthn` and `qwthn-emulator` are needed).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys, tempfile
    sys.modules["transformers"] = None  # importing either now raises ImportError
    sys.modules["peft"] = None

    import torch
    from torch import nn

    from qwthn import LoRAConfig, QWTHNConfig
    from qwthn.model import inject_adapter, load_adapter, merge_and_unload, save_adapter


    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj, self.v_proj = nn.Linear(8, 8), nn.Linear(8, 8)

        def forward(self, x):
            return self.v_proj(torch.tanh(self.q_proj(x)))


    def fresh():
        torch.manual_seed(0)
        return Block()


    def trained(config):
        model = fresh()
        report = inject_adapter(model, config)
        inputs = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
        target = fresh()(inputs).detach() + 0.5 * torch.sin(inputs)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=1e-2)
        losses = []
        for _ in range(60):
            loss = nn.functional.mse_loss(model(inputs), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.8 * losses[0], (config.method, losses[0], losses[-1])
        return model, inputs, report


    for config in (QWTHNConfig(n_qubits=2, n_layers=1, seed=0), LoRAConfig(r=2)):
        model, inputs, report = trained(config)
        assert report.trainable_params > 0 and set(report.targets) == {"q_proj", "v_proj"}
        with tempfile.TemporaryDirectory() as directory:
            save_adapter(model, directory)
            reloaded = fresh()
            load_adapter(reloaded, directory)
            assert torch.allclose(model(inputs), reloaded(inputs), atol=1e-6), config.method
        if config.method == "lora":
            expected = model(inputs).detach()
            merged = merge_and_unload(model)
            assert isinstance(merged.q_proj, nn.Linear) and torch.allclose(merged(inputs), expected, atol=1e-5)
    assert "transformers" not in {name.split(".")[0] for name, module in sys.modules.items() if module}
    print("pure torch: ok")
    """
)


def test_inject_train_save_load_and_merge_without_transformers_or_peft():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "pure torch: ok"
