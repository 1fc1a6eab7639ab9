#!/usr/bin/env bash
# `eprunner export` of a real pretrained model with a nonzero accuracy: SmolLM2-135M-Instruct
# (Llama, grouped-query attention, a Q4_1 GGUF: config and tokenizer written from the file's
# metadata) eigenpruned on INT-SUM (keys, bias = "mean", p = 0.3), exported, and loaded by
# transformers alone: its test accuracy and every example's right/wrong equal the results
# file's, its logits eprunner's pruned model's, and its tokenizer.json (SmolLM2's digit
# splitting as HF's Digits + ByteLevel) gives eprunner's token ids. Slow: a few minutes on 2 cores.
# Usage: export_smollm2.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
GGUF=${EP_SMOLLM2_GGUF:-$SRC/data/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$GGUF" ] || { echo "export_smollm2.sh: no GGUF at $GGUF (scripts/setup extracts it)" >&2; exit 1; }
export OMP_WAIT_POLICY=PASSIVE TRANSFORMERS_VERBOSITY=error HF_HUB_OFFLINE=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cat > sm.toml <<TOML
seed = 1234
output = "sm.h5"
[[models]]
name = "smollm2"
path = "$GGUF"
[[tasks]]
kind = "int-sum"
[tasks.split]
max_train = 64
max_test = 200
[eigenprune]
matrices = ["k"]
bias = "mean"
p = [0.3]
batch_size = 16
eval_batch_size = 40
TOML
"$BIN" run sm.toml --threads 2 > run.log 2>&1 || { tail -n 20 run.log; echo "export_smollm2.sh: run failed" >&2; exit 1; }
"$BIN" report sm.h5
"$BIN" export sm.h5 --cell smollm2__int-sum --p 0.3 --out out --test-logits tl.st --threads 2 > export.log 2>&1 \
  || { cat export.log; echo "export_smollm2.sh: export failed" >&2; exit 1; }
grep -q '"attention_bias": true' out/config.json || { echo "export_smollm2.sh: attention_bias is not on" >&2; exit 1; }
"$PY" "$SRC/tests/reference/export_check.py" check out tl.st sm.h5 smollm2__int-sum 0.3 --exact 2>&1 \
  | grep -v '^Loading weights' | tee check.log
tail -n 1 check.log | grep -qx OK || { echo "export_smollm2.sh: transformers on the export does not match" >&2; exit 1; }
