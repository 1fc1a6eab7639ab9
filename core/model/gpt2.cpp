// GPT-2 (HF GPT2LMHeadModel). ref: transformers models/gpt2/modeling_gpt2.py;
// Radford et al. 2019. Pre-LayerNorm blocks, learned positions, tied lm_head:
//   h = wte[ids] + wpe[pos]
//   h = h + o(attn(ln_1(h)));  h = h + mlp(ln_2(h))
//   logits = ln_f(h) wte^T
#include <fmt/format.h>

#include "core/model/blocks.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/util/error.h"

namespace ep::model {
namespace {

class Gpt2LM : public TransformerLM {
 public:
  Gpt2LM(const ModelConfig& cfg, Weights w, const LoadOptions& opts)
      : TransformerLM(cfg, std::move(w), opts), act_(activation_from_name(cfg.activation)) {}

 protected:
  torch::Tensor embed(const torch::Tensor& ids, Step& s) override {
    return at::embedding(w_.wte, ids) + at::embedding(w_.wpe, s.position_ids);  // [B, T, D]
  }

  torch::Tensor layer(int64_t l, const torch::Tensor& h, Step& s) override {
    const Layer& L = w_.layers[l];
    const int64_t H = cfg_.n_heads;
    auto x = norm_in(h, L.ln1, cfg_.layer_norm_eps, s);  // [B, T, D], ln_1
    auto qkv = project_qkv(x, L, cfg_.hidden, l, s);
    auto a = attention(split_heads(qkv.q, H), split_heads(qkv.k, H), split_heads(qkv.v, H), s.allowed);
    auto h1 = h + project(a, L, MatrixKind::O, l, s);  // [B, T, D]
    return h1 + mlp(norm_in(h1, L.ln2, cfg_.layer_norm_eps, s), L, l, act_, s);
  }

 private:
  Activation act_;
};

// The HF tensor names of GPT-2: the only place they appear. Conv1D weights are
// stored [in, out] and come back transposed to [out, in] (Layout::InOut).
Weights read_gpt2(const ModelConfig& c, WeightSource& src) {
  const int64_t D = c.hidden, I = c.intermediate, V = c.vocab_size, P = c.max_positions;
  // save_pretrained of GPT2LMHeadModel writes "transformer.*"; GPT2Model (and the
  // original "gpt2" upload) writes the names without it.
  const std::string p = src.has("transformer.wte.weight") ? "transformer." : "";
  Weights w;
  w.wte = src.take(p + "wte.weight", {V, D}, Init::Normal);  // [V, D]
  w.wpe = src.take(p + "wpe.weight", {P, D}, Init::Normal);  // [P, D]
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string h = fmt::format("{}h.{}.", p, l);
    Layer L;
    L.ln1 = take_norm(src, h + "ln_1.", D);
    L.qkv = take_linear(src, h + "attn.c_attn.", 3 * D, D, Layout::InOut);  // [3D, D]: q | k | v rows
    L.o = take_linear(src, h + "attn.c_proj.", D, D, Layout::InOut);
    L.ln2 = take_norm(src, h + "ln_2.", D);
    L.mlp_in = take_linear(src, h + "mlp.c_fc.", I, D, Layout::InOut);
    L.mlp_out = take_linear(src, h + "mlp.c_proj.", D, I, Layout::InOut);
    w.layers.push_back(std::move(L));
  }
  w.ln_f = take_norm(src, p + "ln_f.", D);
  // Tied unless config.json says otherwise (ref: GPT2LMHeadModel._tied_weights_keys).
  w.lm_head.w = c.tie_word_embeddings ? w.wte : src.take("lm_head.weight", {V, D}, Init::Normal);
  // Ignored: the causal-mask buffers older versions saved, and a saved copy of the tied lm_head.
  src.finish("gpt2", {"attn.bias", "attn.masked_bias", "lm_head.weight"});
  return w;
}

}  // namespace

std::unique_ptr<CausalLM> make_gpt2(const ModelConfig& cfg, WeightSource& src, const LoadOptions& opts) {
  EP_CHECK(cfg.hidden > 0 && cfg.n_heads > 0 && cfg.hidden % cfg.n_heads == 0,
           "config n_embd {} must be a positive multiple of n_head {}", cfg.hidden, cfg.n_heads);
  activation_from_name(cfg.activation);  // fail before reading any tensor
  return std::make_unique<Gpt2LM>(cfg, read_gpt2(cfg, src), opts);
}

}  // namespace ep::model
