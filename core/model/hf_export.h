// A loaded model's weights under its architecture's Hugging Face tensor names and
// layouts: the reverse of the mappings in gpt2.cpp, phi.cpp and llama.cpp, for
// `eprunner export` (runner/export_model.h). GPT-2's Conv1D matrices go back to
// [in, out]; Phi's and Llama's fused qkv goes back to q_proj, k_proj, v_proj.
//
// A frozen matrix's bias b' = b + c (c = D x̄, the frozen components' mean effect,
// core/prune/freeze.h) is a constant over positions, so it is written into the
// matrix's own HF bias. Where HF's module has no bias (Llama's projections) the
// whole family gets one: attention_bias (q, k, v, o) or mlp_bias (gate, up, down),
// zeros where nothing was added, and the flags say so for config.json. Mistral's
// and Qwen2's classes have no such switch (Qwen2 has q/k/v biases only): an added
// bias with no place there is an error naming the matrix.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "core/model/causal_lm.h"

namespace ep {

struct HfTensors {
  // HF name -> tensor on the CPU, contiguous, in the requested dtype; in the order
  // the architecture's reader takes them.
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  bool attention_bias = false;  // Llama family: q/k/v/o_proj biases written (config "attention_bias": true)
  bool mlp_bias = false;        // Llama family: gate/up/down_proj biases written (config "mlp_bias": true)
};

// `added_bias`: a constant [out] (any float dtype, any device) added to a matrix's
// output, e.g. the frozen components' D x̄; at most one per matrix. `dtype`: what the
// tensors are written in (the model's own dtype for an exact copy).
HfTensors hf_tensors(CausalLM& model, const std::vector<std::pair<MatrixRef, torch::Tensor>>& added_bias,
                     torch::ScalarType dtype);

}  // namespace ep
