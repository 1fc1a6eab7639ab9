// Reading a BPE tokenizer from disk: vocab.json + merges.txt (GPT-2 / HF "slow"
// layout) or tokenizer.json (HF "fast" layout), plus added tokens from tokenizer.json,
// added_tokens.json and tokenizer_config.json's added_tokens_decoder; or the tokenizer.*
// metadata of a GGUF file (gguf_tokenizer_files.cpp). Every problem is an ep::Error
// naming the file and the line, JSON field or GGUF key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/bpe_merges.h"
#include "core/tokenizer/gpt2_pretokenizer.h"

namespace ep::tokenizer_detail {

// ref: the largest real BPE vocabularies have ~256k entries; ids are stored as
// int32 and id tables are sized max id + 1, so a bogus huge id must not get through.
constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

struct AddedTokenSpec {
  std::string content;
  int64_t id;
  bool special;
  std::string source;  // file and field, for messages
};

struct TokenizerFiles {
  std::unordered_map<std::string, int64_t> vocab;  // vocab string ("Ġthe") -> id
  std::string vocab_source;                        // e.g. "/x/vocab.json"
  std::vector<MergeRule> merges;                   // in rank order
  std::vector<AddedTokenSpec> added_tokens;        // deduplicated, consistent ids
};

TokenizerFiles read_tokenizer_files(const std::filesystem::path& dir);

// A byte-level BPE tokenizer as a GGUF file describes it (tokenizer.ggml.model "gpt2"),
// to be used the way llama.cpp uses it.
struct GgufTokenizer {
  TokenizerFiles files;        // tokens, merges; control / user-defined / unknown tokens as added
  PreTokenizer pre_tokenizer;  // from tokenizer.ggml.pre
  std::optional<int64_t> bos_id, eos_id;  // tokenizer.ggml.bos_token_id / eos_token_id
  bool add_bos = false;        // tokenizer.ggml.add_bos_token (llama.cpp's default for these: false)
};

// Supported tokenizer.ggml.pre values: "smollm"; "gpt-2" and "phi-2". Anything else, a
// missing or mistyped key, or an inconsistent vocabulary is an ep::Error naming the file
// and the key.
GgufTokenizer read_gguf_tokenizer(const std::filesystem::path& gguf_path);

}  // namespace ep::tokenizer_detail
