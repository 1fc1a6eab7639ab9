#!/usr/bin/env bash
# GPT-2 BPE throughput: eprunner's C++ BpeTokenizer vs Hugging Face `tokenizers` (Rust,
# from the project's .venv), on the same multi-MB text in the same run. Both cut it into
# the same paragraphs and encode them one after another on one thread (tokenizers: one
# encode() call per paragraph, RAYON_NUM_THREADS=1; BpeTokenizer::encode on the calling thread).
#
#   bench/tokenizer_bench.sh [ITERATIONS=3]
# env: EPRUNNER_BUILD_DIR (default build), EP_TOKENIZER_DIR (default examples/gpt2-tokenizer)
#
# Corpus: the files tests/core/tokenizer_hf_test.cpp compares on, in the same order:
# /usr/share/common-licenses/* then /usr/share/doc/*/copyright, sorted by path (C
# locale), skipping files that are not UTF-8 or hold a NUL byte.
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-3}
build=${EPRUNNER_BUILD_DIR:-build}
tokdir=${EP_TOKENIZER_DIR:-examples/gpt2-tokenizer}
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

PY=.venv/bin/python

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cpp=$("$build/bench/tokenizer_bench" "$tokdir" "$corpus" "$iterations")
hf=$(RAYON_NUM_THREADS=1 "$PY" tests/reference/hf_gpt2_tokenizer.py bench "$tokdir" "$corpus" "$iterations")
echo "$cpp"
echo "$hf"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$cpp" "$hf" <<'PYEOF'
import json, sys
cpp, hf = map(json.loads, sys.argv[1:])
print(f"C++ eprunner : first {cpp['first_mb_per_s']:.1f} MB/s, best {cpp['best_mb_per_s']:.1f} MB/s ({cpp['tokens']} tokens)")
print(f"{hf['implementation']}: first {hf['first_mb_per_s']:.1f} MB/s, best {hf['best_mb_per_s']:.1f} MB/s ({hf['tokens']} tokens)")
print(f"ratio C++/tokenizers: first {cpp['first_mb_per_s'] / hf['first_mb_per_s']:.2f}x, best {cpp['best_mb_per_s'] / hf['best_mb_per_s']:.2f}x")
print(f"by CPU time: C++ {cpp['best_cpu_mb_per_s']:.1f} MB/s, tokenizers {hf['best_cpu_mb_per_s']:.1f} MB/s, "
      f"ratio {cpp['best_cpu_mb_per_s'] / hf['best_cpu_mb_per_s']:.2f}x")
PYEOF
