// Reading a BPE tokenizer from disk: vocab.json + merges.txt (GPT-2 / HF "slow"
// layout) or tokenizer.json (HF "fast" layout), plus added tokens from tokenizer.json,
// added_tokens.json and tokenizer_config.json's added_tokens_decoder. Every problem
// is an ep::Error naming the file and the line or JSON field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/bpe_merges.h"

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

}  // namespace ep::tokenizer_detail
