#!/usr/bin/env bash
# `eprunner logits` end to end on the tiny-gpt2 fixture: logits, and with --targets the
# loss, key inputs and key gradients, against HF's reference.safetensors (rel. error
# max|a-b| / max|b| <= 1e-5 for logits and loss, 1e-4 for captures). Also a bad
# argument and a bad input give one clear error line.
# Usage: logits.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
FIX="$SRC/tests/data/fixtures/tiny-gpt2"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The project's Python (.venv, with numpy); ctest passes it as EP_PYTHON.
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
"$PY" -c "import numpy" || { echo "logits.sh: $PY lacks numpy (run scripts/setup)" >&2; exit 1; }

# safetensors by hand (the python module is not installed): u64 header length, JSON, data.
cat > "$TMP/st.py" <<'PYEOF'
import json, struct, sys
import numpy as np
DT = {"F32": np.float32, "I64": np.int64, "I32": np.int32}
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n]); data = b[8 + n:]
    out = {}
    for k, v in head.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(data[s:e], dtype=DT[v["dtype"]]).reshape(v["shape"])
    return out
def write(path, tensors):
    head, off, blobs = {}, 0, []
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k]); raw = a.tobytes()
        name = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        head[k] = {"dtype": name, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw); off += len(raw)
    h = json.dumps(head).encode(); h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h); f.write(b"".join(blobs))
def rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30))
cmd = sys.argv[1]
if cmd == "make-input":
    ref = read(sys.argv[2])
    write(sys.argv[3], {"input_ids": ref["input_ids"], "targets": ref["targets"]})
elif cmd == "compare":
    out, ref, with_targets = read(sys.argv[2]), read(sys.argv[3]), sys.argv[4] == "1"
    checks = [("logits", "logits", 1e-5)]
    if with_targets:
        checks.append(("loss", "loss", 1e-5))
        for l in range(2):
            checks += [(f"capture.k.in.{l}", f"key_in.{l}", 1e-4), (f"capture.k.grad.{l}", f"key_grad.{l}", 1e-4)]
    ok = True
    for got, want, tol in checks:
        if got not in out or out[got].shape != ref[want].shape:
            print(f"FAIL {got}: missing or shape {out.get(got, np.zeros(0)).shape} != {ref[want].shape}"); ok = False; continue
        r = rel(out[got], ref[want])
        print(f"{'ok  ' if r <= tol else 'FAIL'} {got} vs {want}: relative error {r:.3g} (tol {tol:g})")
        ok &= r <= tol
    sys.exit(0 if ok else 1)
PYEOF

"$PY" "$TMP/st.py" make-input "$FIX/reference.safetensors" "$TMP/in.safetensors"
status=0
"$BIN" logits --model "$FIX" --input "$TMP/in.safetensors" --output "$TMP/out.safetensors" --threads 2
"$PY" "$TMP/st.py" compare "$TMP/out.safetensors" "$FIX/reference.safetensors" 0 || status=1
"$BIN" logits --model "$FIX" --input "$TMP/in.safetensors" --output "$TMP/out2.safetensors" --threads 2 --targets
"$PY" "$TMP/st.py" compare "$TMP/out2.safetensors" "$FIX/reference.safetensors" 1 || status=1

# Errors: one line naming what is wrong, non-zero exit.
expect_error() {  # expect_error PATTERN ARGS...
  local pattern=$1; shift
  if "$BIN" "$@" >"$TMP/err.txt" 2>&1; then echo "FAIL: '$*' succeeded"; status=1; return; fi
  if grep -q -- "$pattern" "$TMP/err.txt"; then echo "ok   error: $(head -1 "$TMP/err.txt")"
  else echo "FAIL: '$*' printed: $(cat "$TMP/err.txt")"; status=1; fi
}
expect_error "unknown --dtype 'fp8'; expected one of: fp32, bf16, fp16" logits --model "$FIX" --input "$TMP/in.safetensors" --output "$TMP/x" --dtype fp8
expect_error "unknown --capture matrix 'kk'" logits --model "$FIX" --input "$TMP/in.safetensors" --output "$TMP/x" --capture kk
expect_error "tensor 'input_ids' is missing" logits --model "$FIX" --input "$FIX/model.safetensors" --output "$TMP/x"
# A GGUF checkpoint cut short, and a GGUF file that is not a GGUF file: the file and what is wrong.
GGUF=${EP_SMOLLM2_GGUF:-$SRC/data/SmolLM2-135M-Instruct.Q4_1.gguf}
if [ -f "$GGUF" ]; then
  head -c 5000000 "$GGUF" > "$TMP/cut.gguf"
  expect_error "cut.gguf" logits --model "$TMP/cut.gguf" --input "$TMP/in.safetensors" --output "$TMP/x"
else
  echo "note: no $GGUF (scripts/setup makes it); the truncated-GGUF case is skipped"
fi
printf 'GGML\3\0\0\0' > "$TMP/magic.gguf"
expect_error "magic" logits --model "$TMP/magic.gguf" --input "$TMP/in.safetensors" --output "$TMP/x"

if [ $status -eq 0 ]; then echo "logits.sh: all checks passed"; else echo "logits.sh: FAILED"; fi
exit $status
