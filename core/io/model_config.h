// A checkpoint's ModelConfig, whatever its format: an HF folder's config.json, or a
// GGUF file's metadata (path ending in .gguf). Reads no tensor data.
#pragma once

#include <filesystem>

#include "core/io/hf_config.h"

namespace ep {

ModelConfig load_model_config(const std::filesystem::path& checkpoint);

}  // namespace ep
