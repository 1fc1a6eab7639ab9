// A GGUF file's model config: llama.cpp's metadata keys read into the same ModelConfig
// as an HF config.json (core/io/hf_config.h), so a .gguf checkpoint builds the same
// model as the HF folder it was converted from. GGUF key names appear only here.
#pragma once

#include "core/io/gguf.h"
#include "core/io/hf_config.h"

namespace ep {

// The Llama family (general.architecture "llama": Llama, SmolLM, Mistral); errors name
// the file and the key. The lm_head is tied when the file has no `output.weight`
// (ref: llama.cpp llama-model.cpp, LLM_ARCH_LLAMA: output falls back to token_embd).
ModelConfig gguf_model_config(const gguf::GgufFile& file);

}  // namespace ep
