#!/usr/bin/env python3
"""`recipe = "official"` against the paper's computation run in TransformerLens.

Builds random small GPT-2, Phi and Llama (grouped keys and values) models with transformers
(LayerNorm and RMSNorm scales and shifts perturbed, so that folding them matters), runs `eprunner run` on a grid with
`recipe = "official"` (INT-SUM with and without BOS; q, k, v and mlp_in), and repeats the
paper's scoring steps in TransformerLens on the same weights and the same batches:

  TransformerLens 4.x has no HookedTransformer; its TransformerBridge with
  enable_compatibility_mode() applies HookedTransformer's default weight processing
  (fold_ln, center_writing_weights, center_unembed, fold_value_biases), checked here:
  k = LNPre(resid) W_K' + b_K' at every hook (RMSNormPre and no bias for Llama).
  Per matrix: SVD of W_K' per head (W_in' whole); x = resid_pre (resid_mid for GPT-2's and
  Llama's mlp_in, Llama's up_proj); g = dL/d(hook output) with the MEAN cross-entropy of the last position over the
  batch; x' = torch.roll(x, 1, 0); ΔL_i = s_i (g·u_i)(v_i·(x' − x)); score = max over
  examples and positions, running over the batches in order; the lowest int(N·p) over all
  matrices frozen (stable sort); x̄ = the last batch's mean resid per position; the pruned
  model: W' = W − D, b' = b + Σ_t x̄[t] D, applied at the hooks.

The scoring batches and token ids come from eprunner (EPRUNNER_TEST_SCORING_DUMP), so the
two sides score exactly the same pairs. Checks, per cell: every score (max-normalised
relative error <= 1e-5), singular values, the last batch's mean activation, the frozen set
at every p (identical, or differing only inside ties at the threshold), and the pruned
model's test predictions and loss. Also prints how many scores are negative.

  official_recipe_tl.py EPRUNNER_BIN WORKDIR
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import torch
import transformers as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli", "lib"))
from results_view import open_results  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCORE_TOL = 1e-5
KINDS = ["k", "q", "v", "mlp_in"]
P = [0.05, 0.1, 0.3]


def make_models(workdir):
    from tokenizers import ByteLevelBPETokenizer
    tok_src = os.path.join(SRC, "examples", "gpt2-tokenizer")
    bl = ByteLevelBPETokenizer(os.path.join(tok_src, "vocab.json"), os.path.join(tok_src, "merges.txt"))
    tok = tf.GPT2TokenizerFast(tokenizer_object=bl._tokenizer, bos_token="<|endoftext|>",
                               eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    V = 50257
    configs = {
        "gpt2": tf.GPT2Config(vocab_size=V, n_positions=32, n_embd=64, n_layer=2, n_head=4, resid_pdrop=0.0,
                              embd_pdrop=0.0, attn_pdrop=0.0, initializer_range=0.1),
        "phi": tf.PhiConfig(vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                            num_attention_heads=4, partial_rotary_factor=0.5, resid_pdrop=0.0, embd_pdrop=0.0,
                            attention_dropout=0.0, max_position_embeddings=32, initializer_range=0.1),
        # RMSNorm and grouped keys and values (2 KV heads for 4 query heads).
        "llama": tf.LlamaConfig(vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                                initializer_range=0.1, rms_norm_eps=1e-5),
    }
    folders = {}
    for i, (name, cfg) in enumerate(configs.items()):
        torch.manual_seed(100 + i)
        model = {"gpt2": tf.GPT2LMHeadModel, "phi": tf.PhiForCausalLM, "llama": tf.LlamaForCausalLM}[name](cfg).eval()
        with torch.no_grad():  # LayerNorm weights away from 1 and biases away from 0: folding must matter
            for n, p in model.named_parameters():
                if "ln" in n or "layernorm" in n or n.endswith("norm.weight"):
                    p.copy_((1.0 if n.endswith("weight") else 0.0) + 0.3 * torch.randn_like(p))
        folder = os.path.join(workdir, name)
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        folders[name] = folder
    return folders


def write_grid(workdir, folders):
    text = f'seed = 7\noutput = "{workdir}/results.h5"\n'
    for name, folder in folders.items():
        text += f'\n[[models]]\nname = "{name}"\npath = "{folder}"\n'
    for task, bos in (("int-sum", "true"), ("int-sum-nobos", "false")):
        text += (f'\n[[tasks]]\nkind = "int-sum"\nname = "{task}"\nbos = {bos}\n'
                 f'[tasks.split]\nmax_train = 44\nmax_test = 24\n')
    text += (f'\n[eigenprune]\nrecipe = "official"\nmatrices = {json.dumps(KINDS)}\np = {json.dumps(P)}\n'
             f'batch_size = 8\n')
    path = os.path.join(workdir, "grid.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


# ---- the paper's steps in TransformerLens ---------------------------------------------------
def boot(folder):
    from transformer_lens.model_bridge import TransformerBridge
    hf = tf.AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager").eval()
    bridge = TransformerBridge.boot_transformers(folder, hf_model=hf, device="cpu")
    bridge.enable_compatibility_mode(disable_warnings=True)
    return bridge


def hook_names(arch, kind, layer):
    """(x hook, output hook) for a matrix kind (Llama's mlp_in is up_proj, TransformerLens' W_in)."""
    b = f"blocks.{layer}"
    x = f"{b}.hook_resid_mid" if (kind == "mlp_in" and arch in ("gpt2", "llama")) else f"{b}.hook_resid_pre"
    if kind == "mlp_in":
        out = f"{b}.mlp.hook_pre_linear" if arch == "llama" else f"{b}.mlp.hook_pre"
    else:
        out = f"{b}.attn.hook_{kind}"
    return x, out


def weights(bridge, kind, layer):
    """The folded matrix as [H, d_model, d_out] and its bias [H, d_out] (mlp_in: H = 1)."""
    blk = bridge.blocks[layer]
    if kind == "mlp_in":
        W = blk.mlp.W_in.detach()[None]
        b = getattr(blk.mlp, "b_in", None)
    else:
        W = {"q": blk.attn.W_Q, "k": blk.attn.W_K, "v": blk.attn.W_V}[kind].detach()
        b = getattr(blk.attn, {"q": "b_Q", "k": "b_K", "v": "b_V"}[kind], None)
    b = torch.zeros(W.shape[0], W.shape[2]) if b is None else b.detach().reshape(W.shape[0], W.shape[2])
    return W, b


def heads(t, H):
    """A hook output as [B, T, H, d]."""
    return t if t.dim() == 4 else t.reshape(*t.shape[:2], H, -1)


def ln_pre(x, eps, rms=False):
    """LNPre (LayerNorm without scale and shift); RMSNormPre for RMSNorm models (no centring)."""
    if not rms:
        x = x - x.mean(-1, keepdim=True)
    return x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()


def run_batch(bridge, arch, ids, targets, n_layers, edits=None):
    """Forward (+ backward of the mean CE at the last position): x and g per (kind, layer)."""
    store, hooks = {}, []
    for kind in KINDS:
        for l in range(n_layers):
            xn, on = hook_names(arch, kind, l)

            def keep_x(t, hook, key=(kind, l)):
                store[("x",) + key] = t
                return t

            def keep_out(t, hook, key=(kind, l)):
                if edits and key in edits:
                    t = edits[key](store[("x",) + key], t)
                if t.requires_grad:
                    t.retain_grad()
                store[("out",) + key] = t
                return t
            hooks += [(xn, keep_x), (on, keep_out)]
    logits = bridge.run_with_hooks(ids, fwd_hooks=hooks)
    last = logits[:, -1].float()
    loss = torch.nn.functional.cross_entropy(last, targets)  # the mean over the batch, as the paper's code
    return store, last, loss


def official(bridge, arch, dump, eps):
    cfg = bridge.cfg
    L, H = cfg.n_layers, cfg.n_heads
    prompts, answers = dump["train_prompts"], [a[0] for a in dump["train_answers"]]
    svd = {}
    for kind in KINDS:
        for l in range(L):
            W, _ = weights(bridge, kind, l)
            svd[(kind, l)] = torch.linalg.svd(W.double(), full_matrices=False)  # U [H, D, r], S [H, r], Vh [H, r, o]
    scores = {key: torch.full(svd[key][1].shape, -np.inf, dtype=torch.float64) for key in svd}
    fold_err = 0.0
    pair_neg = [0, 0]  # one example's ΔL (its max over positions) below 0, of all
    for rows in dump["batches"]:
        ids = torch.tensor([prompts[i] for i in rows])
        store, _, loss = run_batch(bridge, arch, ids, torch.tensor([answers[i] for i in rows]), L)
        loss.backward()
        for key, (U, S, Vh) in svd.items():
            x = store[("x",) + key].detach().double()                      # [B, T, D]
            out = store[("out",) + key]
            W, b = weights(bridge, *key)
            fold_err = max(fold_err, ((torch.einsum("btd,hdo->btho", ln_pre(x, eps, arch == "llama"), W.double()) + b.double())
                                      - heads(out.detach(), W.shape[0]).double()).abs().max().item())
            g = heads(out.grad, W.shape[0]).double()                       # [B, T, H, o]
            dx = torch.roll(x, 1, 0) - x                                   # x' = the previous example
            dl = S * torch.einsum("btd,hdr->bthr", dx, U) * torch.einsum("btho,hro->bthr", g, Vh)
            scores[key] = torch.maximum(scores[key], dl.amax((0, 1)))      # max over examples and positions
            per_example = dl.amax(1)                                       # one example's max over positions
            pair_neg[0] += int((per_example < 0).sum())
            pair_neg[1] += per_example.numel()
        bridge.zero_grad(set_to_none=True)
        last_x = {key: store[("x",) + key].detach().double() for key in svd}
    xbar = {key: x.mean(0) for key, x in last_x.items()}                  # the LAST batch's mean [T, D]
    return svd, scores, xbar, fold_err, pair_neg


def frozen_sets(scores, order, p):
    flat = torch.cat([scores[key].reshape(-1) for key in order])
    rank = torch.sort(flat, stable=True).indices
    return flat, rank[: int(flat.numel() * p)]


def evaluate_pruned(bridge, arch, dump, svd, xbar, order, frozen, eps):
    """Test predictions and mean loss of the model pruned as the paper's code prunes it."""
    sizes = [svd[key][1].numel() for key in order]
    starts = np.cumsum([0] + sizes)
    edits = {}
    for key, start, size in zip(order, starts, sizes):
        U, S, Vh = svd[key]
        mask = torch.zeros(size, dtype=torch.float64)
        sel = frozen[(frozen >= start) & (frozen < start + size)] - start
        if sel.numel() == 0:
            continue
        mask[sel] = 1.0
        D = torch.einsum("hdr,hr,hro->hdo", U, (S.reshape(-1) * mask).reshape(S.shape), Vh)  # [H, D, o]
        bias = torch.einsum("td,hdo->ho", xbar[key], D)                     # Σ_t x̄[t] D: one bias for all positions

        def edit(x, out, D=D, bias=bias):                                   # (W − D) and b + Σ_t x̄[t] D
            delta = -torch.einsum("btd,hdo->btho", ln_pre(x.double(), eps, arch == "llama"), D) + bias
            return out + delta.to(out.dtype).reshape(out.shape)
        edits[key] = edit
    ids = torch.tensor(dump["test_prompts"])
    targets = torch.tensor([a[0] for a in dump["test_answers"]])
    with torch.no_grad():
        _, last, loss = run_batch(bridge, arch, ids, targets, bridge.cfg.n_layers, edits)
    return last.argmax(-1), loss.item()


def check_cell(cell, arch, folder, dump, failures):
    name = cell.attrs["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    bridge = boot(folder)
    eps = 1e-5
    svd, scores, xbar, fold_err, pair_neg = official(bridge, arch, dump, eps)
    L = bridge.cfg.n_layers
    order = [(k, l) for k in KINDS for l in range(L)]
    ok = fold_err <= 1e-4
    print(f"{name}: TransformerLens hook outputs vs LNPre(resid) W' + b': max abs diff {fold_err:.2e}")
    neg = tot = 0
    for kind in KINDS:
        ours = np.asarray(cell[f"scores/{kind}/delta_loss"], dtype=np.float64)    # [L, B, R]
        ref = torch.stack([scores[(kind, l)] for l in range(L)]).numpy()
        rel = np.abs(ours - ref).max() / np.abs(ref).max()
        sv = np.asarray(cell[f"scores/{kind}/singular_values"], dtype=np.float64)
        ref_sv = torch.stack([svd[(kind, l)][1] for l in range(L)]).numpy()
        sv_rel = np.abs(sv - ref_sv).max() / np.abs(ref_sv).max()
        # TransformerLens' residual is centred (center_writing_weights, LayerNorm models); eprunner keeps
        # the model's own, which D·x̄ cannot tell apart (D's inputs are ⊥ 1): compare them centred.
        am = np.asarray(cell[f"scores/{kind}/activation_mean"], dtype=np.float64)  # [L, P, D]
        if arch != "llama":
            am = am - am.mean(-1, keepdims=True)
        ref_am = torch.stack([xbar[(kind, l)] for l in range(L)]).numpy()
        T = ref_am.shape[1]
        am_rel = np.abs(am[:, -T:] - ref_am).max() / np.abs(ref_am).max()
        neg += int((ref < 0).sum())
        tot += ref.size
        good = rel <= SCORE_TOL and sv_rel <= SCORE_TOL and am_rel <= SCORE_TOL
        ok &= good
        print(f"  {kind:<7} scores rel {rel:.2e}  singular values rel {sv_rel:.2e}  last-batch x̄ rel {am_rel:.2e}  "
              f"negative {int((ref < 0).sum())}/{ref.size}  {'ok' if good else 'FAIL'}")
    print(f"  negative scores: {neg}/{tot} ({100.0 * neg / tot:.1f} %); one example's ΔL (max over positions) "
          f"negative: {pair_neg[0]}/{pair_neg[1]} ({100.0 * pair_neg[0] / pair_neg[1]:.1f} %)")
    for i, p in enumerate(P):
        pruned = cell[f"pruned/{i}"]
        flat, frozen = frozen_sets(scores, order, p)
        ours_mask = np.concatenate([np.asarray(pruned[f"masks/{k}"])[l].reshape(-1) for k, l in order]).astype(bool)
        ref_mask = np.zeros(flat.numel(), dtype=bool)
        ref_mask[frozen.numpy()] = True
        differ = np.nonzero(ours_mask != ref_mask)[0]
        # Inside a tie at the threshold (e.g. the 0s BOS makes), either side's choice is the same set up to order.
        thresh = flat[frozen[-1]].item() if frozen.numel() else 0.0
        scale = flat.abs().max().item()
        tie_only = all(abs(flat[j].item() - thresh) <= SCORE_TOL * scale for j in differ)
        pred, loss = evaluate_pruned(bridge, arch, dump, svd, xbar, order, frozen, eps)
        ours_pred = np.asarray(pruned["test/predicted"])
        ours_loss = float(pruned["test"].attrs["loss"])
        ours_acc = float(pruned["test"].attrs["accuracy"])
        targets = np.array([a[0] for a in dump["test_answers"]])
        tl_acc = float((pred.numpy() == targets).mean())
        same_pred = int((ours_pred == pred.numpy()).sum())
        loss_rel = abs(ours_loss - loss) / abs(loss)
        good = (len(differ) == 0 or tie_only) and same_pred == len(targets) and loss_rel <= 1e-4 and tl_acc == ours_acc
        ok &= good
        print(f"  p={p}: frozen {int(ours_mask.sum())}/{flat.numel()}, sets differ at {len(differ)} component(s)"
              f"{' (ties at the threshold)' if len(differ) and tie_only else ''}; test predictions equal "
              f"{same_pred}/{len(targets)}, accuracy {ours_acc:.4f} vs {tl_acc:.4f}, loss {ours_loss:.6f} vs {loss:.6f} "
              f"(rel {loss_rel:.1e})  {'ok' if good else 'FAIL'}")
    if not ok:
        failures.append(name)


def main():
    binary, workdir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    folders = make_models(workdir)
    grid = write_grid(workdir, folders)
    dump_dir = os.path.join(workdir, "dump")
    os.makedirs(dump_dir, exist_ok=True)
    env = dict(os.environ, EPRUNNER_TEST_SCORING_DUMP=dump_dir, OMP_WAIT_POLICY="PASSIVE")
    plan = subprocess.run([binary, "plan", grid], capture_output=True, text=True, env=env)
    print(plan.stdout if plan.returncode else [l for l in plan.stdout.splitlines() if "recipe" in l][0])
    if plan.returncode or "recipe official" not in plan.stdout:
        print(plan.stderr)
        sys.exit("eprunner plan does not show recipe official")
    run = subprocess.run([binary, "run", grid, "--threads", "1"], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:])
        sys.exit(f"eprunner run exited {run.returncode}")
    failures = []
    with open_results(os.path.join(workdir, "results.h5")) as f:
        for cname, cell in f["cells"].items():
            arch = cell.attrs["model"]
            arch = arch.decode() if isinstance(arch, bytes) else str(arch)
            with open(os.path.join(dump_dir, cname + ".json")) as j:
                dump = json.load(j)
            check_cell(cell, arch, folders[arch], dump, failures)
    if failures:
        sys.exit(f"FAILED: {', '.join(failures)}")
    print("official recipe: every cell equal to TransformerLens")


if __name__ == "__main__":
    main()
