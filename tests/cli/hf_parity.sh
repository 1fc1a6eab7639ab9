#!/usr/bin/env bash
# Live parity with Hugging Face transformers: tests/reference/hf_live_parity.py builds
# random small GPT-2 and Phi configs with transformers at test time (widths, heads,
# partial rotary, rope theta, tied/untied heads, fp32/bf16, sharded fp16), and compares
# `eprunner logits` (logits, loss, key inputs and gradients, padded batches) against them.
# Usage: hf_parity.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
"$PY" -c "import transformers, safetensors" || { echo "hf_parity.sh: $PY lacks transformers (run scripts/setup)" >&2; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
exec "$PY" "$SRC/tests/reference/hf_live_parity.py" "$BIN" "$TMP"
