"""Eager PyTorch twin of bench/torch_forward_backward.cpp: the same random
GPT-2-small-sized model (12 layers, d 768, 12 heads, vocab 50257, tied lm_head),
written with plain torch ops in the same order (transformers is not installed),
the same loss (mean next-token cross-entropy over all B x T positions against random
targets) and the same two modes:
  train: every parameter gets a gradient;  probe: weights frozen, zero "probes"
  added to every key projection's output, torch.autograd.grad(loss, probes).
Usage: python3 forward_backward.py [--threads 2] [--batch 8] [--seq 64] [--iters 10] [--mode train|probe]
Prints one JSON line."""
import argparse, json, math, time
import torch
import torch.nn.functional as F

V, P, D, L, H, I = 50257, 1024, 768, 12, 12, 3072

def init(gen):
    normal = lambda *s: (torch.randn(*s, generator=gen) * 0.02)
    w = {"wte": normal(V, D), "wpe": normal(P, D), "ln_f": (torch.ones(D), torch.zeros(D)), "layers": []}
    for _ in range(L):
        w["layers"].append({"ln1": (torch.ones(D), torch.zeros(D)), "ln2": (torch.ones(D), torch.zeros(D)),
                            "qkv": (normal(3 * D, D), torch.zeros(3 * D)), "o": (normal(D, D), torch.zeros(D)),
                            "mlp_in": (normal(I, D), torch.zeros(I)), "mlp_out": (normal(D, I), torch.zeros(D))})
    return w

def params(w):
    out = [w["wte"], w["wpe"], *w["ln_f"]]
    for layer in w["layers"]:
        for v in layer.values(): out += list(v)
    return out

def forward(w, ids, probes=None):
    B, T = ids.shape
    pos = torch.arange(T).expand(B, T)
    mask = torch.ones(B, T, dtype=torch.long)
    allowed = torch.ones(T, T, dtype=torch.bool).tril().view(1, 1, T, T) & mask.bool().view(B, 1, 1, T)
    h = F.embedding(ids, w["wte"]) + F.embedding(pos, w["wpe"])
    for l, lw in enumerate(w["layers"]):
        x = F.layer_norm(h, (D,), *lw["ln1"], 1e-5)
        q, k, v = F.linear(x, *lw["qkv"]).chunk(3, -1)
        if probes is not None:
            probes.append(torch.zeros(k.shape, requires_grad=True)); k = k + probes[-1]
        split = lambda t: t.view(B, T, H, D // H).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        s = torch.matmul(q.float(), k.float().transpose(-2, -1)) * (1.0 / math.sqrt(D // H))
        s = s.masked_fill(~allowed, torch.finfo(torch.float32).min)
        a = torch.matmul(torch.softmax(s, -1).to(v.dtype), v).transpose(1, 2).reshape(B, T, D)
        h = h + F.linear(a, *lw["o"])
        m = F.gelu(F.linear(F.layer_norm(h, (D,), *lw["ln2"], 1e-5), *lw["mlp_in"]), approximate="tanh")
        h = h + F.linear(m, *lw["mlp_out"])
    return F.linear(F.layer_norm(h, (D,), *w["ln_f"], 1e-5), w["wte"])

def main():
    ap = argparse.ArgumentParser()
    for k, d in [("threads", 2), ("batch", 8), ("seq", 64), ("iters", 10)]: ap.add_argument("--" + k, type=int, default=d)
    ap.add_argument("--mode", default="train", choices=["train", "probe"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    w = init(torch.Generator().manual_seed(1234))
    if a.mode == "train":
        for p in params(w): p.requires_grad_(True)
    ids = torch.randint(V, (a.batch, a.seq)); targets = torch.randint(V, (a.batch, a.seq))
    times, cpu = [], []
    for it in range(a.iters + 2):  # 2 warm-up iterations
        t0, c0 = time.perf_counter(), time.process_time()
        probes = [] if a.mode == "probe" else None
        logits = forward(w, ids, probes)
        loss = F.nll_loss(torch.log_softmax(logits.view(-1, V), -1), targets.view(-1))
        if a.mode == "train":
            loss.backward()
            for p in params(w): p.grad = None
        else:
            torch.autograd.grad(loss, probes)
        if it >= 2: times.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
    times.sort(); cpu.sort()
    print(json.dumps({"impl": "pytorch-eager", "torch": torch.__version__, "mode": a.mode,
                      "threads": torch.get_num_threads(), "B": a.batch, "T": a.seq, "iters": a.iters,
                      "tokens_per_s": round(a.batch * a.seq * len(times) / sum(times), 1),
                      "s_per_iter_median": round(times[len(times) // 2], 4), "s_per_iter_min": round(times[0], 4),
                      "cpu_s_per_iter_median": round(cpu[len(cpu) // 2], 4)}))

if __name__ == "__main__":
    main()
