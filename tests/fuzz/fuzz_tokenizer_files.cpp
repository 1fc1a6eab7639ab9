// A tokenizer folder (core/tokenizer/tokenizer_files.cpp, bpe_tokenizer.cpp): vocab.json
// + merges.txt or tokenizer.json, plus added_tokens.json and tokenizer_config.json's
// added_tokens_decoder; then encoding and decoding with what was read.
//
// Input: files separated by NUL bytes (no JSON or merges file holds one).
//   first byte even: vocab.json \0 merges.txt [\0 added_tokens.json [\0 tokenizer_config.json]]
//   first byte odd:  tokenizer.json [\0 added_tokens.json [\0 tokenizer_config.json]]
// A file missing from the input is absent from the folder.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/bpe_tokenizer.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace fs = std::filesystem;

std::vector<std::string_view> split_on_nul(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t end = s.find('\0', start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const fs::path dir = [] {
    auto d = ep::fuzz::scratch() / "tokenizer";
    fs::create_directories(d);
    return d;
  }();
  const bool fast = data[0] & 1;
  const auto parts = split_on_nul(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  const std::vector<const char*> names =
      fast ? std::vector<const char*>{"tokenizer.json", "added_tokens.json", "tokenizer_config.json"}
           : std::vector<const char*>{"vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json"};
  for (const char* name : {"tokenizer.json", "vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json"})
    fs::remove(dir / name);
  for (size_t i = 0; i < names.size() && i < parts.size(); ++i) ep::fuzz::write_file(dir / names[i], parts[i]);

  try {
    const ep::BpeTokenizer tok = ep::BpeTokenizer::load(dir);
    const int64_t n = tok.vocab_size();
    EP_FUZZ_ASSERT(n > 0, "vocab_size %lld", static_cast<long long>(n));
    for (std::string_view text : {"Hello world", " 12 + 34 = 46", "<|endoftext|>x", "caf\xc3\xa9 \xe2\x82\xac"}) {
      try {
        const auto ids = tok.encode(text);
        for (auto id : ids) EP_FUZZ_ASSERT(id >= 0 && id < n, "id %lld of %lld", (long long)id, (long long)n);
        (void)tok.decode(ids);
      } catch (const ep::Error& e) {
        ep::fuzz::refused(e);  // e.g. a vocabulary without some byte's token
      }
    }
    for (int64_t id = 0; id < n && id < 64; ++id) {
      try {
        (void)tok.id_to_token(id);
      } catch (const ep::Error&) {
      }
    }
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
  }
  return 0;
}
