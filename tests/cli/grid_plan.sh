#!/usr/bin/env bash
# `eprunner plan` on the example grids: the cells and rank groups it prints, and a
# malformed grid failing with file:line:column.
# Usage: grid_plan.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
fail() { echo "grid_plan.sh: $*" >&2; exit 1; }
expect() {  # expect "what" "needle" "haystack"
  grep -qF -- "$2" <<<"$3" || { echo "$3" >&2; fail "$1: no line with '$2'"; }
}

out=$("$BIN" plan "$SRC/examples/paper.toml" --np 8)
expect "paper grid" "cells (15)" "$out"
expect "paper grid" "15 of 15 cell(s) to run" "$out"
expect "paper grid" "ft-gpt2-xl__rte" "$out"
expect "paper grid" "p: 0.01, 0.05, 0.1, 0.3" "$out"
expect "paper grid" "eigenpruning: recipe official;" "$out"
expect "paper grid" "ranks: 8, ranks_per_cell 1 -> 8 group(s)" "$out"
expect "paper grid" "group 7: rank 7" "$out"

out=$("$BIN" plan "$SRC/examples/tiny-gpt2.toml" --np 2)
expect "tiny-gpt2 grid" "cells (2)" "$out"
expect "tiny-gpt2 grid" "tiny-gpt2__int-mult" "$out"
expect "tiny-gpt2 grid" "2 group(s)" "$out"

out=$("$BIN" plan "$SRC/examples/demo.toml" --np 2)
expect "demo grid" "cells (2)" "$out"
expect "demo grid" "smollm2-135m__int-sum" "$out"
expect "demo grid" "at most 256 train, 64 validation, 200 test" "$out"

# Groups of 2 from 5 ranks: two groups, one idle rank.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/ranks_per_cell = 1 /ranks_per_cell = 2 /' "$SRC/examples/paper.toml" >"$tmp/paper2.toml"
out=$("$BIN" plan "$tmp/paper2.toml" --np 5)
expect "uneven world" "group 1: ranks 2-3" "$out"
expect "uneven world" "idle: rank 4" "$out"

# A malformed grid: exit status 1 and the position of the mistake.
set +e
err=$("$BIN" plan "$SRC/tests/data/grids/bad_wrong_type.toml" 2>&1)
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "malformed grid: exit status $rc, expected 1"
expect "malformed grid" "bad_wrong_type.toml:10:14: eigenprune.batch_size: expected an integer, got a string" "$err"
# Out-of-range numbers are refused at once, never a hang or a wrapped int.
set +e
err=$(timeout 20 "$BIN" plan "$SRC/examples/paper.toml" --np 100000000 2>&1); rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "plan --np 100000000: exit status $rc (124 = hung)"
expect "--np out of range" "--np" "$err"
printf 'output = "x.h5"\n[layout]\ngpus_per_node = 4294967295\n[[models]]\nname = "m"\npath = "/m"\n[[tasks]]\nkind = "int-sum"\n[eigenprune]\np = [0.1]\n' > "$tmp/gpus.toml"
set +e
err=$("$BIN" plan "$tmp/gpus.toml" 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "gpus_per_node = 4294967295: exit status $rc, expected 1"
expect "gpus_per_node out of range" "layout.gpus_per_node: must be in [0, 1024]" "$err"
echo "grid_plan.sh: OK"
