// GPT-2 byte-level BPE encoding of arbitrary text (core/tokenizer: the added-token
// matcher, the GPT-2 pre-tokenizer regex, the merge loop and its cache), with GPT-2's
// own vocabulary (examples/gpt2-tokenizer, loaded once). Input: the text.
// Properties: invalid UTF-8 is an ep::Error; valid text encodes to ids in the vocabulary
// and decodes back to itself, byte for byte (byte-level BPE loses nothing).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ep::BpeTokenizer tok = ep::BpeTokenizer::load(EP_SOURCE_DIR "/examples/gpt2-tokenizer");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = ep::tokenizer_detail::find_invalid_utf8(text) == ep::tokenizer_detail::kUtf8Valid;
  std::vector<ep::TokenId> ids;
  try {
    ids = tok.encode(text);
  } catch (const ep::Error& e) {
    EP_FUZZ_ASSERT(!valid, "valid UTF-8 refused: %s", e.what());
    return 0;
  }
  EP_FUZZ_ASSERT(valid, "invalid UTF-8 encoded to %zu ids", ids.size());
  for (auto id : ids) EP_FUZZ_ASSERT(id >= 0 && id < tok.vocab_size(), "id %lld", static_cast<long long>(id));
  const std::string back = tok.decode(ids);
  EP_FUZZ_ASSERT(back == text, "decode(encode(text)) differs: %zu bytes in, %zu out", text.size(), back.size());
  return 0;
}
