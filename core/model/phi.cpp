// Phi (Phi-1/1.5/2; HF PhiForCausalLM). ref: transformers models/phi/modeling_phi.py.
// Differences from GPT-2, each a few lines below:
//   - partial rotary positions on q and k (no learned positions),
//   - attention and MLP in parallel off one LayerNorm: h = h + o(attn(x)) + mlp(x), x = ln(h),
//   - q/k/v/dense projections with biases (nn.Linear, [out, in]), lm_head with a bias.
#include <fmt/format.h>

#include "core/model/blocks.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/util/error.h"

namespace ep::model {
namespace {

class PhiLM : public TransformerLM {
 public:
  PhiLM(const ModelConfig& cfg, Weights w, const LoadOptions& opts)
      : TransformerLM(cfg, std::move(w), opts), act_(activation_from_name(cfg.activation)) {}

 protected:
  torch::Tensor embed(const torch::Tensor& ids, Step& s) override {
    rotary_tables(s.position_ids, cfg_.rotary_dim, cfg_.rope_theta, dtype(), s);  // [B, 1, T, rotary_dim]
    return at::embedding(w_.wte, ids);                                            // [B, T, D]
  }

  torch::Tensor layer(int64_t l, const torch::Tensor& h, Step& s) override {
    const Layer& L = w_.layers[l];
    const int64_t H = cfg_.n_heads;
    auto x = norm_in(h, L.ln1, cfg_.layer_norm_eps, s);  // [B, T, D], input_layernorm
    auto qkv = project_qkv(x, L, cfg_.hidden, l, s);                  // taps see q and k before rotary
    auto q = apply_rotary(split_heads(qkv.q, H), s.rope_cos, s.rope_sin);  // [B, H, T, Dh]
    auto k = apply_rotary(split_heads(qkv.k, H), s.rope_cos, s.rope_sin);
    auto a = project(attention(q, k, split_heads(qkv.v, H), s.allowed), L, MatrixKind::O, l, s);
    // ref: PhiDecoderLayer.forward: attn_outputs + feed_forward_hidden_states + residual.
    return a + mlp(x, L, l, act_, s) + h;
  }

 private:
  Activation act_;
};

// The HF tensor names of Phi: the only place they appear.
Weights read_phi(const ModelConfig& c, WeightSource& src) {
  const int64_t D = c.hidden, I = c.intermediate, V = c.vocab_size;
  Weights w;
  w.wte = src.take("model.embed_tokens.weight", {V, D}, Init::Normal);  // [V, D]
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    Layer L;
    L.ln1 = take_norm(src, p + "input_layernorm.", D);
    // q_proj, k_proj, v_proj stacked into one [3D, D] matrix (one GEMM per layer).
    Linear q = take_linear(src, p + "self_attn.q_proj.", D, D);
    Linear k = take_linear(src, p + "self_attn.k_proj.", D, D);
    Linear v = take_linear(src, p + "self_attn.v_proj.", D, D);
    L.qkv = {at::cat({q.w, k.w, v.w}, 0), at::cat({q.b, k.b, v.b}, 0)};
    L.o = take_linear(src, p + "self_attn.dense.", D, D);
    L.mlp_in = take_linear(src, p + "mlp.fc1.", I, D);
    L.mlp_out = take_linear(src, p + "mlp.fc2.", D, I);
    w.layers.push_back(std::move(L));
  }
  w.ln_f = take_norm(src, "model.final_layernorm.", D);
  w.lm_head.w = c.tie_word_embeddings ? w.wte : src.take("lm_head.weight", {V, D}, Init::Normal);
  w.lm_head.b = src.take("lm_head.bias", {V}, Init::Zeros);
  src.finish("phi", c.tie_word_embeddings ? std::vector<std::string>{"lm_head.weight"} : std::vector<std::string>{});
  return w;
}

}  // namespace

std::unique_ptr<CausalLM> make_phi(const ModelConfig& cfg, WeightSource& src, const LoadOptions& opts) {
  EP_CHECK(cfg.hidden > 0 && cfg.n_heads > 0 && cfg.hidden % cfg.n_heads == 0,
           "config hidden_size {} must be a positive multiple of num_attention_heads {}", cfg.hidden, cfg.n_heads);
  // ref: PhiAttention: rotary_ndims = int(head_dim * partial_rotary_factor); rotate_half needs it even.
  EP_CHECK(cfg.rotary_dim > 0 && cfg.rotary_dim <= cfg.head_dim && cfg.rotary_dim % 2 == 0,
           "config partial_rotary_factor {} gives {} rotary dims of head_dim {}; expected an even number in [2, {}]",
           cfg.partial_rotary_factor, cfg.rotary_dim, cfg.head_dim, cfg.head_dim);
  activation_from_name(cfg.activation);  // fail before reading any tensor
  return std::make_unique<PhiLM>(cfg, read_phi(cfg, src), opts);
}

}  // namespace ep::model
