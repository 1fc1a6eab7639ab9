// Whole-file text reading for the small JSON files next to checkpoints
// (config.json, model.safetensors.index.json). Private to core/io.
#pragma once

#include <filesystem>
#include <string>

namespace ep::io {

// Returns the file's bytes; throws ep::Error naming `what` and the path if it cannot be read.
std::string read_text_file(const std::filesystem::path& path, const char* what);

}  // namespace ep::io
