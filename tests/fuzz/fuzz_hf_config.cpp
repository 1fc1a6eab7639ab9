// Hugging Face config.json (core/io/hf_config.cpp over core/io/strict_json.cpp): gpt2,
// phi and the Llama family, every field range-checked. Input: the file's text.
// Property: a config that parses writes back (to_hf_config_json) as text that parses
// to the same model.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/io/hf_config.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ep::ModelConfig cfg;
  try {
    cfg = ep::parse_hf_config(text, "fuzz/config.json");
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
    return 0;
  }
  const std::string written = ep::to_hf_config_json(cfg);
  try {
    ep::ModelConfig again = ep::parse_hf_config(written, "fuzz/written-config.json");
    EP_FUZZ_ASSERT(again.arch == cfg.arch && again.vocab_size == cfg.vocab_size && again.hidden == cfg.hidden &&
                       again.n_layers == cfg.n_layers && again.n_heads == cfg.n_heads &&
                       again.kv_heads() == cfg.kv_heads() && again.head_dim == cfg.head_dim &&
                       again.intermediate == cfg.intermediate && again.rotary_dim == cfg.rotary_dim,
                   "the written config reads as another model:\n%s", written.c_str());
  } catch (const ep::Error& e) {
    EP_FUZZ_ASSERT(false, "a config that parsed does not parse once written back: %s\n%s", e.what(),
                   written.c_str());
  }
  return 0;
}
