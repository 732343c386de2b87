#!/usr/bin/env bash
# Create .venv and install scdiff with the CPU build of torch (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0   # CPU build; satisfies torch>=2.2 below
python -m pip install -q -r requirements.txt
python -m pip install -q --no-deps -e .
