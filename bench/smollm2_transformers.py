"""Hugging Face transformers' side of the SmolLM2-135M CPU benchmark (bench/smollm2_bench.sh runs
both; bench/smollm2_scoring.cpp is eprunner's side).

  python bench/smollm2_transformers.py --mode score --ids FILE [--model data/...gguf] [--threads 2]
                                       [--passes 3] [--grad probes|params] [--cache FILE]
                                       [--contiguous-lm-head]
  python bench/smollm2_transformers.py --mode load [--model ...] [--threads 2]

score: AutoModelForCausalLM.from_pretrained(dir, gguf_file=name, dtype=float32,
  attn_implementation="eager"); the batches eprunner wrote (smollm2_scoring --ids-out: left
  padded input_ids, attention_mask, position_ids = cumsum(mask)-1 clamped at 0, targets [B, K]
  right-aligned with -1 before shorter answers). Per batch: forward with logits_to_keep=K (the
  last K positions, as eprunner's LogitsScope::last_positions(K)), loss = summed cross-entropy of
  the answer tokens, loss.backward().
    --grad probes (default): weights frozen; a forward hook adds a zero "probe" (requires grad) to
      every layer's k_proj output, so backward computes dL/d(k output) and no weight gradient:
      the work of eprunner's forward with taps + autograd::grad to the probes.
    --grad params: every weight gets its gradient (a fine-tuning step's backward), for scale.
  --contiguous-lm-head: a forward pre-hook copies lm_head's input (the slice of the last K
    positions) to a contiguous tensor: stock transformers gives F.linear the strided slice, which
    PyTorch runs as a slow bmm against the weight expanded over the batch (bench/README.md).
  One warm-up batch, then best of --passes passes over all batches. Prints one JSON line,
  with each batch's loss and probe-gradient norm (to compare with eprunner's).
load: RSS after `import torch`, after `import transformers`, then from_pretrained (fp32): wall
  seconds, RSS after, peak RSS (VmHWM). One JSON line.
"""
import argparse
import json
import os
import time


def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def load_model(path, cache=None):
    """The GGUF file through transformers' GGUF loader. With `cache` (a file), a pickled copy of
    that model object (the same fp32 weights; save_pretrained refuses GGUF-loaded models) when
    one is there, written on first use: the GGUF loader takes half a minute or more here, and
    score mode does not time it."""
    import torch
    import transformers as tf
    tf.logging.set_verbosity_error()
    if cache and os.path.exists(cache):
        return torch.load(cache, weights_only=False).eval()
    model = tf.AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)),
                                                    gguf_file=os.path.basename(path), dtype=torch.float32,
                                                    attn_implementation="eager")
    if cache:
        torch.save(model, cache)
    return model.eval()


def run_load(a):
    import torch
    torch.set_num_threads(a.threads)
    torch.zeros(1).add_(1)
    rss_torch = status_mb("VmRSS")
    t0 = time.perf_counter()
    import transformers  # noqa: F401  (imported before the timed load, as eprunner's libraries are)
    import_s = time.perf_counter() - t0
    rss_before = status_mb("VmRSS")
    t0 = time.perf_counter()
    model = load_model(a.model)
    load_s = time.perf_counter() - t0
    print(json.dumps({"impl": "transformers", "mode": "load", "transformers": transformers.__version__,
                      "torch": torch.__version__, "threads": torch.get_num_threads(), "load_s": load_s,
                      "import_transformers_s": import_s, "rss_torch_mb": rss_torch,
                      "rss_before_mb": rss_before, "rss_after_mb": status_mb("VmRSS"),
                      "peak_rss_mb": status_mb("VmHWM"),
                      "params": sum(p.numel() for p in model.parameters())}))


def run_score(a):
    import torch
    import torch.nn.functional as F
    import transformers
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = load_model(a.model, a.cache)
    load_s = time.perf_counter() - t0
    with open(a.ids) as f:
        spec = json.load(f)
    batches = []
    for b in spec["batches"]:
        batches.append({k: torch.tensor(v, dtype=torch.long) for k, v in b.items()})

    probes = []
    if a.grad == "probes":
        model.requires_grad_(False)

        def add_probe(module, inputs, output):
            p = torch.zeros_like(output, requires_grad=True)
            probes.append(p)
            return output + p

        for layer in model.model.layers:
            layer.self_attn.k_proj.register_forward_hook(add_probe)
    else:
        model.requires_grad_(True)
    if a.contiguous_lm_head:
        # logits_to_keep=K hands lm_head the slice hidden[:, -K:, :], not contiguous; F.linear on
        # it runs as a bmm against the weight expanded over the batch, several times slower than
        # the mm it is on a contiguous copy. A user-side workaround, to show what the rest costs.
        model.lm_head.register_forward_pre_hook(lambda mod, args: (args[0].contiguous(),))

    def step(b, measure=False):
        probes.clear()
        K = b["targets"].shape[1]
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                       position_ids=b["position_ids"], use_cache=False, logits_to_keep=K).logits  # [B, K, V]
        V = logits.shape[-1]
        loss = F.cross_entropy(logits.float().reshape(-1, V), b["targets"].reshape(-1), ignore_index=-1,
                               reduction="sum")
        loss.backward()
        out = None
        if measure:
            gn = sum(float(p.grad.double().pow(2).sum()) for p in probes) ** 0.5 if probes else float("nan")
            out = (loss.item(), gn)
        if a.grad == "params":
            for p in model.parameters():
                p.grad = None
        return out

    checks = [step(b, measure=True) for b in batches]  # the numbers eprunner printed (not timed)
    step(batches[0])  # warm-up: one batch
    best_wall = best_cpu = float("inf")
    for _ in range(a.passes):
        w0, c0 = time.perf_counter(), time.process_time()
        for b in batches:
            step(b)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    n = sum(b["input_ids"].shape[0] for b in batches)
    print(json.dumps({"impl": "transformers", "mode": "score", "grad": a.grad,
                      "contiguous_lm_head": a.contiguous_lm_head, "transformers": transformers.__version__,
                      "torch": torch.__version__, "threads": torch.get_num_threads(), "batches": len(batches),
                      "examples": n, "passes": a.passes, "load_s": load_s,
                      "ex_per_s": n / best_wall, "ms_per_batch": 1e3 * best_wall / len(batches),
                      "cpu_ms_per_batch": 1e3 * best_cpu / len(batches),
                      "loss": [c[0] for c in checks], "grad_norm": [c[1] for c in checks]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["score", "load"], default="score")
    ap.add_argument("--model", default="data/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--ids", help="the batches smollm2_scoring --ids-out wrote (score mode)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--cache", help="score mode: file for a pickled copy of the GGUF-loaded model")
    ap.add_argument("--contiguous-lm-head", action="store_true",
                    help="copy lm_head's input (the last K positions) to a contiguous tensor first")
    ap.add_argument("--grad", choices=["probes", "params"], default="probes")
    a = ap.parse_args()
    if a.mode == "score" and not a.ids:
        ap.error("--mode score needs --ids")
    (run_load if a.mode == "load" else run_score)(a)


if __name__ == "__main__":
    main()
