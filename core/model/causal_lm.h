// The causal language model interface every eigenpruning step uses.
//
// Architectures (GPT-2, Phi) implement it; eigenpruning code sees only named
// matrices (q, k, v, o, mlp_in, mlp_out) as A [out, in] with a bias and a head
// layout, and never asks which architecture it runs on.
//
// Dimensions: B batch, T sequence (left padded), D hidden, V vocab, H heads,
// Dh head dim. "in"/"out" are a matrix's input/output feature counts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "core/io/hf_config.h"
#include "core/model/load_settings.h"
#include "core/model/matrix_kind.h"

namespace ep {

// MatrixKind and its names: core/model/matrix_kind.h.

// How a matrix's rows or columns group into attention heads, for per-head SVD.
//   Rows:    q, k, v — head h owns rows [h*Dh, (h+1)*Dh) of A [out, in].
//   Columns: o       — head h owns columns [h*Dh, (h+1)*Dh).
//   None:    mlp_in, mlp_out — no head structure (per-head granularity = whole matrix).
enum class HeadAxis { Rows, Columns, None };

struct MatrixRef {
  MatrixKind kind;
  int64_t layer;
  int64_t out_features;
  int64_t in_features;
  int64_t n_heads;     // 1 when head_axis == None
  int64_t head_dim;    // rows (or columns) per head; out (or in) when None
  HeadAxis head_axis;
  std::string name() const;  // e.g. "k.3"
};

// One batch of token ids. Left padding: the last position is always the prompt's
// last token (the one whose logits predict the answer).
struct Batch {
  torch::Tensor input_ids;       // [B, T] int64
  torch::Tensor attention_mask;  // [B, T] int64, 1 = real token, 0 = pad; undefined = all real
  torch::Tensor position_ids;    // [B, T] int64; undefined = (mask.cumsum(-1) - 1).clamp_min(0)
};

// What to record at chosen matrices during one forward pass.
// `inputs[i]` is the input x [B, T, in] of matrix `at[i]` (detached). With
// `want_grad`, `probes[i]` is a zero tensor [B, T, out] that was added to the
// matrix's output and requires grad: torch::autograd::grad(loss, probes) gives
// dL/d(output) without computing any weight gradient. For q/k the output is taken
// before rotary embeddings.
struct Taps {
  std::vector<MatrixRef> at;
  bool want_grad = false;
  // Record, instead of the matrix's input, the residual stream entering the norm in
  // front of it (q/k/v: the block input; mlp_in: the block input after attention, or
  // the block input for Phi's parallel block): TransformerLens' resid_pre/resid_mid,
  // what the paper's code scored with. Only for matrices with a norm in front
  // (input_norm); o and mlp_out are refused.
  bool record_norm_input = false;
  std::vector<torch::Tensor> inputs;
  std::vector<torch::Tensor> probes;
};

// Which positions forward() computes logits for; the final norm and the lm_head run
// on those only (the lm_head is ~20% of a small model's forward).
//   All:               [B, T, V]
//   Last:              [B, V], the last position (the prompt's last token)
//   last_positions(k): [B, k, V], the last k positions (an answer of k tokens under
//                      teacher forcing is predicted there)
struct LogitsScope {
  int64_t tail = 0;      // 0: every position
  bool squeeze = false;  // drop the position axis (tail 1 only)
  static const LogitsScope All, Last;
  static LogitsScope last_positions(int64_t k) { return {k, false}; }
  bool operator==(const LogitsScope& o) const { return tail == o.tail && squeeze == o.squeeze; }
  bool operator!=(const LogitsScope& o) const { return !(*this == o); }
};
inline constexpr LogitsScope LogitsScope::All{0, false};
inline constexpr LogitsScope LogitsScope::Last{1, true};

// The normalisation in front of a matrix: LN(x) = w ⊙ (x − mean) / std + b, or
// RMSNorm w ⊙ x / rms (no b). Undefined for o and mlp_out (nothing normalises their input).
struct InputNorm {
  torch::Tensor weight;  // [in], float32 (float64 for a float64 model); undefined: no norm
  torch::Tensor bias;    // [in]; undefined for RMSNorm
  bool rms = false;
  double eps = 0.0;
  bool defined() const { return weight.defined(); }
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;

  virtual const ModelConfig& config() const = 0;
  virtual torch::Device device() const = 0;
  virtual torch::ScalarType dtype() const = 0;

  // logits [B, T, V] (All), [B, V] (Last) or [B, k, V] (last_positions(k)), in
  // float32 whatever the model dtype (float64 for a float64 model).
  virtual torch::Tensor forward(const Batch& batch, LogitsScope scope, Taps* taps = nullptr) = 0;

  // The decomposable matrices of one kind, one per layer, in layer order.
  virtual std::vector<MatrixRef> matrices(MatrixKind kind) const = 0;
  // A [out, in] as a new float32 tensor (float64 for a float64 model) on the model's
  // device, whatever the storage layout.
  virtual torch::Tensor weight(const MatrixRef& m) const = 0;
  // b [out] as a new float32 tensor (float64 for a float64 model; zeros when no bias).
  virtual torch::Tensor bias(const MatrixRef& m) const = 0;
  // The norm whose output matrix `m` multiplies (q, k, v, mlp_in), as new tensors;
  // undefined for o and mlp_out. For the paper's official recipe (core/prune/official_recipe.h).
  virtual InputNorm input_norm(const MatrixRef& m) const {
    (void)m;
    return {};
  }
  // Replaces A (given [out, in], any float dtype; stored in the model's dtype/layout).
  virtual void set_weight(const MatrixRef& m, const torch::Tensor& a) = 0;
  // Adds a per-position bias to the matrix's output: `table` [P, out] float32,
  // aligned to the END of the sequence (row P-1 is added at the last position,
  // row P-2 at the one before, ...); positions earlier than P rows back get
  // `fallback` [out]. An undefined table removes the per-position bias.
  virtual void set_position_bias(const MatrixRef& m, const torch::Tensor& table,
                                 const torch::Tensor& fallback) = 0;

  // All parameters (for fine-tuning and for exporting).
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_parameters() = 0;
};

struct LoadOptions {
  torch::ScalarType dtype = torch::kFloat32;  // fp32, bf16 or fp16; fp64 for finite-difference tests
  torch::Device device = torch::kCPU;
};

// The torch types of the grid's names (load_settings.h).
torch::ScalarType scalar_type(ComputeDtype dtype);
torch::DeviceType device_type(DeviceKind kind);

// Loads an HF checkpoint folder (config.json + *.safetensors), or a llama GGUF file
// (`path` ending in .gguf: config from its metadata, every tensor dequantized to
// float32, then converted to opts.dtype). Every expected tensor must exist with its
// exact shape; every tensor in the files must be used or be on the architecture's
// ignore list. Errors name the tensor and the expected shape.
std::unique_ptr<CausalLM> load_causal_lm(const std::filesystem::path& folder, const LoadOptions& opts);

// A model with seeded random weights (normal(0, 0.02), LayerNorm 1/0) for tests and the demo.
std::unique_ptr<CausalLM> init_causal_lm(const ModelConfig& config, uint64_t seed, const LoadOptions& opts);

// Answers of several tokens under teacher forcing: the model reads prompt + answer
// minus its last token, and answer token j of an example with a k-token answer is
// predicted at position T-k+j. `targets` [B, K] holds each answer right-aligned,
// kNoTarget before a shorter one; `tail_logits` [B, K, V] is forward(last_positions(K)).
// Returns each example's summed cross-entropy over its answer tokens, [B], float32
// (float64 for a float64 model). With K = 1 it is last_token_loss_sum per example.
inline constexpr int64_t kNoTarget = -1;
torch::Tensor answer_token_nll(const torch::Tensor& tail_logits, const torch::Tensor& targets);

// Sum over the batch of last-position cross-entropy, float32: logits [B, V], targets [B].
torch::Tensor last_token_loss_sum(const torch::Tensor& last_logits, const torch::Tensor& targets);

}  // namespace ep
