// The HF names written here are the ones gpt2.cpp, phi.cpp and llama.cpp read
// (ref: transformers modeling_gpt2.py, modeling_phi.py, modeling_llama.py). The
// model's tensors come from CausalLM::named_parameters() (TransformerLM's names:
// "layers.3.qkv.weight", ...); every one must be written, so a tensor added to the
// model later cannot be dropped from an export silently.
#include "core/model/hf_export.h"

#include <array>
#include <map>

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/util/error.h"

namespace ep {
namespace {

// The model's parameters by internal name; each taken once, all of them in the end.
class Params {
 public:
  explicit Params(CausalLM& model) {
    for (auto& [name, t] : model.named_parameters()) by_name_.emplace(name, t.detach());
  }
  bool has(const std::string& name) const { return by_name_.count(name) > 0; }
  torch::Tensor take(const std::string& name) {
    auto it = by_name_.find(name);
    EP_CHECK(it != by_name_.end(), "internal: export: the model has no parameter '{}'", name);
    torch::Tensor t = it->second;
    by_name_.erase(it);
    return t;
  }
  torch::Tensor take_if(const std::string& name) { return has(name) ? take(name) : torch::Tensor(); }
  void finish(const std::string& arch) const {
    EP_CHECK(by_name_.empty(), "internal: export of a {} model: parameter '{}' has no Hugging Face name", arch,
             by_name_.begin()->first);
  }

 private:
  std::map<std::string, torch::Tensor> by_name_;
};

// The added constant bias of each (layer, kind), float64 on the CPU; undefined = none.
class AddedBias {
 public:
  AddedBias(const ModelConfig& cfg, const std::vector<std::pair<MatrixRef, torch::Tensor>>& added)
      : at_(static_cast<size_t>(cfg.n_layers)) {
    for (const auto& [m, c] : added) {
      EP_CHECK(m.layer >= 0 && m.layer < cfg.n_layers, "internal: export: bias for {} of a {}-layer model",
               m.name(), cfg.n_layers);
      EP_CHECK(c.defined() && c.dim() == 1 && c.size(0) == m.out_features,
               "internal: export: the added bias of {} must be [{}]", m.name(), m.out_features);
      torch::Tensor& slot = at_[m.layer][static_cast<size_t>(m.kind)];
      EP_CHECK(!slot.defined(), "internal: export: two added biases for {}", m.name());
      slot = c.detach().to(torch::kCPU, torch::kFloat64);
    }
  }
  const torch::Tensor& get(int64_t layer, MatrixKind kind) const { return at_[layer][static_cast<size_t>(kind)]; }
  bool any(int64_t layer, std::initializer_list<MatrixKind> kinds) const {
    for (MatrixKind k : kinds)
      if (get(layer, k).defined()) return true;
    return false;
  }

 private:
  std::vector<std::array<torch::Tensor, 6>> at_;  // [layer][kind]
};

// b + c in float64 on the CPU ([n]); zeros for an absent b, b alone without c.
torch::Tensor plus(const torch::Tensor& b, const torch::Tensor& c, int64_t n) {
  torch::Tensor out = b.defined() ? b.to(torch::kCPU, torch::kFloat64) : torch::zeros({n}, torch::kFloat64);
  return c.defined() ? out + c : out;
}

class Writer {
 public:
  Writer(HfTensors& out, torch::ScalarType dtype) : out_(out), dtype_(dtype) {}
  void put(const std::string& name, const torch::Tensor& t, bool transpose = false) {
    if (!t.defined()) return;
    torch::Tensor x = t.detach();
    if (transpose) x = x.t();
    // A copy: the model's storage changes back when its freeze is removed.
    out_.tensors.emplace_back(name, x.to(torch::kCPU, dtype_, false, /*copy=*/true).contiguous());
  }

 private:
  HfTensors& out_;
  torch::ScalarType dtype_;
};

// q | k | v rows of the fused qkv bias, each plus its added bias; [Dq + 2 Dkv] float64.
torch::Tensor qkv_bias(const torch::Tensor& b, const AddedBias& added, int64_t l, int64_t Dq, int64_t Dkv) {
  const torch::Tensor full = plus(b, torch::Tensor(), Dq + 2 * Dkv);
  return torch::cat({plus(full.narrow(0, 0, Dq), added.get(l, MatrixKind::Q), Dq),
                     plus(full.narrow(0, Dq, Dkv), added.get(l, MatrixKind::K), Dkv),
                     plus(full.narrow(0, Dq + Dkv, Dkv), added.get(l, MatrixKind::V), Dkv)});
}

// ref: gpt2.cpp read_gpt2 — "transformer." names as GPT2LMHeadModel.save_pretrained writes them.
void write_gpt2(const ModelConfig& c, Params& p, const AddedBias& added, Writer& w) {
  const int64_t D = c.hidden, I = c.intermediate;
  w.put("transformer.wte.weight", p.take("wte"));
  w.put("transformer.wpe.weight", p.take("wpe"));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string in = fmt::format("layers.{}.", l), h = fmt::format("transformer.h.{}.", l);
    w.put(h + "ln_1.weight", p.take(in + "ln1.weight"));
    w.put(h + "ln_1.bias", p.take(in + "ln1.bias"));
    w.put(h + "attn.c_attn.weight", p.take(in + "qkv.weight"), /*transpose=*/true);  // Conv1D [D, 3D]
    w.put(h + "attn.c_attn.bias", qkv_bias(p.take_if(in + "qkv.bias"), added, l, D, D));
    w.put(h + "attn.c_proj.weight", p.take(in + "o.weight"), true);
    w.put(h + "attn.c_proj.bias", plus(p.take_if(in + "o.bias"), added.get(l, MatrixKind::O), D));
    w.put(h + "ln_2.weight", p.take(in + "ln2.weight"));
    w.put(h + "ln_2.bias", p.take(in + "ln2.bias"));
    w.put(h + "mlp.c_fc.weight", p.take(in + "mlp_in.weight"), true);
    w.put(h + "mlp.c_fc.bias", plus(p.take_if(in + "mlp_in.bias"), added.get(l, MatrixKind::MlpIn), I));
    w.put(h + "mlp.c_proj.weight", p.take(in + "mlp_out.weight"), true);
    w.put(h + "mlp.c_proj.bias", plus(p.take_if(in + "mlp_out.bias"), added.get(l, MatrixKind::MlpOut), D));
  }
  w.put("transformer.ln_f.weight", p.take("ln_f.weight"));
  w.put("transformer.ln_f.bias", p.take("ln_f.bias"));
  w.put("lm_head.weight", p.take_if("lm_head.weight"));  // absent when tied
  p.finish("gpt2");
}

// ref: phi.cpp read_phi.
void write_phi(const ModelConfig& c, Params& p, const AddedBias& added, Writer& w) {
  const int64_t D = c.hidden, I = c.intermediate;
  w.put("model.embed_tokens.weight", p.take("wte"));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string in = fmt::format("layers.{}.", l), h = fmt::format("model.layers.{}.", l);
    w.put(h + "input_layernorm.weight", p.take(in + "ln1.weight"));
    w.put(h + "input_layernorm.bias", p.take(in + "ln1.bias"));
    const torch::Tensor qkv = p.take(in + "qkv.weight"), b = qkv_bias(p.take_if(in + "qkv.bias"), added, l, D, D);
    const char* names[] = {"q_proj", "k_proj", "v_proj"};
    for (int64_t j = 0; j < 3; ++j) {
      w.put(h + "self_attn." + names[j] + ".weight", qkv.narrow(0, j * D, D));
      w.put(h + "self_attn." + names[j] + ".bias", b.narrow(0, j * D, D));
    }
    w.put(h + "self_attn.dense.weight", p.take(in + "o.weight"));
    w.put(h + "self_attn.dense.bias", plus(p.take_if(in + "o.bias"), added.get(l, MatrixKind::O), D));
    w.put(h + "mlp.fc1.weight", p.take(in + "mlp_in.weight"));
    w.put(h + "mlp.fc1.bias", plus(p.take_if(in + "mlp_in.bias"), added.get(l, MatrixKind::MlpIn), I));
    w.put(h + "mlp.fc2.weight", p.take(in + "mlp_out.weight"));
    w.put(h + "mlp.fc2.bias", plus(p.take_if(in + "mlp_out.bias"), added.get(l, MatrixKind::MlpOut), D));
  }
  w.put("model.final_layernorm.weight", p.take("ln_f.weight"));
  w.put("model.final_layernorm.bias", p.take("ln_f.bias"));
  w.put("lm_head.weight", p.take_if("lm_head.weight"));
  w.put("lm_head.bias", p.take_if("lm_head.bias"));
  p.finish("phi");
}

// Which Llama-family bias switches the export needs; an added bias with no place in
// the HF class of this model_type is an error.
void llama_bias_flags(const ModelConfig& c, const AddedBias& added, HfTensors& out) {
  using K = MatrixKind;
  bool attn = c.attention_bias, mlp = false;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    attn = attn || added.any(l, {K::Q, K::K, K::V, K::O});
    mlp = mlp || added.any(l, {K::MlpIn, K::MlpOut});
    if (c.model_type == "llama") continue;
    // ref: Qwen2Attention: q/k/v_proj bias=True, o_proj bias=False; MistralAttention: no biases; neither
    // has an MLP bias. The frozen components' mean effect must go into a bias of the matrix itself.
    for (K k : {K::Q, K::K, K::V, K::O, K::MlpIn, K::MlpOut}) {
      const bool has_place = c.model_type == "qwen2" && (k == K::Q || k == K::K || k == K::V);
      EP_CHECK(!added.get(l, k).defined() || has_place,
               "cannot export: matrix {}.{} needs a bias (the frozen components' mean effect) and Hugging Face's "
               "{} class has none there; model_type \"llama\" (attention_bias / mlp_bias) and \"qwen2\" q/k/v "
               "can hold it, or prune with bias = \"none\"",
               name_of(k), l, c.model_type);
    }
  }
  // ref: LlamaAttention: q/k/v/o_proj all take bias=config.attention_bias; LlamaMLP: gate/up/down mlp_bias.
  out.attention_bias = attn && c.model_type == "llama";
  out.mlp_bias = mlp;
}

// ref: llama.cpp read_llama.
void write_llama(const ModelConfig& c, Params& p, const AddedBias& added, Writer& w, HfTensors& out) {
  const int64_t D = c.hidden, I = c.intermediate;
  const int64_t Dq = c.n_heads * c.head_dim, Dkv = c.kv_heads() * c.head_dim;
  llama_bias_flags(c, added, out);
  const bool qkv_biased = out.attention_bias || c.attention_bias;
  w.put("model.embed_tokens.weight", p.take("wte"));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string in = fmt::format("layers.{}.", l), h = fmt::format("model.layers.{}.", l);
    w.put(h + "input_layernorm.weight", p.take(in + "ln1.weight"));
    const torch::Tensor qkv = p.take(in + "qkv.weight"), b = qkv_bias(p.take_if(in + "qkv.bias"), added, l, Dq, Dkv);
    const char* names[] = {"q_proj", "k_proj", "v_proj"};
    const int64_t rows[] = {Dq, Dkv, Dkv}, first[] = {0, Dq, Dq + Dkv};
    for (int64_t j = 0; j < 3; ++j) {
      w.put(h + "self_attn." + names[j] + ".weight", qkv.narrow(0, first[j], rows[j]));
      if (qkv_biased) w.put(h + "self_attn." + names[j] + ".bias", b.narrow(0, first[j], rows[j]));
    }
    w.put(h + "self_attn.o_proj.weight", p.take(in + "o.weight"));
    const torch::Tensor o_bias = p.take_if(in + "o.bias");
    if (out.attention_bias) w.put(h + "self_attn.o_proj.bias", plus(o_bias, added.get(l, MatrixKind::O), D));
    w.put(h + "post_attention_layernorm.weight", p.take(in + "ln2.weight"));
    w.put(h + "mlp.gate_proj.weight", p.take(in + "mlp_gate.weight"));
    const torch::Tensor gate_bias = p.take_if(in + "mlp_gate.bias");
    w.put(h + "mlp.up_proj.weight", p.take(in + "mlp_in.weight"));
    const torch::Tensor up_bias = p.take_if(in + "mlp_in.bias");
    w.put(h + "mlp.down_proj.weight", p.take(in + "mlp_out.weight"));
    const torch::Tensor down_bias = p.take_if(in + "mlp_out.bias");
    if (out.mlp_bias) {
      w.put(h + "mlp.gate_proj.bias", plus(gate_bias, torch::Tensor(), I));
      w.put(h + "mlp.up_proj.bias", plus(up_bias, added.get(l, MatrixKind::MlpIn), I));
      w.put(h + "mlp.down_proj.bias", plus(down_bias, added.get(l, MatrixKind::MlpOut), D));
    }
  }
  w.put("model.norm.weight", p.take("ln_f.weight"));
  w.put("lm_head.weight", p.take_if("lm_head.weight"));
  p.finish(c.model_type.empty() ? "llama" : c.model_type);
}

}  // namespace

HfTensors hf_tensors(CausalLM& model, const std::vector<std::pair<MatrixRef, torch::Tensor>>& added_bias,
                     torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  const ModelConfig& c = model.config();
  HfTensors out;
  Params p(model);
  const AddedBias added(c, added_bias);
  Writer w(out, dtype);
  switch (c.arch) {
    case Arch::GPT2: write_gpt2(c, p, added, w); break;
    case Arch::Phi: write_phi(c, p, added, w); break;
    case Arch::Llama: write_llama(c, p, added, w, out); break;
  }
  return out;
}

}  // namespace ep
