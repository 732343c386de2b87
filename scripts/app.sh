#!/usr/bin/env bash
# Install everything, then start the app on the shipped default checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec streamlit run app.py "$@"
