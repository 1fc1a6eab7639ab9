// GPT-2 byte-level BPE (also Phi-2's tokenizer): pre-tokenization with the GPT-2
// regex (PCRE2, Unicode \p{L} \p{N}), bytes mapped to printable unicode, merges
// applied by rank with a cache, added/special tokens matched before BPE.
// ref: openai/gpt-2 src/encoder.py; HF tokenizers ByteLevel pre-tokenizer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ep {

using TokenId = int64_t;

class BpeTokenizer {
 public:
  // Loads `vocab.json` + `merges.txt`, or `tokenizer.json`, from `dir`; added tokens
  // from tokenizer.json / added_tokens.json / tokenizer_config.json when present.
  // A missing or malformed file is an ep::Error naming it.
  static BpeTokenizer load(const std::filesystem::path& dir);
  ~BpeTokenizer();
  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;

  // Thread-safe (the merge cache is internally synchronised).
  std::vector<TokenId> encode(std::string_view text) const;
  std::string decode(const std::vector<TokenId>& ids) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;  // exact vocab/added entry
  std::string id_to_token(TokenId id) const;
  int64_t vocab_size() const;          // base vocab + added tokens (max id + 1)
  std::optional<TokenId> bos_id() const;   // "<|endoftext|>" for GPT-2 files
  std::optional<TokenId> eos_id() const;

 private:
  BpeTokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ep
