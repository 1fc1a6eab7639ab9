// The Llama family (HF LlamaForCausalLM; Mistral and Qwen2 where they compute the same).
// ref: transformers models/llama/modeling_llama.py; Touvron et al. 2023.
// Differences from GPT-2, each a few lines below:
//   - RMSNorm instead of LayerNorm (no bias), in float32,
//   - rotary positions on the whole head of q and k (no learned positions),
//   - grouped-query attention: Hkv key/value heads, each shared by H / Hkv query heads,
//   - SwiGLU MLP: down(silu(gate(x)) * up(x)); `mlp_in` is up_proj, `mlp_out` down_proj,
//     gate_proj is kept beside them (not a pruning target),
//   - no biases, except optional attention biases (attention_bias: q/k/v, and o for
//     model_type llama; Qwen2: q/k/v always) and MLP biases (mlp_bias, llama only).
#include <fmt/format.h>

#include "core/model/blocks.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/util/error.h"

namespace ep::model {
namespace {

class LlamaLM : public TransformerLM {
 public:
  LlamaLM(const ModelConfig& cfg, Weights w, const LoadOptions& opts) : TransformerLM(cfg, std::move(w), opts) {}

 protected:
  torch::Tensor embed(const torch::Tensor& ids, Step& s) override {
    rotary_tables(s.position_ids, cfg_.rotary_dim, cfg_.rope_theta, dtype(), s);  // [B, 1, T, Dh]
    return at::embedding(w_.wte, ids);                                            // [B, T, D]
  }

  torch::Tensor layer(int64_t l, const torch::Tensor& h, Step& s) override {
    const Layer& L = w_.layers[l];
    const int64_t H = cfg_.n_heads, Hkv = cfg_.kv_heads();
    auto x = norm_in(h, L.ln1, cfg_.layer_norm_eps, s);                     // [B, T, D], input_layernorm (RMS)
    auto qkv = project_qkv(x, L, Hkv * cfg_.head_dim, l, s);               // taps see q and k before rotary
    auto q = apply_rotary(split_heads(qkv.q, H), s.rope_cos, s.rope_sin);  // [B, H, T, Dh]
    auto k = apply_rotary(split_heads(qkv.k, Hkv), s.rope_cos, s.rope_sin);  // [B, Hkv, T, Dh]
    auto v = split_heads(qkv.v, Hkv);
    auto a = attention(q, repeat_kv(k, H), repeat_kv(v, H), s.allowed);   // [B, T, Dq]
    auto h1 = h + project(a, L, MatrixKind::O, l, s);                      // [B, T, D]
    return h1 + swiglu_mlp(norm_in(h1, L.ln2, cfg_.layer_norm_eps, s), L, l, s);
  }
};

Norm take_rms_norm(WeightSource& src, const std::string& name, int64_t dim) {
  Norm n;
  n.w = src.take(name, {dim}, Init::Ones);
  n.rms = true;
  return n;
}

// The HF tensor names of the Llama family: the only place they appear.
Weights read_llama(const ModelConfig& c, WeightSource& src) {
  const int64_t D = c.hidden, I = c.intermediate, V = c.vocab_size;
  const int64_t Dq = c.n_heads * c.head_dim, Dkv = c.kv_heads() * c.head_dim;
  // ref: LlamaAttention gives o_proj bias=config.attention_bias too; Qwen2's o_proj has none.
  const bool o_bias = c.attention_bias && c.model_type != "qwen2";
  Weights w;
  w.wte = src.take("model.embed_tokens.weight", {V, D}, Init::Normal);  // [V, D]
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    Layer L;
    L.ln1 = take_rms_norm(src, p + "input_layernorm.weight", D);
    // q_proj, k_proj, v_proj stacked into one [Dq + 2 Dkv, D] matrix (one GEMM per layer).
    Linear q = take_linear(src, p + "self_attn.q_proj.", Dq, D, Layout::OutIn, c.attention_bias);
    Linear k = take_linear(src, p + "self_attn.k_proj.", Dkv, D, Layout::OutIn, c.attention_bias);
    Linear v = take_linear(src, p + "self_attn.v_proj.", Dkv, D, Layout::OutIn, c.attention_bias);
    L.qkv.w = at::cat({q.w, k.w, v.w}, 0);
    if (c.attention_bias) L.qkv.b = at::cat({q.b, k.b, v.b}, 0);
    L.o = take_linear(src, p + "self_attn.o_proj.", D, Dq, Layout::OutIn, o_bias);
    L.ln2 = take_rms_norm(src, p + "post_attention_layernorm.weight", D);
    L.mlp_gate = take_linear(src, p + "mlp.gate_proj.", I, D, Layout::OutIn, c.mlp_bias);
    L.mlp_in = take_linear(src, p + "mlp.up_proj.", I, D, Layout::OutIn, c.mlp_bias);
    L.mlp_out = take_linear(src, p + "mlp.down_proj.", D, I, Layout::OutIn, c.mlp_bias);
    w.layers.push_back(std::move(L));
  }
  w.ln_f = take_rms_norm(src, "model.norm.weight", D);
  w.lm_head.w = c.tie_word_embeddings ? w.wte : src.take("lm_head.weight", {V, D}, Init::Normal);
  // Ignored: the rotary frequencies some exports save (recomputed from rope_theta), and a
  // saved copy of a tied lm_head.
  std::vector<std::string> ignore{"rotary_emb.inv_freq"};
  if (c.tie_word_embeddings) ignore.push_back("lm_head.weight");
  src.finish(c.model_type.empty() ? "llama" : c.model_type, ignore);
  return w;
}

}  // namespace

std::unique_ptr<CausalLM> make_llama(const ModelConfig& cfg, WeightSource& src, const LoadOptions& opts) {
  EP_CHECK(cfg.hidden > 0 && cfg.n_heads > 0 && cfg.hidden % cfg.n_heads == 0,
           "config hidden_size {} must be a positive multiple of num_attention_heads {}", cfg.hidden, cfg.n_heads);
  EP_CHECK(cfg.n_heads % cfg.kv_heads() == 0, "config num_attention_heads {} is not a multiple of num_key_value_heads {}",
           cfg.n_heads, cfg.kv_heads());
  // ref: LlamaRotaryEmbedding: dim = head_dim (the whole head rotates).
  EP_CHECK(cfg.rotary_dim == cfg.head_dim && cfg.head_dim % 2 == 0,
           "Llama rotates the whole head: rotary_dim {} must equal head_dim {} (even)", cfg.rotary_dim, cfg.head_dim);
  return std::make_unique<LlamaLM>(cfg, read_llama(cfg, src), opts);
}

}  // namespace ep::model
