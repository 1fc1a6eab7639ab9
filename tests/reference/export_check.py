"""Checks `eprunner export` with Hugging Face transformers (tests/cli/export.sh).

  export_check.py make-model ARCH DIR TOKENIZER_DIR SEED
      a random HF checkpoint folder (gpt2, phi, llama or mistral; the GPT-2 tokenizer's
      vocabulary) with the tokenizer files copied in.
  export_check.py check EXPORT_DIR TEST_LOGITS RESULTS CELL P [--exact] [--method LABEL]
      loads EXPORT_DIR with transformers (AutoModelForCausalLM, AutoTokenizer; nothing
      of eprunner), runs it on the test split eprunner wrote (TEST_LOGITS: input_ids,
      attention_mask, position_ids, targets, and eprunner's own pruned model's logits),
      and prints, like llm.c's test_gpt2: the first logits side by side, max |diff|,
      transformers' accuracy against the results file's, per-example agreement, and the
      provenance. --exact: the cell's bias exports exactly, so the accuracies and every
      example's correctness must be equal and the logits within 1e-4 (scaled for logits above 10).
      --method LABEL: a comparison (docs/methods.md) by its stored label, e.g.
      "highest p=0.3", "random seed=3 p=0.3", "laser mlp_in.1 rho=0.25" (P: its p or rho).
"""
import json
import shutil
import sys
from pathlib import Path

import h5py
import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli" / "lib"))
from results_view import open_results, text  # noqa: E402  (the file and its journal)


def make_model(arch, out, tokenizer_dir, seed):
    import transformers as tf
    torch.manual_seed(int(seed))
    vocab = len(json.loads((Path(tokenizer_dir) / "vocab.json").read_text()))
    common = dict(vocab_size=vocab, bos_token_id=50256, eos_token_id=50256)
    if arch == "gpt2":
        cfg = tf.GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=64, resid_pdrop=0.0, embd_pdrop=0.0,
                            attn_pdrop=0.0, **common)
        model = tf.GPT2LMHeadModel(cfg)
    elif arch == "phi":
        cfg = tf.PhiConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                           max_position_embeddings=64, partial_rotary_factor=0.5, resid_pdrop=0.0, embd_pdrop=0.0,
                           attention_dropout=0.0, tie_word_embeddings=False, **common)
        model = tf.PhiForCausalLM(cfg)
    elif arch == "llama":
        cfg = tf.LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                             intermediate_size=64, max_position_embeddings=64, tie_word_embeddings=True, **common)
        model = tf.LlamaForCausalLM(cfg)
    elif arch == "mistral":
        cfg = tf.MistralConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                               intermediate_size=64, max_position_embeddings=64, sliding_window=None, **common)
        model = tf.MistralForCausalLM(cfg)
    else:
        raise SystemExit(f"unknown arch {arch}")
    with torch.no_grad():  # larger than HF's 0.02 init, so pruning moves the predictions
        for p in model.parameters():
            p.normal_(0.0, 0.2 if p.dim() == 2 else 0.05).add_(1.0 if p.dim() == 1 and p.numel() == 32 else 0.0)
    model.save_pretrained(out)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(Path(tokenizer_dir) / name, Path(out) / name)


def results_split(results, cell, p, method=None):
    """The test split of eigenpruning at p, or of the comparison whose stored label is `method`."""
    with open_results(results) as f:
        c = f["cells"][cell]
        if method is None:
            found = [g for g in c["pruned"].values() if abs(float(g.attrs["p"]) - p) < 1e-9]
        else:
            found = [g for g in c["methods"].values() if text(g.attrs["label"]) == method]
        if found:
            t = found[0]["test"]
            return float(t.attrs["accuracy"]), t["correct"][()].astype(bool), t["predicted"][()]
    raise SystemExit(f"export_check: no {method or 'eigenpruning'} at p = {p} in cell {cell}")


def check(export_dir, logits_file, results, cell, p, exact, method=None):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    p = float(p)
    model = AutoModelForCausalLM.from_pretrained(export_dir).eval()
    tok = AutoTokenizer.from_pretrained(export_dir)
    t = load_file(logits_file)
    ids, mask, pos, targets = t["input_ids"], t["attention_mask"], t["position_ids"], t["targets"]
    K = targets.shape[1]
    with torch.no_grad():
        hf = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -K:, :].float()  # [n, K, V]
    ours = t.get("logits_exported", t["logits"])  # eprunner with the exported bias
    diff = (hf - ours).abs().max().item()
    run_diff = (hf - t["logits"]).abs().max().item()  # against the run's own bias
    moved = (hf - t["logits_base"]).abs().max().item()  # pruning changed the model
    print("first logits, transformers vs eprunner:")
    for a, b in list(zip(hf.flatten()[:5].tolist(), ours.flatten()[:5].tolist())):
        print(f"  {a: .6f} {b: .6f}")
    print(f"logits max |diff| transformers vs eprunner (exported bias): {diff:.3e}")
    print(f"logits max |diff| transformers vs eprunner (the cell's bias): {run_diff:.3e}")
    print(f"logits max |diff| transformers vs the unpruned model: {moved:.3e}")
    real = targets != -1
    hit = ((hf.argmax(-1) == targets) | ~real).all(-1)  # every answer token the argmax
    acc = int(hit.sum()) / len(hit)  # as the results file's (a double)
    want_acc, want_correct, want_pred = results_split(results, cell, p, method)
    same = int((hit.numpy() == want_correct).sum())
    print(f"test accuracy: transformers {acc:.6f} ({int(hit.sum())}/{len(hit)}), results file {want_acc:.6f}; "
          f"examples agreeing on right/wrong: {same}/{len(hit)}")
    if K == 1:  # one-token answers: `predicted` is the argmax token
        same_pred = int((hf[:, 0].argmax(-1).numpy() == want_pred).sum())
        print(f"examples with the same predicted token: {same_pred}/{len(hit)}")
    with safe_open(str(Path(export_dir) / "model.safetensors"), "pt") as f:
        meta = f.metadata()
    prov = json.loads((Path(export_dir) / "eprunner_export.json").read_text())
    print(f"provenance: cell {meta['eprunner.cell']} p {meta['eprunner.p']} bias {meta['eprunner.bias']} "
          f"exported as {meta['eprunner.exported_bias']} commit {meta['eprunner.run_git_commit']}")
    # The tokenizer: transformers' encoding of a prompt is eprunner's (no BOS: the test set's BOS is the grid's).
    row = ids[0][mask[0] == 1].tolist()
    text_ = tok.decode(row)
    enc = tok(text_, add_special_tokens=False)["input_ids"]
    print(f"tokenizer round trip of test prompt 0: {'same ids' if enc == row else f'{enc} != {row}'}")
    ok = meta["eprunner.cell"] == cell and prov["cell"] == cell and abs(float(meta["eprunner.p"]) - p) < 1e-12
    if method is not None:
        print(f"provenance: intervention {meta['eprunner.intervention']}")
        ok = ok and meta["eprunner.intervention"] == method
    ok = ok and enc == row and moved > 100 * max(diff, 1e-6)
    # float32 through L layers in two implementations: 1e-4 for logits of ~10 (a 30-layer SmolLM2: 7e-5 at 20).
    tol = 1e-4 * max(1.0, ours.abs().max().item() / 10)
    if exact:
        ok = ok and diff <= tol and acc == want_acc and same == len(hit)
    else:
        ok = ok and diff <= tol and meta["eprunner.exported_bias"] == "mean" and "eprunner.bias_note" in meta
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "make-model":
        make_model(*a[1:5])
    elif a and a[0] == "check":
        label = a[a.index("--method") + 1] if "--method" in a else None
        sys.exit(check(a[1], a[2], a[3], a[4], a[5], "--exact" in a[6:], label))
    else:
        raise SystemExit(__doc__)
