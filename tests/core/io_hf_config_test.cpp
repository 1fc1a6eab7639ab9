// HF config.json: the fixtures, both rotary layouts, errors, and the writer's round trip.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/io/hf_config.h"
#include "tests/core/io_test_files.h"

namespace ep {
namespace {

using ep::testing::expect_error;
using ep::testing::fixture;
using ep::testing::ScratchDir;
using ep::testing::write_bytes;
using nlohmann::json;

// microsoft/phi-2's config.json as published (transformers 4.37): rotary keys at top level only.
const char* kPhi2Config = R"({
  "_name_or_path": "microsoft/phi-2", "architectures": ["PhiForCausalLM"],
  "attention_dropout": 0.0, "bos_token_id": 50256, "embd_pdrop": 0.0, "eos_token_id": 50256,
  "hidden_act": "gelu_new", "hidden_size": 2560, "initializer_range": 0.02,
  "intermediate_size": 10240, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048,
  "model_type": "phi", "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 32, "partial_rotary_factor": 0.4, "qk_layernorm": false,
  "resid_pdrop": 0.1, "rope_scaling": null, "rope_theta": 10000.0, "tie_word_embeddings": false,
  "torch_dtype": "float16", "transformers_version": "4.37.0", "use_cache": true, "vocab_size": 51200
})";

json tiny_phi() { return json::parse(ep::testing::read_bytes(fixture("tiny-phi/config.json"))); }
json tiny_gpt2() { return json::parse(ep::testing::read_bytes(fixture("tiny-gpt2/config.json"))); }
ModelConfig parse(const json& j) { return parse_hf_config(j.dump(), "test/config.json"); }

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.max_positions, b.max_positions);
  EXPECT_EQ(a.hidden, b.hidden);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.kv_heads(), b.kv_heads());
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.intermediate, b.intermediate);
  EXPECT_EQ(a.layer_norm_eps, b.layer_norm_eps);
  EXPECT_EQ(a.activation, b.activation);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.partial_rotary_factor, b.partial_rotary_factor);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rotary_dim, b.rotary_dim);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_id, b.eos_token_id);
  EXPECT_EQ(a.torch_dtype, b.torch_dtype);
}

// ---- the fixtures ------------------------------------------------------------------

TEST(HfConfig, ReadsTinyGpt2Fixture) {
  ModelConfig c = load_hf_config(fixture("tiny-gpt2"));
  EXPECT_EQ(c.arch, Arch::GPT2);
  EXPECT_EQ(c.model_type, "gpt2");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_positions, 64);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.intermediate, 256);  // n_inner is null: 4 * n_embd
  EXPECT_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.activation, "gelu_new");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 50256);
  EXPECT_EQ(c.eos_token_id, 50256);
  EXPECT_EQ(c.torch_dtype, "float32");  // written as "dtype" by transformers 5
  EXPECT_EQ(c.rotary_dim, 0);
}

TEST(HfConfig, ReadsTinyPhiFixtureWithBothRopeForms) {
  ModelConfig c = load_hf_config(fixture("tiny-phi/config.json"));
  EXPECT_EQ(c.arch, Arch::Phi);
  EXPECT_EQ(c.model_type, "phi");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_positions, 64);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.intermediate, 256);
  EXPECT_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.activation, "gelu_new");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.partial_rotary_factor, 0.4);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rotary_dim, 6);  // int(16 * 0.4)
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.torch_dtype, "float32");
}

TEST(HfConfig, ReadsShardedFp16Fixture) {
  ModelConfig c = load_hf_config(fixture("tiny-phi-fp16-sharded"));
  EXPECT_EQ(c.torch_dtype, "float16");
  EXPECT_EQ(c.rotary_dim, 6);
}

// ---- rotary layouts ------------------------------------------------------------------

TEST(HfConfig, Phi2TopLevelRopeKeysOnly) {
  ModelConfig c = parse_hf_config(kPhi2Config, "phi-2/config.json");
  EXPECT_EQ(c.hidden, 2560);
  EXPECT_EQ(c.head_dim, 80);
  EXPECT_EQ(c.partial_rotary_factor, 0.4);
  EXPECT_EQ(c.rotary_dim, 32);  // int(80 * 0.4) = int(32.000000000000004)
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.intermediate, 10240);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "float16");
  EXPECT_EQ(c.eos_token_id, 50256);
}

TEST(HfConfig, RopeParametersOnly) {
  json j = tiny_phi();
  j.erase("partial_rotary_factor");
  j["rope_parameters"] = {{"partial_rotary_factor", 0.5}, {"rope_theta", 500.0}, {"rope_type", "default"}};
  ModelConfig c = parse(j);
  EXPECT_EQ(c.partial_rotary_factor, 0.5);
  EXPECT_EQ(c.rope_theta, 500.0);
  EXPECT_EQ(c.rotary_dim, 8);
}

TEST(HfConfig, RopeKeysSplitAcrossBothPlaces) {
  json j = tiny_phi();  // partial_rotary_factor at top level; theta only nested
  j["rope_parameters"] = {{"rope_theta", 250.0}};
  ModelConfig c = parse(j);
  EXPECT_EQ(c.rope_theta, 250.0);
  EXPECT_EQ(c.rotary_dim, 6);
}

TEST(HfConfig, NoRopeKeysTakeHfDefaults) {
  json j = tiny_phi();
  j.erase("partial_rotary_factor");
  j.erase("rope_parameters");
  ModelConfig c = parse(j);
  EXPECT_EQ(c.partial_rotary_factor, 0.5);  // PhiConfig's default
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rotary_dim, 8);
}

TEST(HfConfig, DisagreeingRopeFormsAreAnError) {
  json j = tiny_phi();
  j["partial_rotary_factor"] = 0.5;
  expect_error([&] { parse(j); }, {"test/config.json", "partial_rotary_factor", "0.5", "rope_parameters", "0.4"});
  j = tiny_phi();
  j["rope_theta"] = 20000.0;
  expect_error([&] { parse(j); }, {"rope_theta", "20000", "rope_parameters.rope_theta", "10000"});
}

TEST(HfConfig, UnsupportedRopeVariantsAreErrors) {
  json j = tiny_phi();
  j["rope_parameters"]["rope_type"] = "linear";
  expect_error([&] { parse(j); }, {"rope_type", "not supported"});
  j = tiny_phi();
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  expect_error([&] { parse(j); }, {"rope_scaling", "not supported"});
  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(parse(j).rotary_dim, 6);
  j = tiny_phi();
  j.erase("rope_parameters");
  j["partial_rotary_factor"] = 0.3;  // int(16 * 0.3) = 4; 0.35 gives 5
  EXPECT_EQ(parse(j).rotary_dim, 4);
  j["partial_rotary_factor"] = 0.35;
  expect_error([&] { parse(j); }, {"rotary dimension", "5", "even"});
  j["partial_rotary_factor"] = 1.5;
  expect_error([&] { parse(j); }, {"partial_rotary_factor", "(0, 1]"});
}

// ---- errors ------------------------------------------------------------------------

TEST(HfConfig, UnknownModelTypeListsTheSupportedOnes) {
  json j = tiny_gpt2();
  j["model_type"] = "gemma";
  expect_error([&] { parse(j); }, {"test/config.json", "'gemma'", "not supported", "gpt2", "phi", "llama"});
  j.erase("model_type");
  expect_error([&] { parse(j); }, {"'model_type'", "missing"});
}

TEST(HfConfig, MissingRequiredFieldIsNamed) {
  json j = tiny_gpt2();
  j.erase("n_embd");
  expect_error([&] { parse(j); }, {"test/config.json", "missing required field 'n_embd'", "integer"});
  j = tiny_phi();
  j.erase("intermediate_size");
  expect_error([&] { parse(j); }, {"'intermediate_size'"});
  j = tiny_phi();
  j["num_hidden_layers"] = nullptr;
  expect_error([&] { parse(j); }, {"missing required field 'num_hidden_layers'"});
}

TEST(HfConfig, WrongTypeNamesFieldAndExpectedType) {
  json j = tiny_gpt2();
  j["n_head"] = "4";
  expect_error([&] { parse(j); }, {"test/config.json", "'n_head'", "must be an integer", "string"});
  j = tiny_gpt2();
  j["n_embd"] = 64.5;
  expect_error([&] { parse(j); }, {"'n_embd'", "must be an integer"});
  j = tiny_gpt2();
  j["tie_word_embeddings"] = "yes";
  expect_error([&] { parse(j); }, {"'tie_word_embeddings'", "boolean"});
  j = tiny_gpt2();
  j["layer_norm_epsilon"] = "1e-5";
  expect_error([&] { parse(j); }, {"'layer_norm_epsilon'", "number"});
  j = tiny_phi();
  j["rope_parameters"] = 3;
  expect_error([&] { parse(j); }, {"'rope_parameters'", "object"});
  j = tiny_phi();
  j["rope_parameters"]["rope_theta"] = "big";
  expect_error([&] { parse(j); }, {"'rope_parameters.rope_theta'", "number"});
}

TEST(HfConfig, BadSizesAreErrors) {
  json j = tiny_gpt2();
  j["n_embd"] = 66;
  expect_error([&] { parse(j); }, {"hidden size 66", "not divisible", "heads 4"});
  j = tiny_gpt2();
  j["n_layer"] = 0;
  expect_error([&] { parse(j); }, {"'n_layer'", "positive"});
  j = tiny_gpt2();
  j["vocab_size"] = -5;
  expect_error([&] { parse(j); }, {"'vocab_size'", "positive"});
  j = tiny_gpt2();
  j["layer_norm_epsilon"] = 0.0;
  expect_error([&] { parse(j); }, {"epsilon", "positive"});
}

TEST(HfConfig, GroupedQueryAttentionIsNotSupported) {
  json j = tiny_phi();
  j["num_key_value_heads"] = 2;
  expect_error([&] { parse(j); }, {"num_key_value_heads 2", "num_attention_heads 4", "not supported"});
  j["num_key_value_heads"] = nullptr;  // HF: None means "same as num_attention_heads"
  EXPECT_EQ(parse(j).n_heads, 4);
}

TEST(HfConfig, ArchitectureVariantsThatChangeTheMathAreRejected) {
  json j = tiny_phi();
  j["qk_layernorm"] = true;
  expect_error([&] { parse(j); }, {"qk_layernorm", "not supported"});
  j = tiny_gpt2();
  j["scale_attn_by_inverse_layer_idx"] = true;
  expect_error([&] { parse(j); }, {"scale_attn_by_inverse_layer_idx", "not supported"});
  j = tiny_gpt2();
  j["add_cross_attention"] = true;
  expect_error([&] { parse(j); }, {"add_cross_attention", "not supported"});
}

TEST(HfConfig, DtypeKeysMustAgreeAndBeKnown) {
  json j = tiny_gpt2();
  j["torch_dtype"] = "float16";
  expect_error([&] { parse(j); }, {"'torch_dtype' (float16)", "'dtype' (float32)", "disagree"});
  j = tiny_gpt2();
  j.erase("dtype");
  j["torch_dtype"] = "bfloat16";
  EXPECT_EQ(parse(j).torch_dtype, "bfloat16");
  j.erase("torch_dtype");
  EXPECT_EQ(parse(j).torch_dtype, "");
  j["dtype"] = "int8";
  expect_error([&] { parse(j); }, {"'int8'", "float32"});
}

TEST(HfConfig, DefaultsFollowEachArchitecture) {
  json g = tiny_gpt2();
  for (const char* k : {"tie_word_embeddings", "layer_norm_epsilon", "activation_function", "n_inner",
                        "bos_token_id", "eos_token_id"})
    g.erase(k);
  ModelConfig c = parse(g);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.activation, "gelu_new");
  EXPECT_EQ(c.intermediate, 256);
  EXPECT_FALSE(c.bos_token_id.has_value());
  json p = tiny_phi();
  p.erase("tie_word_embeddings");
  EXPECT_FALSE(parse(p).tie_word_embeddings);
  g = tiny_gpt2();
  g["n_inner"] = 100;
  EXPECT_EQ(parse(g).intermediate, 100);
}

TEST(HfConfig, TokenIdListUsesTheFirst) {
  json j = tiny_phi();
  j["eos_token_id"] = {2, 7};
  EXPECT_EQ(parse(j).eos_token_id, 2);
  j["eos_token_id"] = json::array();
  expect_error([&] { parse(j); }, {"'eos_token_id'", "empty"});
}

TEST(HfConfig, NotJsonOrNotAnObject) {
  expect_error([] { parse_hf_config("{\"model_type\": ", "x/config.json"); }, {"x/config.json", "not valid JSON"});
  // nlohmann would keep the second silently: a field given twice is ambiguous.
  expect_error([] { parse_hf_config(R"({"model_type": "gpt2", "n_embd": 64, "n_embd": 128})", "x/config.json"); },
               {"x/config.json", "names 'n_embd' twice"});
  expect_error([] { parse_hf_config("[]", "x/config.json"); }, {"x/config.json", "JSON object"});
  // Every strict reader bounds the nesting (printing a deeper value could overflow the stack).
  const std::string deep = R"({"model_type": "gpt2", "x": )" + std::string(100000, '[') + "}";
  expect_error([&] { parse_hf_config(deep, "x/config.json"); }, {"x/config.json", "nested deeper than 64 levels"});
}

TEST(HfConfig, LoadNamesAMissingFile) {
  ScratchDir dir;
  expect_error([&] { load_hf_config(dir.path()); }, {"config.json", "not found"});
}

// ---- writing -------------------------------------------------------------------------

// ---- the Llama family ------------------------------------------------------------

// Shaped like SmolLM2-135M's config.json (LlamaForCausalLM: 9 query heads sharing 3
// key/value heads, tied embeddings, rope_theta 1e5).
json smollm2_like() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576,
    "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3,
    "num_hidden_layers": 30, "max_position_embeddings": 8192, "vocab_size": 49152,
    "hidden_act": "silu", "rms_norm_eps": 1e-05, "rope_theta": 100000, "rope_scaling": null,
    "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false,
    "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"})");
}

TEST(HfConfig, ReadsALlamaWithGroupedQueryAttention) {
  ModelConfig c = parse(smollm2_like());
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_EQ(c.n_heads, 9);
  EXPECT_EQ(c.n_kv_heads, 3);
  EXPECT_EQ(c.kv_heads(), 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rotary_dim, 64);  // the whole head rotates
  EXPECT_EQ(c.rope_theta, 100000.0);
  EXPECT_EQ(c.layer_norm_eps, 1e-5);  // rms_norm_eps
  EXPECT_EQ(c.activation, "silu");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.sliding_window, 0);
  json j = smollm2_like();
  j.erase("num_key_value_heads");  // ref: LlamaConfig: None means num_attention_heads
  EXPECT_EQ(parse(j).kv_heads(), 9);
}

TEST(HfConfig, Qwen2HasQkvBiasesMistralAWindow) {
  json q = smollm2_like();
  q["model_type"] = "qwen2";
  q["sliding_window"] = 4096;  // ignored: use_sliding_window is false by default
  ModelConfig qc = parse(q);
  EXPECT_TRUE(qc.attention_bias);
  EXPECT_EQ(qc.sliding_window, 0);
  json m = smollm2_like();
  m["model_type"] = "mistral";
  m["sliding_window"] = 4096;
  ModelConfig mc = parse(m);
  EXPECT_FALSE(mc.attention_bias);
  EXPECT_EQ(mc.sliding_window, 4096);
}

TEST(HfConfig, LlamaVariantsThatChangeTheMathAreRejected) {
  auto with = [](const char* key, json value) {
    json j = smollm2_like();
    j[key] = std::move(value);
    return j;
  };
  expect_error([&] { parse(with("num_key_value_heads", 2)); },
               {"num_attention_heads 9", "not a multiple of num_key_value_heads 2"});
  expect_error([&] { parse(with("hidden_act", "gelu")); }, {"hidden_act other than 'silu'", "not supported"});
  expect_error([&] { parse(with("partial_rotary_factor", 0.5)); }, {"partial_rotary_factor", "not supported"});
  expect_error([&] { parse(with("head_dim", 32)); }, {"head_dim 32", "hidden_size 576", "not supported"});
  // LlamaMLP has biases with mlp_bias (what `eprunner export` writes); Qwen2's MLP has none.
  EXPECT_TRUE(parse(with("mlp_bias", true)).mlp_bias);
  json qwen2 = with("mlp_bias", true);
  qwen2["model_type"] = "qwen2";
  expect_error([&] { parse(qwen2); }, {"mlp_bias = true outside model_type \"llama\"", "not supported"});
  expect_error([&] { parse(with("rope_scaling", json{{"rope_type", "llama3"}, {"factor", 8.0}})); },
               {"rope_scaling", "not supported"});
}

TEST(HfConfig, RoundTripsThroughTheWriter) {
  std::vector<ModelConfig> configs = {load_hf_config(fixture("tiny-gpt2")), load_hf_config(fixture("tiny-phi")),
                                      load_hf_config(fixture("tiny-phi-fp16-sharded")),
                                      parse_hf_config(kPhi2Config, "phi-2")};
  ModelConfig odd = configs[1];  // values that do not sit on defaults
  odd.partial_rotary_factor = 0.75;
  odd.rotary_dim = 12;
  odd.rope_theta = 123456.5;
  odd.layer_norm_eps = 3.3e-7;
  odd.tie_word_embeddings = true;
  odd.bos_token_id.reset();
  odd.torch_dtype = "";
  configs.push_back(odd);
  ModelConfig gpt = configs[0];
  gpt.intermediate = 100;
  gpt.activation = "gelu";
  gpt.tie_word_embeddings = false;
  gpt.eos_token_id = 7;
  configs.push_back(gpt);
  ModelConfig llama = parse(smollm2_like());
  llama.attention_bias = true;
  llama.tie_word_embeddings = false;
  configs.push_back(llama);
  for (const auto& c : configs) {
    std::string text = to_hf_config_json(c);
    SCOPED_TRACE(text);
    expect_same(parse_hf_config(text, "written"), c);
  }
}

TEST(HfConfig, WritesHfFieldNamesPerArchitecture) {
  json g = json::parse(to_hf_config_json(load_hf_config(fixture("tiny-gpt2"))));
  EXPECT_EQ(g["architectures"], json({"GPT2LMHeadModel"}));
  EXPECT_EQ(g["model_type"], "gpt2");
  EXPECT_EQ(g["n_embd"], 64);
  EXPECT_EQ(g["n_head"], 4);
  EXPECT_EQ(g["n_layer"], 2);
  EXPECT_EQ(g["n_positions"], 64);
  EXPECT_EQ(g["layer_norm_epsilon"], 1e-5);
  EXPECT_EQ(g["activation_function"], "gelu_new");
  EXPECT_FALSE(g.contains("hidden_size"));
  json p = json::parse(to_hf_config_json(load_hf_config(fixture("tiny-phi"))));
  EXPECT_EQ(p["architectures"], json({"PhiForCausalLM"}));
  EXPECT_EQ(p["hidden_size"], 64);
  EXPECT_EQ(p["num_attention_heads"], 4);
  EXPECT_EQ(p["num_key_value_heads"], 4);
  EXPECT_EQ(p["intermediate_size"], 256);
  EXPECT_EQ(p["layer_norm_eps"], 1e-5);
  EXPECT_EQ(p["hidden_act"], "gelu_new");
  EXPECT_EQ(p["partial_rotary_factor"], 0.4);
  EXPECT_EQ(p["rope_parameters"]["rope_theta"], 10000.0);
  EXPECT_EQ(p["tie_word_embeddings"], false);
  EXPECT_FALSE(p.contains("n_embd"));
}

TEST(HfConfig, WrittenFileLoadsFromAFolder) {
  ScratchDir dir;
  ModelConfig c = load_hf_config(fixture("tiny-phi"));
  write_bytes(dir / "config.json", to_hf_config_json(c));
  expect_same(load_hf_config(dir.path()), c);
}

}  // namespace
}  // namespace ep
