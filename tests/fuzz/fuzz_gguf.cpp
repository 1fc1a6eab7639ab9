// GGUF files (core/io/gguf_file.cpp, gguf_types.cpp, gguf_dequant.cpp), and what is
// read out of them: the model config (gguf_config.cpp) and the tokenizer
// (core/tokenizer/gguf_tokenizer_files.cpp). Input: the whole file.
// Every tensor handed out must lie inside the file; small ones are dequantized.
#include <cstddef>
#include <cstdint>

#include "core/io/gguf.h"
#include "core/io/gguf_config.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ep::fuzz::scratch() / "model.gguf";
  ep::fuzz::write_file(path, data, size);
  std::unique_ptr<ep::gguf::GgufFile> file;
  try {
    file = ep::gguf::GgufFile::open(path);
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
    return 0;
  }
  size_t n = 0;
  for (const auto& key : file->keys()) n += file->value(key).describe().size();
  for (const auto& t : file->tensors()) {
    EP_FUZZ_ASSERT(file->data_offset() + t.offset + t.nbytes <= size, "tensor '%s' ends past the file",
                   t.name.c_str());
    if (ep::gguf::can_dequantize(t.type) && t.numel() <= (1 << 16)) {
      try {
        const auto values = ep::gguf::dequantize(t);
        EP_FUZZ_ASSERT(static_cast<int64_t>(values.size()) == t.numel(), "tensor '%s'", t.name.c_str());
      } catch (const ep::Error&) {
      }
    }
  }
  try {
    (void)ep::gguf_model_config(*file);
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
  }
  try {
    const auto tok = ep::BpeTokenizer::load(path);
    try {
      (void)tok.decode(tok.encode("Hello world, 12+34=46"));
    } catch (const ep::Error& e) {
      ep::fuzz::refused(e);
    }
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
  }
  (void)n;
  return 0;
}
