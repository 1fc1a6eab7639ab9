// Weights of a GGUF file (llama.cpp's format) for the Llama mapping (llama.cpp in this
// folder), which asks for them by their Hugging Face names. Every tensor is dequantized
// to float32 (core/io/gguf.h), then converted to the model dtype: the model computes in
// that dtype, not in the file's quantized arithmetic.
//
// llama.cpp's converter stores q_proj and k_proj with the rows of each head reordered
// for its rotary kernel (convert_hf_to_gguf.py LlamaModel.permute); this undoes it exactly
// as transformers' GGUF loader does (integrations/ggml.py / modeling_gguf_pytorch_utils.py
// reverse_permute_weights), so the same rotary code serves HF folders and GGUF files.
#include <fmt/format.h>

#include <map>
#include <regex>
#include <set>

#include "core/io/gguf.h"
#include "core/model/weights.h"
#include "core/util/error.h"

namespace ep::model {
namespace {

// HF name -> GGUF name. ref: gguf-py tensor_mapping.py (MODEL_TENSOR names for llama).
std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> kGlobal = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"}};
  static const std::map<std::string, std::string> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},       {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.weight", "attn_k.weight"},       {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.weight", "attn_v.weight"},       {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  if (auto it = kGlobal.find(hf); it != kGlobal.end()) return it->second;
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (std::regex_match(hf, m, layer)) {
    if (auto it = kLayer.find(m[2].str()); it != kLayer.end()) return fmt::format("blk.{}.{}", m[1].str(), it->second);
  }
  return "";
}

// ref: transformers reverse_permute_weights: [heads, 2, Dh/2, in] (the converter's order)
// back to [heads, Dh/2, 2, in] -> rows of each head as HF's rotate_half expects.
torch::Tensor unpermute_rotary_rows(const torch::Tensor& w, int64_t heads) {
  const int64_t rows = w.size(0);
  auto shape = w.sizes().vec();
  std::vector<int64_t> split{heads, rows / heads / 2, 2};
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return w.reshape(split).transpose(1, 2).reshape(shape).contiguous();
}

class GgufSource : public WeightSource {
 public:
  GgufSource(std::shared_ptr<const gguf::GgufFile> file, const ModelConfig& cfg, const LoadOptions& opts)
      : file_(std::move(file)), cfg_(cfg), opts_(opts) {}

  bool has(const std::string& name) const override {
    const std::string g = gguf_name(name);
    return !g.empty() && file_->contains(g);
  }

  torch::Tensor take(const std::string& name, const std::vector<int64_t>& shape, Init, Layout layout) override {
    const std::string g = gguf_name(name);
    EP_CHECK(!g.empty() && file_->contains(g), "tensor '{}' (GGUF '{}') is missing from {}; expected shape {}", name,
             g.empty() ? "?" : g, file_->path().string(), shape_str(shape));
    EP_CHECK(layout == Layout::OutIn, "internal: GGUF tensor '{}' asked for in another layout", g);
    const gguf::TensorInfo& t = file_->tensor(g);
    EP_CHECK(t.shape == shape, "GGUF tensor '{}' in {} has shape {}; expected {} (for '{}')", g,
             file_->path().string(), shape_str(t.shape), shape_str(shape), name);
    EP_CHECK(taken_.insert(g).second, "tensor '{}' was asked for twice (a bug in the mapping)", g);
    std::vector<float> values = gguf::dequantize(t);
    auto w = at::from_blob(values.data(), shape, at::TensorOptions().dtype(torch::kFloat32));
    if (g.find(".attn_q.") != std::string::npos) w = unpermute_rotary_rows(w, cfg_.n_heads);
    if (g.find(".attn_k.") != std::string::npos) w = unpermute_rotary_rows(w, cfg_.kv_heads());
    auto dst = at::empty(w.sizes(), at::TensorOptions().dtype(opts_.dtype).device(opts_.device));
    dst.copy_(w);
    const int64_t n_bad = dst.isfinite().logical_not().sum().item<int64_t>();
    EP_CHECK(n_bad == 0, "GGUF tensor '{}' in {} holds {} non-finite value(s) after dequantization to {}; expected "
             "finite weights", g, file_->path().string(), n_bad, c10::toString(opts_.dtype));
    return dst;
  }

  void finish(const std::string& arch, const std::vector<std::string>& ignore) override {
    for (const auto& t : file_->tensors()) {
      // rope_freqs.weight: llama 3's rope scaling factors (refused in the config); none in plain Llamas.
      EP_CHECK(taken_.count(t.name), "GGUF tensor '{}' in {} is not used by a {} model (a file of another "
               "architecture or size?)", t.name, file_->path().string(), arch);
    }
    (void)ignore;  // the HF names to ignore have no GGUF counterpart
  }

 private:
  std::shared_ptr<const gguf::GgufFile> file_;
  ModelConfig cfg_;
  LoadOptions opts_;
  std::set<std::string> taken_;
};

}  // namespace

std::unique_ptr<WeightSource> gguf_source(std::shared_ptr<const gguf::GgufFile> file, const ModelConfig& cfg,
                                          const LoadOptions& opts) {
  return std::make_unique<GgufSource>(std::move(file), cfg, opts);
}

}  // namespace ep::model
