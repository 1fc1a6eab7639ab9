#!/usr/bin/env bash
# The GPU path is built, and exactly one NCCL is loaded: `eprunner info` (and --version)
# say CUDA and the NCCL backend are compiled in when the LibTorch they were built against
# is a CUDA build (the pinned PyPI torch is); the NCCL version loaded at run time is the
# one torch itself reports; ldd and the process's own maps show one libnccl file, the
# same file `import torch` maps. A change that drops the GPU build fails here.
# Usage: build_info.sh EPRUNNER_BIN SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
PY=${EP_PYTHON:-$SRC/.venv/bin/python}
status=0
fail() { echo "FAIL: $*"; status=1; }
ok() { echo "ok   $*"; }

info=$("$BIN" info)
echo "$info"
[ "$("$BIN" --version)" = "$info" ] && ok "--version prints the same as info" || fail "--version differs from info"
field() { sed -n "s/^$1: //p" <<<"$info"; }

# What the torch of the project's Python says about itself (the LibTorch CMake found).
read -r torch_cuda torch_nccl torch_nccl_file < <("$PY" - <<'PYEOF'
import os, torch
cuda = torch.version.cuda or "none"
nccl = ".".join(map(str, torch.cuda.nccl.version())) if cuda != "none" else "none"
maps = sorted({l.split()[-1] for l in open("/proc/self/maps") if "/libnccl" in l})
print(cuda, nccl, os.path.realpath(maps[0]) if maps else "none")
PYEOF
)
echo "torch: CUDA $torch_cuda, NCCL $torch_nccl from $torch_nccl_file"

if [ "$torch_cuda" = "none" ]; then
  echo "build_info.sh: $PY has a CPU-only torch; the CUDA/NCCL checks below need the pinned CUDA wheel"
  [[ $(field "NCCL compiled in") == no* ]] && ok "CPU-only LibTorch: NCCL not compiled in" || fail "NCCL compiled in without CUDA"
  exit $status
fi

[[ $(field "CUDA compiled in") == "yes (CUDA runtime $torch_cuda)" ]] && ok "CUDA compiled in, runtime $torch_cuda" \
  || fail "CUDA compiled in: '$(field "CUDA compiled in")', expected yes (CUDA runtime $torch_cuda)"
[[ $(field "NCCL compiled in") == yes* ]] && ok "NCCL backend compiled in" || fail "the NCCL backend is not compiled in"
[ "$(field "NCCL loaded")" = "$torch_nccl" ] && ok "NCCL loaded $torch_nccl (ncclGetVersion), as torch reports" \
  || fail "NCCL loaded '$(field "NCCL loaded")', torch reports $torch_nccl"
[ "$(field "NCCL libraries mapped")" = "1 $torch_nccl_file" ] && ok "one libnccl mapped: torch's $torch_nccl_file" \
  || fail "NCCL libraries mapped: '$(field "NCCL libraries mapped")', expected '1 $torch_nccl_file'"

# ldd: libtorch_cuda is a dependency, and every libnccl it resolves is that same file.
deps=$(ldd "$BIN")
grep -q "libtorch_cuda.so => /" <<<"$deps" && ok "ldd: libtorch_cuda.so resolved" || fail "ldd: no libtorch_cuda.so"
nccl_files=$(awk '/libnccl/ {print $3}' <<<"$deps" | xargs -r -n1 realpath | sort -u)
[ "$nccl_files" = "$torch_nccl_file" ] && ok "ldd: one libnccl, $nccl_files" \
  || fail "ldd: libnccl resolves to '$(echo $nccl_files)', expected only $torch_nccl_file"
exit $status
