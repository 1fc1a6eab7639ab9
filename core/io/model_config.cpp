#include "core/io/model_config.h"

#include "core/io/gguf.h"
#include "core/io/gguf_config.h"

namespace ep {

ModelConfig load_model_config(const std::filesystem::path& checkpoint) {
  if (checkpoint.extension() == ".gguf") return gguf_model_config(*gguf::GgufFile::open(checkpoint));
  return load_hf_config(checkpoint);
}

}  // namespace ep
