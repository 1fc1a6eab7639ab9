#!/usr/bin/env bash
# GPT-2-XL-sized scoring on one GPU, eprunner beside ../shared/reference/hf_scoring_baseline.py
# (the Python baseline: HF transformers, hooks, one backward per batch), random weights,
# T = 8 and T = 256, fp32 and bf16: at equal batch size (64) and at each side's best batch
# size of a short sweep. Writes a Markdown table to $OUT/scoring-table.md and the raw JSON
# lines beside it. Called by scripts/gpu-check; about 4 minutes on an H200.
# Usage: gpu_scoring.sh BUILD_DIR [BASELINE.py]
set -uo pipefail
BUILD=$1
BASE=${2:-$(dirname "$0")/../../shared/reference/hf_scoring_baseline.py}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
PY=${PY:-$(command -v python3)}
raw="$OUT/scoring.jsonl"; : > "$raw"

ours() {  # dtype T n bs
  "$BUILD/bench/torch_scoring_sizes" --model gpt2-xl --device cuda --dtype "$1" --T "$2" --n "$3" --bs "$4" 2>>"$OUT/scoring.err" \
    | tee -a "$raw" || echo "{\"impl\": \"eprunner\", \"dtype\": \"$1\", \"T\": $2, \"bs\": $4, \"failed\": true}" >> "$raw"
}
theirs() {  # dtype T n bs
  if [ -f "$BASE" ]; then
    "$PY" "$BASE" --models gpt2-xl --dtypes "$1" --T "$2" --n "$3" --bs "$4" 2>>"$OUT/scoring.err" \
      | sed 's/^{/{"impl": "baseline", /' | tee -a "$raw" \
      || echo "{\"impl\": \"baseline\", \"dtype\": \"$1\", \"T\": $2, \"bs\": $4, \"failed\": true}" >> "$raw"
  fi
}

for T in 8 256; do
  n=1024; [ "$T" -eq 256 ] && n=256
  for dt in fp32 bf16; do
    for bs in 64 256; do ours "$dt" "$T" "$n" "$bs"; theirs "$dt" "$T" "$n" "$bs"; done
    [ "$T" -eq 8 ] && { ours "$dt" "$T" 4096 1024; theirs "$dt" "$T" 4096 512; }
  done
done

"$PY" - "$raw" > "$OUT/scoring-table.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
for r in rows:  # the baseline names dtypes as torch does, and reports failures as "error"
    r["dtype"] = {"float32": "fp32", "bfloat16": "bf16"}.get(r.get("dtype"), r.get("dtype"))
    r["failed"] = r.get("failed") or "error" in r
def rate(r): return r.get("ex_per_s") or r.get("examples_per_s") or 0.0
out = ["| T | dtype | batch | eprunner ex/s | baseline ex/s | ratio | eprunner peak GiB | baseline peak GiB |",
       "|---:|---|---|---:|---:|---:|---:|---:|"]
for T in (8, 256):
    for dt in ("fp32", "bf16"):
        mine = [r for r in rows if r.get("impl") == "eprunner" and r.get("T") == T and r.get("dtype") == dt and not r.get("failed")]
        base = [r for r in rows if r.get("impl") == "baseline" and r.get("T") == T and r.get("dtype") == dt and not r.get("failed")]
        def at(rs, bs): return next((r for r in rs if r.get("bs") == bs), None)
        def peak(r): return r.get("peak_gib", r.get("peak_mem_gib", "-")) if r else "-"
        a, b = at(mine, 64), at(base, 64)
        if a or b:
            out.append(f"| {T} | {dt} | 64 both | {rate(a) if a else '-'} | {rate(b) if b else '-'} | "
                       f"{rate(a) / rate(b):.2f} | {peak(a)} | {peak(b)} |" if a and b and rate(b) else
                       f"| {T} | {dt} | 64 both | {rate(a) if a else '-'} | {rate(b) if b else '-'} | - | {peak(a)} | {peak(b)} |")
        if mine and base:
            a, b = max(mine, key=rate), max(base, key=rate)
            out.append(f"| {T} | {dt} | best: {a['bs']} vs {b['bs']} | {rate(a)} | {rate(b)} | {rate(a) / max(rate(b), 1e-9):.2f} "
                       f"| {peak(a)} | {peak(b)} |")
svd = [r for r in rows if r.get("impl") == "eprunner" and "svd_s" in r]
if svd:
    r = min(svd, key=lambda r: r["svd_s"])
    out.append("")
    out.append(f"Key matrices' decomposition (per head, float64, checked): {r['svd_s']:.3f} s vs torch.linalg.svd default "
               f"{r['torch_svd_s']:.3f} s ({r['torch_svd_s'] / max(r['svd_s'], 1e-9):.1f}x), reconstruction error {r['svd_recon_err']:.2g}")
print("\n".join(out))
PY
cat "$OUT/scoring-table.md"
