// Shared transformer blocks (private to core/model): LayerNorm, projections with
// taps and per-position biases, attention, MLP, rotary embeddings, masks.
// Shapes: B batch, T sequence, D hidden, H heads, Dh head dim, I MLP width.
#pragma once

#include <string>

#include "core/model/transformer.h"

namespace ep::model {

torch::Tensor layer_norm(const torch::Tensor& x, const Norm& n, double eps);  // [.., D]
torch::Tensor rms_norm(const torch::Tensor& x, const Norm& n, double eps);    // [.., D]
torch::Tensor apply_norm(const torch::Tensor& x, const Norm& n, double eps);  // whichever n is
// apply_norm of the residual h [B, T, D] in front of projections, remembering h for
// taps that record the norm's input (Taps::record_norm_input).
torch::Tensor norm_in(const torch::Tensor& h, const Norm& n, double eps, Step& s);

// The activation named in config.json: "gelu_new" (= "gelu_pytorch_tanh"), "gelu" (erf), "silu".
enum class Activation { GeluTanh, GeluErf, Silu };
Activation activation_from_name(const std::string& name);  // throws naming the field
torch::Tensor activate(const torch::Tensor& x, Activation act);

// y = x A^T + b for matrix `kind` of layer `l`, plus its per-position bias, plus
// (when tapped) a zero probe requiring grad; records x when tapped.
torch::Tensor project(const torch::Tensor& x, const Layer& L, MatrixKind kind, int64_t l, Step& s);  // [B, T, out]

struct QKV {
  torch::Tensor q, k, v;  // [B, T, Dq], [B, T, Dkv], [B, T, Dkv], before rotary
};
// The fused q|k|v projection of x [B, T, D] (k and v have kv_rows = Dkv rows each);
// each part tapped and biased as above.
QKV project_qkv(const torch::Tensor& x, const Layer& L, int64_t kv_rows, int64_t l, Step& s);

// mlp_out(act(mlp_in(x))): [B, T, D] -> [B, T, D].
torch::Tensor mlp(const torch::Tensor& x, const Layer& L, int64_t l, Activation act, Step& s);
// SwiGLU (Llama): mlp_out(silu(mlp_gate(x)) * mlp_in(x)): [B, T, D] -> [B, T, D].
torch::Tensor swiglu_mlp(const torch::Tensor& x, const Layer& L, int64_t l, Step& s);

// Grouped-query attention: each of the Hkv key/value heads serves H / Hkv consecutive
// query heads. [B, Hkv, T, Dh] -> [B, H, T, Dh].
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t H);

torch::Tensor split_heads(const torch::Tensor& x, int64_t H);   // [B, T, D] -> [B, H, T, Dh]
torch::Tensor merge_heads(const torch::Tensor& x);              // [B, H, T, Dh] -> [B, T, D]

// softmax(q k^T / sqrt(Dh), masked) v with scores and softmax in float32.
// q, k, v [B, H, T, Dh]; allowed [B, 1, T, T] -> [B, T, D] in v's dtype.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& allowed);

// Causal + key-padding mask: [B, T] (1 = real token) -> [B, 1, T, T] bool.
torch::Tensor attention_allowed(const torch::Tensor& key_mask);

// Rotary embedding tables for position ids [B, T]: cos, sin [B, 1, T, rotary_dim] in `dtype`.
void rotary_tables(const torch::Tensor& position_ids, int64_t rotary_dim, double theta,
                   torch::ScalarType dtype, Step& s);
// Rotates the first rotary_dim features of each head of x [B, H, T, Dh]; the rest pass.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace ep::model
