// Hugging Face config.json <-> ModelConfig for gpt2, phi and the Llama family.
//
// Field names and defaults follow transformers' config classes
// (ref: transformers models/gpt2/configuration_gpt2.py GPT2Config,
//       models/phi/configuration_phi.py PhiConfig, models/llama/configuration_llama.py
//       LlamaConfig, models/mistral/..., models/qwen2/... ).
// Shape fields are required: a default there would silently build the wrong model.
// Fields that only tune numerics (epsilon, activation, rope) take HF's defaults,
// since HF itself accepts a config without them.
#include "core/io/hf_config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/text_file.h"
#include "core/io/strict_json.h"
#include "core/util/error.h"

namespace ep {

using nlohmann::json;

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;  // sanity bound on sizes; keeps products in int64
const char* const kSupported = "gpt2, phi, llama, mistral, qwen2";

// Typed access to one JSON object; errors name the source, the field and the expected type.
// A field set to null counts as absent (HF writes e.g. "n_inner": null for "use the default").
class Fields {
 public:
  Fields(const json& obj, std::string source, std::string prefix = "")
      : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)) {}

  const std::string& source() const { return source_; }
  std::string name(const char* key) const { return prefix_ + key; }

  const json* find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<int64_t> optional_int(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    return as_int(key, *v);
  }
  int64_t required_int(const char* key) const {
    EP_CHECK(find(key), "{}: missing required field '{}' (expected an integer)", source_, name(key));
    return *optional_int(key);
  }
  // A size: an integer in [1, 2^31).
  int64_t required_dim(const char* key) const { return check_dim(key, required_int(key)); }
  int64_t check_dim(const char* key, int64_t v) const {
    EP_CHECK(v > 0 && v < kMaxDim, "{}: field '{}' is {}, expected a positive integer below {}",
             source_, name(key), v, kMaxDim);
    return v;
  }

  std::optional<double> optional_number(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    EP_CHECK(v->is_number(), "{}: field '{}' must be a number, got {} {}", source_, name(key),
             v->type_name(), v->dump());
    return v->get<double>();
  }
  double number_or(const char* key, double fallback) const {
    return optional_number(key).value_or(fallback);
  }

  std::optional<std::string> optional_string(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    EP_CHECK(v->is_string(), "{}: field '{}' must be a string, got {} {}", source_, name(key),
             v->type_name(), v->dump());
    return v->get<std::string>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    return optional_string(key).value_or(fallback);
  }

  bool bool_or(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    EP_CHECK(v->is_boolean(), "{}: field '{}' must be a boolean, got {} {}", source_, name(key),
             v->type_name(), v->dump());
    return v->get<bool>();
  }

  // Special-token ids may be an integer or, in some configs, a list of them.
  // ModelConfig keeps one id: the first, which is what HF uses for bos and as the
  // primary eos.
  std::optional<int64_t> token_id(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_array()) {
      EP_CHECK(!v->empty(), "{}: field '{}' is an empty list, expected a token id", source_,
               name(key));
      return as_int(key, v->front());
    }
    return as_int(key, *v);
  }

 private:
  int64_t as_int(const char* key, const json& v) const {
    // nlohmann stores non-negative integers as unsigned: those above INT64_MAX don't fit.
    bool fits = v.is_number_integer() &&
                (!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
    EP_CHECK(fits,
             "{}: field '{}' must be an integer, got {} {}", source_, name(key), v.type_name(),
             v.dump());
    return v.get<int64_t>();
  }

  const json& obj_;
  std::string source_;
  std::string prefix_;
};

void reject_if(bool unsupported, const Fields& f, const char* what) {
  EP_CHECK(!unsupported, "{}: {} is not supported by eprunner", f.source(), what);
}

std::string read_dtype(const Fields& f) {
  // transformers >= 4.56 writes "dtype"; older versions "torch_dtype".
  auto legacy = f.optional_string("torch_dtype");
  auto current = f.optional_string("dtype");
  EP_CHECK(!legacy || !current || *legacy == *current,
           "{}: fields 'torch_dtype' ({}) and 'dtype' ({}) disagree", f.source(), *legacy,
           *current);
  std::string dtype = current ? *current : legacy.value_or("");
  EP_CHECK(dtype.empty() || dtype == "float32" || dtype == "float16" || dtype == "bfloat16",
           "{}: field 'dtype' is '{}', expected float32, float16 or bfloat16", f.source(), dtype);
  return dtype;
}

void read_gpt2(const Fields& f, ModelConfig& cfg) {
  cfg.arch = Arch::GPT2;
  cfg.hidden = f.required_dim("n_embd");
  cfg.n_heads = f.required_dim("n_head");
  cfg.n_layers = f.required_dim("n_layer");
  cfg.max_positions = f.required_dim("n_positions");
  cfg.vocab_size = f.required_dim("vocab_size");
  auto inner = f.optional_int("n_inner");  // null: 4 * n_embd (ref: GPT2MLP)
  cfg.intermediate = inner ? f.check_dim("n_inner", *inner) : 4 * cfg.hidden;
  cfg.layer_norm_eps = f.number_or("layer_norm_epsilon", 1e-5);
  cfg.activation = f.string_or("activation_function", "gelu_new");
  cfg.tie_word_embeddings = f.bool_or("tie_word_embeddings", true);
  // Variants that change the math; refusing them beats computing something else.
  reject_if(f.bool_or("add_cross_attention", false), f, "add_cross_attention = true");
  reject_if(f.bool_or("scale_attn_by_inverse_layer_idx", false), f,
            "scale_attn_by_inverse_layer_idx = true");
  reject_if(!f.bool_or("scale_attn_weights", true), f, "scale_attn_weights = false");
}

struct Rope {
  std::optional<double> partial_rotary_factor, rope_theta;
};

// The same rotary setting may be written twice (top level, as in Phi-2's file, and in
// rope_parameters, as transformers 5 writes); each copy must agree with the other.
double agreed(const Fields& f, const char* key, std::optional<double> top,
              std::optional<double> nested, double fallback) {
  EP_CHECK(!top || !nested || *top == *nested,
           "{}: '{}' is {} at top level but rope_parameters.{} is {}; they must agree",
           f.source(), key, *top, key, *nested);
  return top ? *top : nested.value_or(fallback);
}

void read_rope(const Fields& f, ModelConfig& cfg, double default_partial_rotary_factor) {
  Rope top{f.optional_number("partial_rotary_factor"), f.optional_number("rope_theta")};
  Rope nested;
  if (const json* params = f.find("rope_parameters")) {
    EP_CHECK(params->is_object(), "{}: field 'rope_parameters' must be an object, got {}",
             f.source(), params->type_name());
    Fields p(*params, f.source(), "rope_parameters.");
    nested = {p.optional_number("partial_rotary_factor"), p.optional_number("rope_theta")};
    std::string type = p.string_or("rope_type", "default");
    reject_if(type != "default", f, "rope_parameters.rope_type other than 'default'");
  }
  // Older files spell rope variants as "rope_scaling" (null in Phi-2); only plain rope is run.
  if (const json* scaling = f.find("rope_scaling")) {
    EP_CHECK(scaling->is_object(), "{}: field 'rope_scaling' must be an object or null, got {}",
             f.source(), scaling->type_name());
    Fields s(*scaling, f.source(), "rope_scaling.");
    std::string type = s.string_or("rope_type", s.string_or("type", ""));
    reject_if(type != "default", f, "rope_scaling (other than rope_type 'default')");
  }
  // ref: PhiConfig defaults partial_rotary_factor=0.5, rope_theta=10000.0; LlamaConfig
  // rotates the whole head (no partial factor) with rope_theta=10000.0.
  cfg.partial_rotary_factor = agreed(f, "partial_rotary_factor", top.partial_rotary_factor,
                                     nested.partial_rotary_factor, default_partial_rotary_factor);
  cfg.rope_theta = agreed(f, "rope_theta", top.rope_theta, nested.rope_theta, 10000.0);
  EP_CHECK(cfg.partial_rotary_factor > 0 && cfg.partial_rotary_factor <= 1,
           "{}: partial_rotary_factor is {}, expected a value in (0, 1]", f.source(),
           cfg.partial_rotary_factor);
  EP_CHECK(cfg.rope_theta > 0, "{}: rope_theta is {}, expected a positive number", f.source(),
           cfg.rope_theta);
}

// The shape fields Phi and the Llama family name alike.
void read_decoder_shape(const Fields& f, ModelConfig& cfg) {
  cfg.hidden = f.required_dim("hidden_size");
  cfg.n_heads = f.required_dim("num_attention_heads");
  cfg.n_layers = f.required_dim("num_hidden_layers");
  cfg.max_positions = f.required_dim("max_position_embeddings");
  cfg.vocab_size = f.required_dim("vocab_size");
  cfg.intermediate = f.required_dim("intermediate_size");
}

void read_phi(const Fields& f, ModelConfig& cfg) {
  cfg.arch = Arch::Phi;
  read_decoder_shape(f, cfg);
  cfg.layer_norm_eps = f.number_or("layer_norm_eps", 1e-5);
  cfg.activation = f.string_or("hidden_act", "gelu_new");
  cfg.tie_word_embeddings = f.bool_or("tie_word_embeddings", false);
  auto kv_heads = f.optional_int("num_key_value_heads");
  EP_CHECK(!kv_heads || *kv_heads == cfg.n_heads,
           "{}: num_key_value_heads {} differs from num_attention_heads {}: grouped-query "
           "attention is not supported",
           f.source(), kv_heads.value_or(0), cfg.n_heads);
  reject_if(f.bool_or("qk_layernorm", false), f, "qk_layernorm = true");
  read_rope(f, cfg, 0.5);
}

// The Llama family: RMSNorm, rotary embeddings over the whole head, grouped-query
// attention, SwiGLU MLP (gate, up, down), no biases but optional q/k/v biases (qwen2
// always has them). ref: transformers models/llama/modeling_llama.py, mistral, qwen2.
void read_llama(const Fields& f, ModelConfig& cfg) {
  cfg.arch = Arch::Llama;
  read_decoder_shape(f, cfg);
  cfg.n_kv_heads = f.check_dim("num_key_value_heads", f.optional_int("num_key_value_heads").value_or(cfg.n_heads));
  cfg.layer_norm_eps = f.number_or("rms_norm_eps", 1e-6);
  cfg.activation = f.string_or("hidden_act", "silu");
  reject_if(cfg.activation != "silu", f, "hidden_act other than 'silu' in a Llama-family model");
  cfg.tie_word_embeddings = f.bool_or("tie_word_embeddings", false);
  cfg.attention_bias = cfg.model_type == "qwen2" || f.bool_or("attention_bias", false);
  // ref: LlamaMLP takes bias=config.mlp_bias; Mistral's and Qwen2's MLPs have none.
  cfg.mlp_bias = f.bool_or("mlp_bias", false);
  reject_if(cfg.mlp_bias && cfg.model_type != "llama", f, "mlp_bias = true outside model_type \"llama\"");
  if (auto head_dim = f.optional_int("head_dim")) {
    EP_CHECK(*head_dim * cfg.n_heads == cfg.hidden,
             "{}: head_dim {} x num_attention_heads {} != hidden_size {}: a head size other than "
             "hidden_size / num_attention_heads is not supported", f.source(), *head_dim, cfg.n_heads, cfg.hidden);
  }
  // Sliding-window attention equals full attention on inputs no longer than the window;
  // the model refuses longer inputs (causal_lm.cpp), so the window needs no code.
  const bool window_used = cfg.model_type == "mistral" || f.bool_or("use_sliding_window", false);
  if (auto window = f.optional_int("sliding_window"); window && window_used) cfg.sliding_window = f.check_dim("sliding_window", *window);
  read_rope(f, cfg, 1.0);
  reject_if(cfg.partial_rotary_factor != 1.0, f, "partial_rotary_factor other than 1 in a Llama-family model");
}

void derive_sizes(const std::string& source, ModelConfig& cfg) {
  EP_CHECK(cfg.hidden % cfg.n_heads == 0,
           "{}: hidden size {} is not divisible by the number of heads {}", source, cfg.hidden,
           cfg.n_heads);
  cfg.head_dim = cfg.hidden / cfg.n_heads;
  if (cfg.n_kv_heads == 0) cfg.n_kv_heads = cfg.n_heads;
  EP_CHECK(cfg.n_kv_heads <= cfg.n_heads && cfg.n_heads % cfg.n_kv_heads == 0,
           "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", source, cfg.n_heads,
           cfg.n_kv_heads);
  EP_CHECK(cfg.layer_norm_eps > 0, "{}: layer norm epsilon is {}, expected a positive number",
           source, cfg.layer_norm_eps);
  if (cfg.arch == Arch::GPT2) return;
  // ref: PhiAttention: rotary_ndims = int(head_dim * partial_rotary_factor) (truncation,
  // like the C++ conversion), rotated in pairs, so it must be even.
  cfg.rotary_dim = static_cast<int64_t>(static_cast<double>(cfg.head_dim) * cfg.partial_rotary_factor);
  EP_CHECK(cfg.rotary_dim > 0 && cfg.rotary_dim % 2 == 0,
           "{}: rotary dimension int({} * {}) = {} must be positive and even", source,
           cfg.head_dim, cfg.partial_rotary_factor, cfg.rotary_dim);
}

json llama_json(const ModelConfig& cfg) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", cfg.vocab_size},
          {"max_position_embeddings", cfg.max_positions},
          {"hidden_size", cfg.hidden},
          {"num_hidden_layers", cfg.n_layers},
          {"num_attention_heads", cfg.n_heads},
          {"num_key_value_heads", cfg.n_kv_heads},
          {"intermediate_size", cfg.intermediate},
          {"hidden_act", cfg.activation},
          {"rms_norm_eps", cfg.layer_norm_eps},
          {"tie_word_embeddings", cfg.tie_word_embeddings},
          {"attention_bias", cfg.attention_bias},
          {"mlp_bias", cfg.mlp_bias},
          {"rope_theta", cfg.rope_theta},
          {"rope_parameters", {{"rope_theta", cfg.rope_theta}, {"rope_type", "default"}}},
          {"attention_dropout", 0.0}};
}

json token_id_json(const std::optional<int64_t>& id) { return id ? json(*id) : json(nullptr); }

json gpt2_json(const ModelConfig& cfg) {
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"vocab_size", cfg.vocab_size},
          {"n_positions", cfg.max_positions},
          {"n_embd", cfg.hidden},
          {"n_layer", cfg.n_layers},
          {"n_head", cfg.n_heads},
          {"n_inner", cfg.intermediate},
          {"activation_function", cfg.activation},
          {"layer_norm_epsilon", cfg.layer_norm_eps},
          {"tie_word_embeddings", cfg.tie_word_embeddings},
          // eprunner has no dropout; zero keeps HF identical even in training mode.
          {"resid_pdrop", 0.0},
          {"embd_pdrop", 0.0},
          {"attn_pdrop", 0.0}};
}

json phi_json(const ModelConfig& cfg) {
  // Rotary settings go in both places, like transformers 5 writes them, so old
  // (top-level keys) and new (rope_parameters) readers both see them.
  return {{"architectures", {"PhiForCausalLM"}},
          {"model_type", "phi"},
          {"vocab_size", cfg.vocab_size},
          {"max_position_embeddings", cfg.max_positions},
          {"hidden_size", cfg.hidden},
          {"num_hidden_layers", cfg.n_layers},
          {"num_attention_heads", cfg.n_heads},
          {"num_key_value_heads", cfg.n_heads},
          {"intermediate_size", cfg.intermediate},
          {"hidden_act", cfg.activation},
          {"layer_norm_eps", cfg.layer_norm_eps},
          {"tie_word_embeddings", cfg.tie_word_embeddings},
          {"partial_rotary_factor", cfg.partial_rotary_factor},
          {"rope_theta", cfg.rope_theta},
          {"rope_parameters",
           {{"partial_rotary_factor", cfg.partial_rotary_factor},
            {"rope_theta", cfg.rope_theta},
            {"rope_type", "default"}}},
          {"qk_layernorm", false},
          {"resid_pdrop", 0.0},
          {"embd_pdrop", 0.0},
          {"attention_dropout", 0.0}};
}

}  // namespace

ModelConfig parse_hf_config(const std::string& json_text, const std::string& source) {
  const json root = io::parse_strict_json(json_text, source);
  EP_CHECK(root.is_object(), "{}: config must be a JSON object, got {}", source, root.type_name());
  Fields f(root, source);
  auto model_type = f.optional_string("model_type");
  EP_CHECK(model_type, "{}: missing required field 'model_type' (expected a string; supported: {})",
           source, kSupported);

  ModelConfig cfg;
  cfg.model_type = *model_type;
  if (*model_type == "gpt2") {
    read_gpt2(f, cfg);
  } else if (*model_type == "phi") {
    read_phi(f, cfg);
  } else if (*model_type == "llama" || *model_type == "mistral" || *model_type == "qwen2") {
    read_llama(f, cfg);
  } else {
    EP_FAIL("{}: model_type '{}' is not supported (supported: {})", source, *model_type,
            kSupported);
  }
  cfg.bos_token_id = f.token_id("bos_token_id");
  cfg.eos_token_id = f.token_id("eos_token_id");
  cfg.torch_dtype = read_dtype(f);
  derive_sizes(source, cfg);
  return cfg;
}

ModelConfig load_hf_config(const std::filesystem::path& folder_or_file) {
  std::error_code ec;
  auto path = std::filesystem::is_directory(folder_or_file, ec) ? folder_or_file / "config.json"
                                                                : folder_or_file;
  return parse_hf_config(io::read_text_file(path, "model config"), path.string());
}

std::string to_hf_config_json(const ModelConfig& cfg) {
  json out = cfg.arch == Arch::GPT2 ? gpt2_json(cfg) : cfg.arch == Arch::Phi ? phi_json(cfg) : llama_json(cfg);
  out["bos_token_id"] = token_id_json(cfg.bos_token_id);
  out["eos_token_id"] = token_id_json(cfg.eos_token_id);
  // "torch_dtype": read by every transformers version (newer ones alias it to "dtype").
  if (!cfg.torch_dtype.empty()) out["torch_dtype"] = cfg.torch_dtype;
  return out.dump(2) + "\n";
}

}  // namespace ep
