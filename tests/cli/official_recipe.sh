#!/usr/bin/env bash
# recipe = "official" against the paper's computation in TransformerLens:
# tests/reference/official_recipe_tl.py builds random GPT-2, Phi and Llama models with
# transformers, runs `eprunner run` with recipe = "official" (INT-SUM with and without
# BOS; q, k, v, mlp_in) and repeats the paper code's scoring, selection and freeze in
# TransformerLens (TransformerBridge, HookedTransformer's weight processing) on the
# same batches: scores <= 1e-5 relative, the same frozen sets, the same pruned test
# predictions and loss. About 40 s on 2 cores.
# Usage: official_recipe.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
"$PY" -c "import transformers, transformer_lens" || { echo "official_recipe.sh: $PY lacks transformers or transformer_lens (run scripts/setup)" >&2; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
export OMP_WAIT_POLICY=PASSIVE
exec "$PY" "$SRC/tests/reference/official_recipe_tl.py" "$BIN" "$TMP"
