// The decoder-only transformer shared by GPT-2, Phi and Llama (private to core/model).
//
// One storage layout for every architecture, so the CausalLM matrix interface is
// written once: every matrix is A [out, in] (GPT-2's Conv1D [in, out] weights are
// transposed once at load), and q, k, v live fused in one qkv matrix [Dq + 2 Dkv, D]
// (GPT-2's c_attn is fused already; Phi's and Llama's q_proj/k_proj/v_proj are stacked
// at load) so a layer runs one GEMM for all three. q, k and v are row blocks of it:
// Dq = H Dh rows of q, then Dkv = Hkv Dh rows each of k and v (Hkv < H with
// grouped-query attention, Llama; Hkv = H otherwise).
// An architecture subclass only embeds tokens and runs one layer from the shared
// blocks (blocks.h); HF tensor names live in its mapping function alone.
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "core/model/causal_lm.h"

namespace ep::model {

constexpr int kMatrixKinds = 6;  // q, k, v, o, mlp_in, mlp_out
inline int kind_index(MatrixKind k) { return static_cast<int>(k); }

// "[768, 2304]": shapes in error messages.
std::string shape_str(at::IntArrayRef shape);

struct Norm {            // LayerNorm, or RMSNorm (Llama: no bias)
  torch::Tensor w;       // [D]
  torch::Tensor b;       // [D]; undefined for RMSNorm
  bool rms = false;
};

struct Linear {          // y = x w^T + b
  torch::Tensor w;       // [out, in]
  torch::Tensor b;       // [out]; undefined = no bias
};

struct PosBias {         // added to a matrix's output, aligned to the end of the sequence
  torch::Tensor table;     // [P, out] in the model dtype; undefined = none
  torch::Tensor fallback;  // [out]: positions more than P back from the end
};

struct Layer {
  Norm ln1;              // before attention (and before the MLP when parallel, Phi)
  Norm ln2;              // before the MLP; undefined when attention and MLP are parallel
  Linear qkv;            // w [Dq + 2 Dkv, D]: q rows [0, Dq), k [Dq, Dq + Dkv), v the rest; b likewise
  Linear o;              // [D, Dq]
  Linear mlp_in;         // [I, D]; Llama: up_proj
  Linear mlp_gate;       // [I, D]; Llama's gate_proj (SwiGLU), undefined elsewhere; not a pruning target
  Linear mlp_out;        // [D, I]; Llama: down_proj
  std::array<PosBias, kMatrixKinds> pos_bias;  // by MatrixKind
};

struct Weights {
  torch::Tensor wte;     // [V, D] token embeddings
  torch::Tensor wpe;     // [P, D] learned positions; undefined with rotary
  std::vector<Layer> layers;
  Norm ln_f;             // final LayerNorm
  Linear lm_head;        // w [V, D] (the same tensor as wte when tied), b [V] or undefined
};

// The state of one forward pass, handed to the blocks.
struct Step {
  int64_t B = 0, T = 0;
  torch::Tensor allowed;           // [B, 1, T, T] bool: query t may attend to key s
  torch::Tensor position_ids;      // [B, T] int64, on the model's device
  torch::Tensor rope_cos, rope_sin;  // [B, 1, T, rotary_dim] (rotary models only)
  Taps* taps = nullptr;
  std::vector<int> tap_index;      // [layer * kMatrixKinds + kind] -> index into taps->at, -1 = none
  torch::Tensor norm_input;        // [B, T, D] the residual entering the norm in front of the next projections
};

class TransformerLM : public CausalLM {
 public:
  TransformerLM(ModelConfig cfg, Weights w, const LoadOptions& opts);

  const ModelConfig& config() const override { return cfg_; }
  torch::Device device() const override { return device_; }
  torch::ScalarType dtype() const override { return dtype_; }

  torch::Tensor forward(const Batch& batch, LogitsScope scope, Taps* taps = nullptr) override;

  std::vector<MatrixRef> matrices(MatrixKind kind) const override;
  torch::Tensor weight(const MatrixRef& m) const override;
  torch::Tensor bias(const MatrixRef& m) const override;
  InputNorm input_norm(const MatrixRef& m) const override;
  void set_weight(const MatrixRef& m, const torch::Tensor& a) override;
  void set_position_bias(const MatrixRef& m, const torch::Tensor& table,
                         const torch::Tensor& fallback) override;
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override;

 protected:
  // h0 [B, T, D] from token ids [B, T]; may fill rotary tables in `s`.
  virtual torch::Tensor embed(const torch::Tensor& ids, Step& s) = 0;
  // One block: h [B, T, D] -> [B, T, D].
  virtual torch::Tensor layer(int64_t l, const torch::Tensor& h, Step& s) = 0;

  ModelConfig cfg_;
  Weights w_;

 private:
  Step prepare(const Batch& batch, LogitsScope scope, Taps* taps) const;
  MatrixRef ref(MatrixKind kind, int64_t layer) const;
  void check_ref(const MatrixRef& m) const;
  // A's storage (a row block of qkv for q/k/v) and its bias, as views.
  std::pair<torch::Tensor, torch::Tensor> storage(const MatrixRef& m) const;

  torch::Device device_;
  torch::ScalarType dtype_;
};

// Architectures (gpt2.cpp, phi.cpp, llama.cpp): build the model from a weight source.
class WeightSource;
std::unique_ptr<CausalLM> make_gpt2(const ModelConfig& cfg, WeightSource& src, const LoadOptions& opts);
std::unique_ptr<CausalLM> make_phi(const ModelConfig& cfg, WeightSource& src, const LoadOptions& opts);
std::unique_ptr<CausalLM> make_llama(const ModelConfig& cfg, WeightSource& src, const LoadOptions& opts);

}  // namespace ep::model
