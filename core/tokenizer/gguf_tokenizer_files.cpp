// A byte-level BPE tokenizer from a GGUF file's tokenizer.* metadata, read the way
// llama.cpp reads it (src/llama-vocab.cpp llama_vocab::impl::load), so that encoding
// gives llama.cpp's ids:
//   tokenizer.ggml.model        "gpt2" (byte-level BPE; "llama" is SentencePiece: refused)
//   tokenizer.ggml.pre          the pre-tokenizer: "smollm", "gpt-2", "phi-2" (others refused)
//   tokenizer.ggml.tokens       [string] id -> token, byte-level spelling ("Ġthe")
//   tokenizer.ggml.merges       [string] "left right" in rank order
//   tokenizer.ggml.token_type   [int] optional; 2 unknown, 3 control, 4 user-defined are
//                               matched whole in the text before BPE (llama.cpp's
//                               tokenize(parse_special = true))
//   tokenizer.ggml.bos_token_id / eos_token_id / add_bos_token   optional
#include <string_view>

#include "core/io/gguf.h"
#include "core/tokenizer/tokenizer_files.h"
#include "core/util/error.h"

namespace ep::tokenizer_detail {
namespace {

namespace fs = std::filesystem;
using gguf::GgufFile;
using gguf::Value;
using gguf::ValueType;

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
constexpr std::string_view kTokenTypeKey = "tokenizer.ggml.token_type";
constexpr std::string_view kBosKey = "tokenizer.ggml.bos_token_id";
constexpr std::string_view kEosKey = "tokenizer.ggml.eos_token_id";
constexpr std::string_view kAddBosKey = "tokenizer.ggml.add_bos_token";

// ref: llama.cpp include/llama.h enum llama_token_type.
constexpr int64_t kTypeUnknown = 2, kTypeControl = 3, kTypeUserDefined = 4;

// tokenizer.ggml.pre values whose pre-tokenization is implemented here. llama.cpp maps
// more names onto the same two regex lists (jina-es, starcoder, refact, ...) but some
// of those also change other settings; each name is added once checked against it.
// A missing key is llama.cpp's "default" pre-tokenizer, which is not GPT-2's: refused.
struct PreName {
  std::string_view name;
  PreTokenizer kind;
};
constexpr PreName kSupportedPre[] = {
    {"smollm", PreTokenizer::LlamaCppSmolLM},
    {"gpt-2", PreTokenizer::LlamaCppGpt2},
    {"phi-2", PreTokenizer::LlamaCppGpt2},
};

std::string supported_pre_list() {
  std::string list;
  for (const auto& pre : kSupportedPre) list += (list.empty() ? "\"" : ", \"") + std::string(pre.name) + "\"";
  return list;
}

const Value& require_string_array(const GgufFile& file, std::string_view key) {
  EP_CHECK(file.has(key), "{}: missing metadata key '{}' (needed for a BPE tokenizer)", file.path().string(), key);
  const Value& v = file.value(key);
  EP_CHECK(v.is_array() && v.element_type() == ValueType::STRING, "{}: metadata '{}' is {}, expected an array of string",
           file.path().string(), key, v.describe());
  return v;
}

PreTokenizer check_model_and_pre(const GgufFile& file) {
  const std::string where = file.path().string();
  EP_CHECK(file.has(kModelKey), "{}: missing metadata key '{}' (a GGUF file without a tokenizer?)", where, kModelKey);
  const std::string& model = file.get_string(kModelKey);
  EP_CHECK(model != "llama",
           "{}: metadata '{}' is \"llama\", a SentencePiece tokenizer; eprunner reads byte-level BPE (\"gpt2\") only",
           where, kModelKey);
  EP_CHECK(model == "gpt2", "{}: metadata '{}' is \"{}\"; eprunner reads byte-level BPE (\"gpt2\") only", where,
           kModelKey, model);

  EP_CHECK(file.has(kPreKey),
           "{}: missing metadata key '{}'; llama.cpp then uses its \"default\" pre-tokenizer, which eprunner does "
           "not implement (supported: {})",
           where, kPreKey, supported_pre_list());
  const std::string& pre = file.get_string(kPreKey);
  for (const auto& known : kSupportedPre) {
    if (pre == known.name) return known.kind;
  }
  EP_FAIL("{}: metadata '{}' is \"{}\", a pre-tokenizer eprunner does not implement (supported: {})", where, kPreKey,
          pre, supported_pre_list());
}

void read_tokens(const GgufFile& file, TokenizerFiles& files) {
  const std::string where = file.path().string();
  const Value& tokens = require_string_array(file, kTokensKey);
  EP_CHECK(tokens.size() > 0, "{}: metadata '{}' is empty", where, kTokensKey);
  EP_CHECK(tokens.size() <= static_cast<size_t>(kMaxTokenId) + 1, "{}: metadata '{}' has {} tokens, more than {}",
           where, kTokensKey, tokens.size(), kMaxTokenId + 1);
  files.vocab_source = where + " " + std::string(kTokensKey);
  files.vocab.reserve(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string& token = tokens.string_at(id);
    EP_CHECK(!token.empty(), "{}: metadata '{}' entry {} is an empty string", where, kTokensKey, id);
    auto [previous, fresh] = files.vocab.emplace(token, static_cast<int64_t>(id));
    EP_CHECK(fresh, "{}: metadata '{}' lists \"{}\" twice (entries {} and {})", where, kTokensKey, token,
             previous->second, id);
  }
}

int32_t merge_token_id(const TokenizerFiles& files, const std::string& token, const std::string& where) {
  auto it = files.vocab.find(token);
  EP_CHECK(it != files.vocab.end(), "{}: token \"{}\" is not in {}", where, token, files.vocab_source);
  return static_cast<int32_t>(it->second);
}

// "left right", split at the first space after the first character as llama.cpp does
// (byte-level tokens spell a space "Ġ", so no token holds one).
void read_merges(const GgufFile& file, TokenizerFiles& files) {
  const Value& merges = require_string_array(file, kMergesKey);
  files.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& line = merges.string_at(i);
    const std::string where = fmt::format("{}: metadata '{}' entry {} \"{}\"", file.path().string(), kMergesKey, i, line);
    size_t space = line.find(' ', 1);
    EP_CHECK(space != std::string::npos && space + 1 < line.size(),
             "{}: expected two tokens separated by a space", where);
    std::string left = line.substr(0, space), right = line.substr(space + 1);
    files.merges.push_back(MergeRule{merge_token_id(files, left, where), merge_token_id(files, right, where),
                                     merge_token_id(files, left + right, where)});
  }
}

// Tokens llama.cpp matches whole before pre-tokenization (its special-token cache):
// control and unknown only with parse_special, user-defined always. BpeTokenizer::encode
// matches them all, which is llama.cpp's tokenize(text, add_special, parse_special = true).
void read_token_types(const GgufFile& file, TokenizerFiles& files, size_t n_tokens) {
  if (!file.has(kTokenTypeKey)) return;  // llama.cpp: every token normal
  const std::string where = file.path().string();
  const Value& types = file.value(kTokenTypeKey);
  EP_CHECK(types.is_array() && gguf::is_integer_type(types.element_type()),
           "{}: metadata '{}' is {}, expected an array of int32", where, kTokenTypeKey, types.describe());
  EP_CHECK(types.size() == n_tokens, "{}: metadata '{}' has {} entries but '{}' has {} tokens", where, kTokenTypeKey,
           types.size(), kTokensKey, n_tokens);
  const Value& tokens = file.value(kTokensKey);
  for (size_t id = 0; id < n_tokens; ++id) {
    int64_t type = types.int_at(id);
    if (type != kTypeUnknown && type != kTypeControl && type != kTypeUserDefined) continue;
    files.added_tokens.push_back(AddedTokenSpec{tokens.string_at(id), static_cast<int64_t>(id),
                                                type != kTypeUserDefined,
                                                fmt::format("{} {}[{}]", where, kTokenTypeKey, id)});
  }
}

std::optional<int64_t> optional_token_id(const GgufFile& file, std::string_view key, size_t n_tokens) {
  if (!file.has(key)) return std::nullopt;
  int64_t id = file.get_int(key);
  EP_CHECK(id >= 0 && static_cast<size_t>(id) < n_tokens, "{}: metadata '{}' is {}, not a token id (0..{})",
           file.path().string(), key, id, n_tokens - 1);
  return id;
}

}  // namespace

GgufTokenizer read_gguf_tokenizer(const fs::path& gguf_path) {
  std::unique_ptr<GgufFile> file = GgufFile::open(gguf_path);
  GgufTokenizer result;
  result.pre_tokenizer = check_model_and_pre(*file);
  read_tokens(*file, result.files);
  const size_t n_tokens = result.files.vocab.size();
  read_merges(*file, result.files);
  read_token_types(*file, result.files, n_tokens);
  result.bos_id = optional_token_id(*file, kBosKey, n_tokens);
  result.eos_id = optional_token_id(*file, kEosKey, n_tokens);
  if (file->has(kAddBosKey)) result.add_bos = file->get_bool(kAddBosKey);
  return result;
}

}  // namespace ep::tokenizer_detail
