#!/usr/bin/env bash
# Installs everything (see install.sh), then runs the linter, the docs build (strict), the test suite and the
# benchmark smoke run. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --dev
.venv/bin/ruff check .
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "$(mktemp -d)"  # the docs site (mkdocs.yml)
.venv/bin/python benchmarks/qnn_throughput.py --smoke
.venv/bin/python benchmarks/qnn_throughput.py --smoke --regime
.venv/bin/python benchmarks/backends.py --smoke
.venv/bin/python benchmarks/wukong_engine.py --smoke
.venv/bin/python benchmarks/expressivity.py --smoke
.venv/bin/python benchmarks/train_step.py --smoke
.venv/bin/python -m pytest "$@"
