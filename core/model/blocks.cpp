// Shared transformer blocks. Every numerical choice carries a `ref:`.
#include "core/model/blocks.h"

#include <cmath>
#include <limits>

#include "core/util/error.h"

namespace ep::model {
namespace {

const Linear& linear_of(const Layer& L, MatrixKind kind) {
  switch (kind) {
    case MatrixKind::O: return L.o;
    case MatrixKind::MlpIn: return L.mlp_in;
    case MatrixKind::MlpOut: return L.mlp_out;
    default: break;
  }
  throw std::logic_error("q, k and v are projected by project_qkv");
}

// The per-position bias rows for a sequence of T positions: [T, out].
torch::Tensor position_rows(const PosBias& pb, int64_t T) {
  const int64_t P = pb.table.size(0);
  if (T <= P) return pb.table.narrow(0, P - T, T);  // aligned to the end
  auto head = pb.fallback.unsqueeze(0).expand({T - P, pb.fallback.size(0)});
  return at::cat({head, pb.table}, 0);
}

// Adds the matrix's per-position bias and, when tapped, records x and adds the probe.
torch::Tensor finish_output(torch::Tensor y, const torch::Tensor& x, const Layer& L, MatrixKind kind,
                            int64_t l, Step& s) {
  const PosBias& pb = L.pos_bias[kind_index(kind)];
  if (pb.table.defined()) y = y + position_rows(pb, s.T);  // [B, T, out] + [T, out]
  const int i = s.tap_index.empty() ? -1 : s.tap_index[l * kMatrixKinds + kind_index(kind)];
  if (i < 0) return y;
  if (s.taps->record_norm_input) {
    EP_CHECK(kind != MatrixKind::O && kind != MatrixKind::MlpOut,
             "matrix {}.{} has no norm in front of it: its norm input cannot be recorded", name_of(kind), l);
    s.taps->inputs[i] = s.norm_input.detach();  // [B, T, D]
  } else {
    s.taps->inputs[i] = x.detach();
  }
  if (!s.taps->want_grad) return y;
  // d loss / d probe = d loss / d output; no weight needs a gradient for it.
  auto probe = at::zeros(y.sizes(), y.options()).requires_grad_(true);  // [B, T, out]
  s.taps->probes[i] = probe;
  return y + probe;
}

}  // namespace

torch::Tensor layer_norm(const torch::Tensor& x, const Norm& n, double eps) {
  return at::layer_norm(x, {x.size(-1)}, n.w, n.b, eps);
}

torch::Tensor rms_norm(const torch::Tensor& x, const Norm& n, double eps) {
  // ref: HF modeling_llama.py LlamaRMSNorm: the mean of squares and the scaling in
  // float32, the result cast back to the input dtype, then times the weight.
  auto x32 = x.to(at::promote_types(x.scalar_type(), torch::kFloat32));
  auto scaled = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return n.w * scaled.to(x.scalar_type());
}

torch::Tensor apply_norm(const torch::Tensor& x, const Norm& n, double eps) {
  return n.rms ? rms_norm(x, n, eps) : layer_norm(x, n, eps);
}

torch::Tensor norm_in(const torch::Tensor& h, const Norm& n, double eps, Step& s) {
  s.norm_input = h;
  return apply_norm(h, n, eps);
}

Activation activation_from_name(const std::string& name) {
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluTanh;
  if (name == "gelu") return Activation::GeluErf;
  if (name == "silu") return Activation::Silu;
  EP_FAIL("config field activation_function/hidden_act is '{}'; supported: gelu_new, gelu_pytorch_tanh, gelu, silu",
          name);
}

torch::Tensor activate(const torch::Tensor& x, Activation act) {
  // ref: HF activations.py NewGELUActivation ("gelu_new", GPT-2 and Phi-2):
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh approximation of
  // Hendrycks & Gimpel 2016, which is what torch's gelu(approximate="tanh") computes.
  // "silu" (Llama's SwiGLU gate): x * sigmoid(x), torch.nn.functional.silu.
  if (act == Activation::Silu) return at::silu(x);
  return at::gelu(x, act == Activation::GeluTanh ? "tanh" : "none");
}

torch::Tensor project(const torch::Tensor& x, const Layer& L, MatrixKind kind, int64_t l, Step& s) {
  const Linear& lin = linear_of(L, kind);
  return finish_output(at::linear(x, lin.w, lin.b), x, L, kind, l, s);  // [B, T, out]
}

QKV project_qkv(const torch::Tensor& x, const Layer& L, int64_t kv_rows, int64_t l, Step& s) {
  const int64_t q_rows = L.qkv.w.size(0) - 2 * kv_rows;
  auto qkv = at::linear(x, L.qkv.w, L.qkv.b).split_with_sizes({q_rows, kv_rows, kv_rows}, -1);  // views
  return {finish_output(qkv[0], x, L, MatrixKind::Q, l, s), finish_output(qkv[1], x, L, MatrixKind::K, l, s),
          finish_output(qkv[2], x, L, MatrixKind::V, l, s)};
}

torch::Tensor mlp(const torch::Tensor& x, const Layer& L, int64_t l, Activation act, Step& s) {
  auto u = activate(project(x, L, MatrixKind::MlpIn, l, s), act);  // [B, T, I]
  return project(u, L, MatrixKind::MlpOut, l, s);                  // [B, T, D]
}

torch::Tensor swiglu_mlp(const torch::Tensor& x, const Layer& L, int64_t l, Step& s) {
  // ref: HF LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x)), act_fn = silu.
  auto gate = at::silu(at::linear(x, L.mlp_gate.w, L.mlp_gate.b));  // [B, T, I]
  return project(gate * project(x, L, MatrixKind::MlpIn, l, s), L, MatrixKind::MlpOut, l, s);  // [B, T, D]
}

torch::Tensor repeat_kv(const torch::Tensor& x, int64_t H) {
  // ref: HF modeling_llama.py repeat_kv: expand to [B, Hkv, n_rep, T, Dh], then merge
  // the two head axes, so query head h uses key/value head h / n_rep.
  const int64_t Hkv = x.size(1);
  if (Hkv == H) return x;
  return x.repeat_interleave(H / Hkv, /*dim=*/1);
}

torch::Tensor split_heads(const torch::Tensor& x, int64_t H) {
  return x.view({x.size(0), x.size(1), H, x.size(2) / H}).transpose(1, 2);
}

torch::Tensor merge_heads(const torch::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& allowed) {
  // ref: HF modeling_phi.py: PhiAttention computes the scores from q and k upcast to
  // float32 ("to avoid overflow") and takes the softmax in float32. Done for GPT-2 too:
  // identical in float32, safer in bf16/fp16, and cheap (T x T per head).
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const auto score_type = at::promote_types(q.scalar_type(), torch::kFloat32);  // float64 models stay float64
  auto scores = at::matmul(q.to(score_type), k.to(score_type).transpose(-2, -1)) * scale;  // [B, H, T, T]
  // A finite fill, not -inf: a query with no allowed key (a pad position) gets a
  // uniform row instead of NaN; real positions are unaffected (exp underflows to 0).
  scores = scores.masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
  auto probs = at::softmax(scores, -1).to(v.scalar_type());
  return merge_heads(at::matmul(probs, v));  // [B, T, D]
}

torch::Tensor attention_allowed(const torch::Tensor& key_mask) {
  const int64_t T = key_mask.size(1);
  auto causal = at::ones({T, T}, key_mask.options().dtype(torch::kBool)).tril();  // [T, T]: key s <= query t
  auto keys = key_mask.to(torch::kBool).view({key_mask.size(0), 1, 1, T});       // [B, 1, 1, T]
  return causal.view({1, 1, T, T}).logical_and(keys);                              // [B, 1, T, T]
}

void rotary_tables(const torch::Tensor& position_ids, int64_t rotary_dim, double theta,
                   torch::ScalarType dtype, Step& s) {
  // ref: HF modeling_rope_utils.py `_compute_default_rope_parameters` and
  // PhiRotaryEmbedding: inv_freq = 1 / theta^(2i / rotary_dim) for i < rotary_dim / 2,
  // angles = position * inv_freq in float32, emb = cat(angles, angles); cos and sin
  // are cast to the model dtype.
  auto opts = position_ids.options().dtype(torch::kFloat32);
  auto exponents = at::arange(0, rotary_dim, 2, position_ids.options()).to(torch::kFloat32) / static_cast<double>(rotary_dim);
  auto inv_freq = at::pow(theta, exponents).reciprocal();                                     // [rotary_dim / 2]
  auto angles = position_ids.to(opts).unsqueeze(-1) * inv_freq.view({1, 1, -1});             // [B, T, rotary_dim / 2]
  auto emb = at::cat({angles, angles}, -1).unsqueeze(1);                                      // [B, 1, T, rotary_dim]
  s.rope_cos = emb.cos().to(dtype);
  s.rope_sin = emb.sin().to(dtype);
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  // ref: HF modeling_phi.py apply_rotary_pos_emb with partial rotary: only the first
  // rotary_dim = int(head_dim * partial_rotary_factor) features rotate, by rotate_half
  // (x1, x2) -> (-x2, x1) over the two halves of those features.
  const int64_t rot = cos.size(-1), Dh = x.size(-1);
  auto x_rot = x.narrow(-1, 0, rot), x_pass = x.narrow(-1, rot, Dh - rot);  // [B, H, T, rot], [B, H, T, Dh - rot]
  auto x1 = x_rot.narrow(-1, 0, rot / 2), x2 = x_rot.narrow(-1, rot / 2, rot - rot / 2);
  auto rotated = at::cat({x2.neg(), x1}, -1);
  return at::cat({x_rot * cos + rotated * sin, x_pass}, -1);  // [B, H, T, Dh]
}

}  // namespace ep::model
