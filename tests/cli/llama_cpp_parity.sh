#!/usr/bin/env bash
# A second opinion on the real SmolLM2 GGUF from llama.cpp (llama-cpp-python): `eprunner
# logits` against llama.cpp's quantized arithmetic on teacher-forced INT-SUM / INT-MULT
# sequences; a looser tolerance than transformers' (hf_parity.sh) and the same top-1 token
# wherever it is not a near tie (tests/reference/llama_cpp_logits.py says what is measured).
# Usage: llama_cpp_parity.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
GGUF=${EP_SMOLLM2_GGUF:-$SRC/data/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$GGUF" ] || { echo "llama_cpp_parity.sh: no GGUF at $GGUF (scripts/setup extracts it)" >&2; exit 1; }
"$PY" -c "import llama_cpp" || { echo "llama_cpp_parity.sh: $PY lacks llama_cpp (run scripts/setup)" >&2; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
exec "$PY" "$SRC/tests/reference/llama_cpp_logits.py" "$BIN" "$GGUF" "$TMP" 2> >(grep -v '^llama_\|^load' >&2)
