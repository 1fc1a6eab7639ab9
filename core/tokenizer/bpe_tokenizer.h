// GPT-2 byte-level BPE (also Phi-2's and SmolLM2's tokenizer): pre-tokenization with the
// GPT-2 regex (PCRE2, Unicode \p{L} \p{N}), bytes mapped to printable unicode, merges
// applied by rank with a cache, added/special tokens matched before BPE. Read from a
// tokenizer folder it encodes like HF tokenizers; read from a GGUF file, like llama.cpp
// (docs/tokenizer.md).
// ref: openai/gpt-2 src/encoder.py; HF tokenizers ByteLevel pre-tokenizer; llama.cpp
// src/llama-vocab.cpp llm_tokenizer_bpe.
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
  // `path` a folder: loads `vocab.json` + `merges.txt`, or `tokenizer.json`; added tokens
  // from tokenizer.json / added_tokens.json / tokenizer_config.json when present.
  // `path` a file: a GGUF model file's tokenizer.* metadata (byte-level BPE with the
  // "smollm", "gpt-2" or "phi-2" pre-tokenizer); its control and user-defined tokens
  // are matched like special tokens, i.e. encode() == llama.cpp's
  // tokenize(text, add_special = false, parse_special = true).
  // A missing or malformed file is an ep::Error naming it (and the key or field).
  static BpeTokenizer load(const std::filesystem::path& path);
  ~BpeTokenizer();
  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;

  // Thread-safe (the merge cache is internally synchronised).
  std::vector<TokenId> encode(std::string_view text) const;
  std::string decode(const std::vector<TokenId>& ids) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;  // exact vocab/added entry
  std::string id_to_token(TokenId id) const;
  int64_t vocab_size() const;          // base vocab + added tokens (max id + 1)
  // Folders: "<|endoftext|>" when the vocabulary has it. GGUF: tokenizer.ggml.bos_token_id
  // and eos_token_id (none when the key is absent).
  std::optional<TokenId> bos_id() const;
  std::optional<TokenId> eos_id() const;
  // Whether the model expects bos_id() before a prompt (encode() never adds it). GGUF:
  // tokenizer.ggml.add_bos_token, false when absent (llama.cpp's default for these
  // tokenizers); folders: false (GPT-2 and Phi-2 add none).
  bool add_bos() const;

 private:
  BpeTokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ep
