#!/usr/bin/env bash
# GPT-2 BPE throughput: eprunner's C++ BpeTokenizer vs the npm package gpt-tokenizer
# (node), on the same multi-MB text in the same run. Both encode the whole text as one
# string, single-threaded (node's encode is single-threaded; so is BpeTokenizer::encode).
#
#   bench/tokenizer_bench.sh [ITERATIONS=3]
# env: EPRUNNER_BUILD_DIR (default build), EP_TOKENIZER_DIR (default data/gpt2-tokenizer)
#
# Corpus: the files tests/core/tokenizer_node_test.cpp compares on, in the same order:
# /usr/share/common-licenses/* then /usr/share/doc/*/copyright, sorted by path (C
# locale), skipping files that are not UTF-8 or hold a NUL byte.
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-3}
build=${EPRUNNER_BUILD_DIR:-build}
tokdir=${EP_TOKENIZER_DIR:-data/gpt2-tokenizer}
out=bench/results
mkdir -p "$out"
corpus=$out/tokenizer-corpus.txt

if [[ ! -f $build/build.ninja && ! -f $build/Makefile ]]; then
  cmake -S . -B "$build" -G Ninja -DEPRUNNER_WITH_TORCH=OFF -DEPRUNNER_BUILD_BENCH=ON >/dev/null
fi
cmake --build "$build" --target tokenizer_bench >/dev/null

: >"$corpus"
skipped=0
while IFS= read -r f; do
  if [[ -f $f ]] && iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 && ! grep -qaP '\x00' "$f"; then
    cat "$f" >>"$corpus"
  else
    skipped=$((skipped + 1))
  fi
done < <( (LC_ALL=C ls -d /usr/share/common-licenses/* | LC_ALL=C sort
           LC_ALL=C ls -d /usr/share/doc/*/copyright 2>/dev/null | LC_ALL=C sort))
echo "corpus: $corpus, $(wc -c <"$corpus") bytes ($skipped files skipped)"

if [[ ! -f tests/node/node_modules/gpt-tokenizer/package.json ]]; then
  npm install --prefix tests/node --no-audit --no-fund --loglevel=error
fi

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cpp=$("$build/bench/tokenizer_bench" "$tokdir" "$corpus" "$iterations")
js=$(node tests/node/gpt2_reference.cjs bench "$corpus" "$iterations")
echo "$cpp"
echo "$js"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
node -e '
const [cpp, js] = process.argv.slice(1).map(JSON.parse);
const f = (x) => x.toFixed(1);
console.log(`C++ eprunner : first ${f(cpp.first_mb_per_s)} MB/s, best ${f(cpp.best_mb_per_s)} MB/s (${cpp.tokens} tokens)`);
console.log(`gpt-tokenizer: first ${f(js.first_mb_per_s)} MB/s, best ${f(js.best_mb_per_s)} MB/s (${js.tokens} tokens)`);
console.log(`ratio C++/node: first ${f(cpp.first_mb_per_s / js.first_mb_per_s)}x, best ${f(cpp.best_mb_per_s / js.best_mb_per_s)}x`);
console.log(`by CPU time  : C++ ${f(cpp.best_cpu_mb_per_s)} MB/s, node ${f(js.best_cpu_mb_per_s)} MB/s, ratio ${f(cpp.best_cpu_mb_per_s / js.best_cpu_mb_per_s)}x`);
' "$cpp" "$js"
