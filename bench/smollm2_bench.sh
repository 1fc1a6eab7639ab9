#!/usr/bin/env bash
# SmolLM2-135M-Instruct (the real pretrained GGUF, fp32) on the CPU: eprunner
# (bench/smollm2_scoring) vs Hugging Face transformers, eager PyTorch
# (bench/smollm2_transformers.py, from the project's .venv: the same torch as the C++ build),
# same torch thread count, same batches (eprunner writes the token ids, Python reads them).
#   1. scoring throughput (examples/s): eprunner's Scorer::score_batch on the key matrices per
#      head (and its plain forward + grad to the probes) vs transformers' forward + backward to
#      zero probes on every k_proj output (weights frozen), stock and with lm_head's input made
#      contiguous (a user-side hook: see smollm2_transformers.py); runs alternate, ROUNDS each;
#   2. load: wall seconds and peak RSS of loading the GGUF file (fp32), each in a fresh process
#      under /usr/bin/time -v; "delta" subtracts the RSS just before the load call (LibTorch
#      initialised; Python: torch and transformers imported).
# Results: bench/README.md, "SmolLM2-135M on the CPU: eprunner vs transformers".
# Usage: bench/smollm2_bench.sh [BUILD_DIR=build]
# env: THREADS="1 2" BATCH=16 BATCHES=8 PASSES=3 ROUNDS=2 SEED=1 HF_PARAMS=0 (1: also time
#      transformers' backward into every weight, for scale) EP_SMOLLM2_GGUF=data/SmolLM2-135M-Instruct.Q4_1.gguf
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bench/smollm2_scoring
THREADS=${THREADS:-"1 2"} BATCH=${BATCH:-16} BATCHES=${BATCHES:-8} PASSES=${PASSES:-3} ROUNDS=${ROUNDS:-2}
SEED=${SEED:-1} HF_PARAMS=${HF_PARAMS:-0}
GGUF=${EP_SMOLLM2_GGUF:-data/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -x "$BIN" ] || { echo "no $BIN: cmake --build $BUILD --target smollm2_scoring" >&2; exit 1; }
[ -f "$GGUF" ] || { echo "no $GGUF (scripts/setup puts it in data/)" >&2; exit 1; }
PY=.venv/bin/python
"$PY" -c "import torch, transformers, gguf" 2>/dev/null || { echo "$PY cannot import torch, transformers and gguf (run scripts/setup)" >&2; exit 1; }
# libgomp's threads spin while waiting for work by default: on a shared 2-core machine that
# burns the core another thread (or process) needs. Both sides wait passively.
export OMP_WAIT_POLICY=PASSIVE
export TRANSFORMERS_VERBOSITY=error HF_HUB_DISABLE_PROGRESS_BARS=1 TQDM_DISABLE=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "# machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GB; load average $(load)"
echo "# $GGUF; OMP_WAIT_POLICY=$OMP_WAIT_POLICY; batch $BATCH x $BATCHES batches, best of $PASSES passes, $ROUNDS rounds; threads: $THREADS"
for t in $THREADS; do
  for r in $(seq "$ROUNDS"); do
    "$BIN" --mode score --model "$GGUF" --threads "$t" --batch "$BATCH" --batches "$BATCHES" --passes "$PASSES" \
      --seed "$SEED" --ids-out "$TMP/ids.json" | tee -a "$TMP/ep.score.$t"
    echo "#   load average $(load)"
    "$PY" bench/smollm2_transformers.py --mode score --model "$GGUF" --ids "$TMP/ids.json" --threads "$t" \
      --passes "$PASSES" --cache "$TMP/hf-model.pt" 2> "$TMP/py.err" | tee -a "$TMP/hf.score.$t" \
      || { cat "$TMP/py.err" >&2; exit 1; }
    echo "#   load average $(load)"
    "$PY" bench/smollm2_transformers.py --mode score --model "$GGUF" --ids "$TMP/ids.json" --threads "$t" \
      --passes "$PASSES" --cache "$TMP/hf-model.pt" --contiguous-lm-head 2> "$TMP/py.err" | tee -a "$TMP/hfc.score.$t" \
      || { cat "$TMP/py.err" >&2; exit 1; }
    echo "#   load average $(load)"
  done
  if [ "$HF_PARAMS" = 1 ]; then
    "$PY" bench/smollm2_transformers.py --mode score --model "$GGUF" --ids "$TMP/ids.json" --threads "$t" \
      --passes "$PASSES" --cache "$TMP/hf-model.pt" --grad params 2>/dev/null | tee -a "$TMP/hfp.score.$t"
  fi
done
for t in $THREADS; do  # fresh processes, one load each
  /usr/bin/time -v "$BIN" --mode load --model "$GGUF" --threads "$t" > "$TMP/ep.load.$t" 2> "$TMP/ep.time.$t"
  cat "$TMP/ep.load.$t"
  /usr/bin/time -v "$PY" bench/smollm2_transformers.py --mode load --model "$GGUF" --threads "$t" \
    > "$TMP/hf.load.$t" 2> "$TMP/hf.time.$t" || { cat "$TMP/hf.time.$t" >&2; exit 1; }
  cat "$TMP/hf.load.$t"
  echo "#   load average $(load)"
done

"$PY" - "$TMP" $THREADS <<'PYEOF'
import json, re, sys
tmp, threads = sys.argv[1], sys.argv[2:]
runs = lambda f: [json.loads(l) for l in open(f) if l.startswith("{")]
def maxrss_mb(f):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f).read()).group(1)) / 1024
print("\n# scoring throughput, examples/s by the wall clock (best pass of the best round); cpu = process CPU ms per batch")
print("# threads | eprunner score  plain | HF stock  HF contig | score/HF  plain/HF  score/HFc  plain/HFc | cpu ms/batch: score  plain  HF  HFc | loss, grad max rel. diff")
for t in threads:
    ep, hf, hc = runs(f"{tmp}/ep.score.{t}"), runs(f"{tmp}/hf.score.{t}"), runs(f"{tmp}/hfc.score.{t}")
    s = max(r["score_ex_per_s"] for r in ep); p = max(r["plain_ex_per_s"] for r in ep)
    h = max(r["ex_per_s"] for r in hf); c = max(r["ex_per_s"] for r in hc)
    cs = min(r["score_cpu_ms_per_batch"] for r in ep); cp = min(r["plain_cpu_ms_per_batch"] for r in ep)
    ch = min(r["cpu_ms_per_batch"] for r in hf); cc = min(r["cpu_ms_per_batch"] for r in hc)
    rel = lambda k: max(abs(a - b) / abs(b) for a, b in zip(ep[0][k], hf[0][k]))
    print(f"  {t:7s} | {s:14.2f} {p:6.2f} | {h:8.2f} {c:10.2f} | {s / h:8.3f} {p / h:9.3f} {s / c:10.3f} {p / c:10.3f} | "
          f"{cs:19.0f} {cp:6.0f} {ch:4.0f} {cc:4.0f} | {rel('loss'):.1e}, {rel('grad_norm'):.1e}")
    try:
        hp = runs(f"{tmp}/hfp.score.{t}")
        print(f"  {t:7s}   transformers with every weight's gradient: {max(r['ex_per_s'] for r in hp):.2f} examples/s")
    except FileNotFoundError:
        pass
e0 = runs(f"{tmp}/ep.score.{threads[0]}")[0]
print(f"# {e0['examples']} examples, {e0['real_tokens']} real tokens, T <= {e0['max_T']}, answers <= {e0['max_K']} tokens; "
      f"{e0['components']} key components; decomposition (not in the throughput): "
      + ", ".join(f"{min(r['decompose_s'] for r in runs(f'{tmp}/ep.score.{t}')):.2f} s ({t} thr)" for t in threads))
print("\n# load of the GGUF file (fp32), one fresh process each")
print("# threads | load s: eprunner  HF  ep/HF | peak RSS MB (time -v): eprunner  HF  ep/HF | RSS before load: ep  HF | peak - before: ep  HF  ep/HF")
for t in threads:
    e, h = runs(f"{tmp}/ep.load.{t}")[0], runs(f"{tmp}/hf.load.{t}")[0]
    pe, ph = maxrss_mb(f"{tmp}/ep.time.{t}"), maxrss_mb(f"{tmp}/hf.time.{t}")
    de, dh = pe - e["rss_before_mb"], ph - h["rss_before_mb"]
    print(f"  {t:7s} | {e['load_s']:16.2f} {h['load_s']:5.2f} {e['load_s'] / h['load_s']:6.3f} | "
          f"{pe:29.0f} {ph:5.0f} {pe / ph:6.3f} | {e['rss_before_mb']:19.0f} {h['rss_before_mb']:4.0f} | "
          f"{de:18.0f} {dh:4.0f} {de / dh:6.3f}")
h = runs(f"{tmp}/hf.load.{threads[0]}")[0]
print(f"# transformers {h['transformers']}, torch {h['torch']}; Python's RSS after `import torch` alone: {h['rss_torch_mb']:.0f} MB")
PYEOF
echo "# load average after: $(load)"
