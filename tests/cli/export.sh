#!/usr/bin/env bash
# `eprunner export`: a cell's pruned model as a Hugging Face folder.
# 1. Random HF checkpoints made here (GPT-2, Phi, Llama) and a seeded [models.init] GPT-2
#    are eigenpruned (keys and mlp_out, bias = "mean"; Phi also "paper_sum"), exported,
#    and loaded by transformers alone (tests/reference/export_check.py): its logits on
#    the test split equal eprunner's own pruned model's, and its test accuracy and every
#    example's right/wrong and predicted token equal the results file's.
# 2. bias = "position" exports the mean over positions and says so (message, metadata).
#    The comparisons (highest, random, LASER) export and check the same way.
# 3. Bad inputs: each a clear error and exit 1.
# Usage: export.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
CHECK="$SRC/tests/reference/export_check.py"
export OMP_WAIT_POLICY=PASSIVE TRANSFORMERS_VERBOSITY=error HF_HUB_OFFLINE=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "export.sh: $*" >&2; exit 1; }

for arch in gpt2 phi llama mistral; do
  "$PY" "$CHECK" make-model $arch "$tmp/$arch" "$SRC/examples/gpt2-tokenizer" 7 > /dev/null 2>&1 \
    || fail "could not make the random $arch checkpoint"
done

grid() {  # $1 = output, $2 = bias, $3.. = models as name=path ("init" for a seeded one)
  local out=$1 bias=$2; shift 2
  echo "seed = 5"; echo "output = \"$out\""
  for m in "$@"; do
    if [ "${m#*=}" = init ]; then
      printf '[[models]]\nname = "%s"\ntokenizer = "%s"\n[models.init]\narch = "gpt2"\nlayers = 2\nhidden = 32\nheads = 2\nmax_positions = 16\n' \
        "${m%%=*}" "$SRC/examples/gpt2-tokenizer"
    else
      printf '[[models]]\nname = "%s"\npath = "%s"\n' "${m%%=*}" "${m#*=}"
    fi
  done
  printf '[[tasks]]\nkind = "int-sum"\n[tasks.split]\nmax_train = 64\nmax_test = 100\n'
  printf '[eigenprune]\nmatrices = ["k", "mlp_out"]\nbias = "%s"\np = [0.1, 0.3]\nbatch_size = 16\n' "$bias"
}

run_grid() {  # $1 = grid file
  "$BIN" run "$1" --threads 2 > "$1.log" 2>&1 || { tail -n 20 "$1.log"; fail "run $1 failed"; }
}

# ---- 1. exact exports, checked in transformers -----------------------------------------
grid mean.h5 mean gpt2=gpt2 phi=phi llama=llama init=init > mean.toml
grid sum.h5 paper_sum phi=phi > sum.toml
# recipe = "official" (the paper code's folded matrices and summed last-batch bias, constant
# over positions): its freeze, written back in the model's own space, exports exactly too.
{ grid off.h5 mean gpt2=gpt2 phi=phi | grep -v '^bias = ' | sed 's/"k", "mlp_out"/"k", "mlp_in"/'; echo 'recipe = "official"'; } > off.toml
run_grid mean.toml; run_grid sum.toml; run_grid off.toml
for spec in mean.h5:gpt2:0.3 mean.h5:phi:0.1 mean.h5:llama:0.3 mean.h5:init:0.3 sum.h5:phi:0.3 off.h5:gpt2:0.3 off.h5:phi:0.3; do
  IFS=: read -r file model p <<< "$spec"
  out="out-${file%.h5}-$model"
  "$BIN" export "$file" --model "$model" --task int-sum --p "$p" --out "$out" --test-logits "$out.st" --threads 2 \
    > "$out.log" 2>&1 || { cat "$out.log"; fail "export of $model from $file failed"; }
  grep -q "exported cell ${model}__int-sum at p = $p" "$out.log" || { cat "$out.log"; fail "no export message"; }
  for f in config.json model.safetensors vocab.json merges.txt tokenizer_config.json eprunner_export.json README.md; do
    [ -f "$out/$f" ] || fail "$out has no $f"
  done
  echo "== $model ($file, p = $p)"
  "$PY" "$CHECK" check "$out" "$out.st" "$file" "${model}__int-sum" "$p" --exact 2>&1 | tee "$out.check" | sed 's/^/  /'
  tail -n 1 "$out.check" | grep -qx OK || fail "transformers on $out does not match eprunner"
done
grep -q '"attention_bias": true' out-mean-llama/config.json && grep -q '"mlp_bias": true' out-mean-llama/config.json \
  || fail "the Llama export's config.json does not switch on attention_bias and mlp_bias"

# An exported Llama folder (attention_bias and mlp_bias on) is a checkpoint eprunner runs
# again: its unpruned model is the run's pruned one, example for example.
{ echo 'seed = 5'; echo 'output = "again.h5"'; printf '[[models]]\nname = "llama"\npath = "out-mean-llama"\n'
  printf '[[tasks]]\nkind = "int-sum"\n[tasks.split]\nmax_train = 64\nmax_test = 100\n'
  printf '[eigenprune]\nmatrices = ["k"]\np = [0.1]\nbatch_size = 16\n'; } > again.toml
run_grid again.toml
PYTHONPATH="$SRC/tests/cli/lib" "$PY" - <<'PY' || fail "the re-loaded Llama export is not the pruned model"
import numpy as np
from results_view import open_results
with open_results("mean.h5") as f, open_results("again.h5") as g:
    pruned = next(r for r in f["cells"]["llama__int-sum"]["pruned"].values() if abs(r.attrs["p"] - 0.3) < 1e-12)
    base = g["cells"]["llama__int-sum"]["base"]["test"]
    a, b = pruned["test"]["predicted"][()], base["predicted"][()]
    same = int((a == b).sum())
    print(f"== llama export run again by eprunner: {same}/{len(a)} test predictions equal the run's at p = 0.3, "
          f"loss {base.attrs['loss']:.6f} vs {pruned['test'].attrs['loss']:.6f}")
    assert same == len(a) and abs(base.attrs["loss"] - pruned["test"].attrs["loss"]) <= 1e-4 * abs(pruned["test"].attrs["loss"])
PY

# ---- 2. bias = "position": the mean, said so ----------------------------------------------
grid pos.h5 position gpt2=gpt2 > pos.toml
run_grid pos.toml
"$BIN" export pos.h5 --cell gpt2__int-sum --p 0.3 --out out-pos --test-logits out-pos.st --threads 2 > out-pos.log 2>&1 \
  || { cat out-pos.log; fail "export of a position-bias cell failed"; }
grep -q 'note: the cell used bias = "position"' out-pos.log || { cat out-pos.log; fail "no note about the position bias"; }
grep -q '"exported_bias": "mean"' out-pos/eprunner_export.json || fail "eprunner_export.json does not say the bias is the mean"
grep -q 'Approximation' out-pos/README.md || fail "the model card does not say the bias is approximated"
echo "== gpt2 (bias = position, exported as the mean)"
"$PY" "$CHECK" check out-pos out-pos.st pos.h5 gpt2__int-sum 0.3 2>&1 | tee out-pos.check | sed 's/^/  /'
tail -n 1 out-pos.check | grep -qx OK || fail "transformers on out-pos does not match eprunner's mean-bias model"

# ---- 2b. the comparisons (docs/methods.md): each exported and checked in transformers ------
{ grid cmp.h5 mean gpt2=gpt2
  printf '[controls]\nhighest = true\nrandom_seeds = [3]\n[laser]\nmatrices = ["mlp_in"]\nlayers = [1, [0, 1]]\nrho = [0.25]\n'; } > cmp.toml
run_grid cmp.toml
for spec in "highest --p 0.3|highest p=0.3|0.3" "random --seed 3 --p 0.3|random seed=3 p=0.3|0.3" \
            "laser --matrix mlp_in --layers 0,1 --rho 0.25|laser mlp_in.0+1 rho=0.25|0.25"; do
  IFS='|' read -r args label p <<< "$spec"
  out="out-cmp-${label%% *}"
  # shellcheck disable=SC2086  # $args is several options
  "$BIN" export cmp.h5 --cell gpt2__int-sum --method $args --out "$out" --test-logits "$out.st" --threads 2 \
    > "$out.log" 2>&1 || { cat "$out.log"; fail "export of $label failed"; }
  grep -q "exported cell gpt2__int-sum with $label" "$out.log" || { cat "$out.log"; fail "no export message for $label"; }
  echo "== gpt2, $label"
  "$PY" "$CHECK" check "$out" "$out.st" cmp.h5 gpt2__int-sum "$p" --exact --method "$label" 2>&1 | tee "$out.check" | sed 's/^/  /'
  tail -n 1 "$out.check" | grep -qx OK || fail "transformers on $out does not match eprunner's $label"
done

# ---- 3. bad inputs: a clear error, exit 1 ------------------------------------------------
expect_error() {  # $1 = what, $2 = a pattern the message must have, then the command
  local what=$1 pattern=$2 rc=0; shift 2
  "$@" > err.log 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { cat err.log; fail "$what: exit $rc, expected 1"; }
  grep -q -- "$pattern" err.log || { cat err.log; fail "$what: the message lacks '$pattern'"; }
  echo "ok: $what: $(grep -m 1 'error' err.log | cut -c 1-220)"
}
E() { "$BIN" export "$@" --threads 2; }
expect_error "missing results file" "nothere.h5" E nothere.h5 --cell gpt2__int-sum --p 0.3 --out x1
head -c 3000 /dev/urandom > damaged.h5
expect_error "damaged results file" "damaged.h5" E damaged.h5 --cell gpt2__int-sum --p 0.3 --out x2
expect_error "missing cell" "its cells: gpt2__int-sum" E mean.h5 --model nope --task int-sum --p 0.3 --out x3
expect_error "unknown p" "its p: 0.1, 0.3" E mean.h5 --model gpt2 --task int-sum --p 0.2 --out x4
expect_error "both --cell and --model" "not both" E mean.h5 --cell gpt2__int-sum --model gpt2 --task int-sum --p 0.3 --out x5
expect_error "existing non-empty --out" "give --force" E mean.h5 --model gpt2 --task int-sum --p 0.3 --out out-mean-gpt2
E mean.h5 --model gpt2 --task int-sum --p 0.1 --out out-mean-gpt2 --force > force.log 2>&1 || { cat force.log; fail "--force failed"; }
grep -q '"p": "0.1"' out-mean-gpt2/eprunner_export.json 2>/dev/null || grep -q '"p": 0.1' out-mean-gpt2/eprunner_export.json \
  || fail "--force did not replace the folder"
ls -d out-mean-gpt2.tmp* 2>/dev/null && fail "a temporary folder was left behind"
# An error cell: its checkpoint was missing when the grid ran.
grid err.h5 mean gone="$tmp/never-there" > err.toml
"$BIN" run err.toml --threads 2 > err.toml.log 2>&1 || true
expect_error "error cell" "failed in its run" E err.h5 --cell gone__int-sum --p 0.3 --out x6
# Model files gone since the run.
cp -r gpt2 moved; grid moved.h5 mean moved="$tmp/moved" > moved.toml; run_grid moved.toml; rm -rf moved
expect_error "checkpoint gone" "does not exist" E moved.h5 --cell moved__int-sum --p 0.3 --out x7
# The checkpoint changed since the run: other weights under the same path.
cp -r gpt2 changed; grid changed.h5 mean changed="$tmp/changed" > changed.toml; run_grid changed.toml
rm -rf changed; "$PY" "$CHECK" make-model gpt2 changed "$SRC/examples/gpt2-tokenizer" 8 > /dev/null 2>&1
expect_error "checkpoint changed" "the checkpoint changed since the run" E changed.h5 --cell changed__int-sum --p 0.3 --out x8
# A fine-tuned model: its weights are not in the results file.
{ grid ft.h5 mean ft=init; printf '[models.finetune]\nlr = 0.01\nbatch_size = 32\nepochs = 1\n'; } > ft.toml
# ([models.finetune] must follow its [[models]] table: move it there.)
"$PY" - ft.toml <<'PY'
import sys, re
t = open(sys.argv[1]).read()
ft = t[t.index("[models.finetune]"):]
t = t[:t.index("[models.finetune]")]
t = t.replace("[[tasks]]", ft + "[[tasks]]", 1)
open(sys.argv[1], "w").write(t)
PY
run_grid ft.toml
expect_error "fine-tuned model" "fine-tuned" E ft.h5 --cell ft__int-sum --p 0.3 --out x9
# Mistral has no bias where the frozen keys' mean effect must go.
grid mis.h5 mean mistral=mistral > mis.toml; run_grid mis.toml
expect_error "mistral without a bias" "has none there" E mis.h5 --cell mistral__int-sum --p 0.3 --out x10
expect_error "a LASER setting the grid did not run" "it has: laser mlp_in.1 rho=0.25, laser mlp_in.0+1 rho=0.25" \
  E cmp.h5 --cell gpt2__int-sum --method laser --matrix mlp_in --layers 2 --rho 0.25 --out x11
expect_error "random without its seed" "takes --p and --seed" E cmp.h5 --cell gpt2__int-sum --method random --p 0.3 --out x12
expect_error "a control the grid did not run" "its grid ran no highest" E mean.h5 --cell gpt2__int-sum --method highest --p 0.3 --out x13
for d in x1 x2 x3 x4 x5 x6 x7 x8 x9 x10 x11 x12 x13; do [ ! -e "$d" ] || fail "a failed export left $d behind"; done
echo "export.sh: all checks passed"
