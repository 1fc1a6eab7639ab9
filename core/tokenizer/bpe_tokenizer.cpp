// BpeTokenizer: glues the pieces together. encode = validate UTF-8 -> split out added
// tokens -> GPT-2-family regex pieces -> (cache | BPE merges) -> ids; decode = concatenate
// each id's raw bytes. A folder and a GGUF file differ only in how the tables are read
// and which pre-tokenizer pattern the scanner runs.
#include "core/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include "core/tokenizer/added_token_matcher.h"
#include "core/tokenizer/bpe_merges.h"
#include "core/tokenizer/byte_unicode.h"
#include "core/tokenizer/gpt2_pretokenizer.h"
#include "core/tokenizer/tokenizer_files.h"
#include "core/tokenizer/utf8.h"
#include "core/tokenizer/word_cache.h"
#include "core/util/error.h"

namespace ep {

namespace td = tokenizer_detail;

namespace {
// ref: openai/gpt-2 encoder.json id 50256; HF GPT2Tokenizer's bos/eos/unk token.
constexpr std::string_view kEndOfText = "<|endoftext|>";
// Stands for a byte that has no token of its own (see byte_token_ids); never in a merge
// rule, dropped from the output. Not -1, which BpeMerges uses internally.
constexpr int32_t kNoByteToken = -2;
}  // namespace

struct BpeTokenizer::Impl {
  // Indexed by id; an id with no token (a hole between vocab and added ids) has
  // present[id] == false.
  std::vector<std::string> token_strings;  // as written in the files ("Ġthe")
  std::vector<std::string> token_bytes;    // what decode emits (" the")
  std::vector<bool> present;
  std::unordered_map<std::string, TokenId> token_ids;  // vocab and added tokens
  td::BpeMerges merges;
  td::AddedTokenMatcher added;
  const td::Gpt2PreTokenizer* pretokenizer = nullptr;
  mutable td::WordCache cache;
  std::optional<TokenId> bos, eos;
  bool add_bos = false;
  bool drops_bytes = false;  // some byte has no token (kNoByteToken)

  void fill(const td::TokenizerFiles& files, td::PreTokenizer kind);
  void encode_plain(std::string_view text, std::vector<TokenId>& ids) const;
  void check_id(TokenId id, const char* caller) const;
};

namespace {

// A vocabulary learned from text may lack bytes that never occurred (SmolLM2 has no
// token for 0x04, 0xC0, 0xF5..0xFF, ...). Tokenizer folders must have all 256 (HF's
// GPT-2 files do); for GGUF files such a byte is dropped from the output, as llama.cpp
// drops a symbol that is no token and whose bytes are none either, and it blocks merges
// across it as there. ref: llama.cpp src/llama-vocab.cpp llm_tokenizer_bpe_session::tokenize.
std::array<int32_t, 256> byte_token_ids(const td::TokenizerFiles& files, bool allow_missing) {
  std::array<int32_t, 256> ids{};
  for (unsigned b = 0; b < 256; ++b) {
    const std::string& symbol = td::byte_symbols()[b];
    auto it = files.vocab.find(symbol);
    if (it == files.vocab.end() && allow_missing) {
      ids[b] = kNoByteToken;
      continue;
    }
    EP_CHECK(it != files.vocab.end(),
             "{}: no entry \"{}\" for byte 0x{:02X}; a GPT-2 byte-level BPE vocabulary has one token per byte",
             files.vocab_source, symbol, b);
    ids[b] = static_cast<int32_t>(it->second);
  }
  return ids;
}

void drop_missing_bytes(std::vector<int32_t>& ids) {
  ids.erase(std::remove(ids.begin(), ids.end(), kNoByteToken), ids.end());
}

int64_t largest_id(const td::TokenizerFiles& files) {
  int64_t top = -1;
  for (const auto& [token, id] : files.vocab) top = std::max(top, id);
  for (const auto& spec : files.added_tokens) top = std::max(top, spec.id);
  return top;
}

}  // namespace

// Token tables, added-token matcher, merges and pre-tokenizer from what was read.
void BpeTokenizer::Impl::fill(const td::TokenizerFiles& files, td::PreTokenizer kind) {
  const size_t size = static_cast<size_t>(largest_id(files) + 1);
  token_strings.resize(size);
  token_bytes.resize(size);
  present.assign(size, false);
  token_ids.reserve(files.vocab.size() + files.added_tokens.size());

  for (const auto& [token, id] : files.vocab) {
    token_strings[id] = token;
    // Vocab strings outside the byte mapping (a hand-written special token) decode
    // as written.
    token_bytes[id] = td::vocab_string_to_bytes(token).value_or(token);
    present[id] = true;
    token_ids.emplace(token, id);
  }
  for (const auto& spec : files.added_tokens) {
    if (present[spec.id]) {
      EP_CHECK(token_strings[spec.id] == spec.content, "{} gives id {} to \"{}\" but {} has \"{}\" there",
               spec.source, spec.id, spec.content, files.vocab_source, token_strings[spec.id]);
    }
    // An added token is literal text: it is matched in and decoded to its content.
    token_strings[spec.id] = spec.content;
    token_bytes[spec.id] = spec.content;
    present[spec.id] = true;
    token_ids[spec.content] = spec.id;  // the matcher emits this id for it too
    added.add(spec.content, spec.id);
  }
  // Tokenizer folders are read as HF tokenizers reads them; GGUF files as llama.cpp does.
  auto byte_ids = byte_token_ids(files, /*allow_missing=*/kind != td::PreTokenizer::Gpt2);
  drops_bytes = std::count(byte_ids.begin(), byte_ids.end(), kNoByteToken) > 0;
  merges = td::BpeMerges(byte_ids, files.merges);
  pretokenizer = &td::Gpt2PreTokenizer::instance(kind);
}

BpeTokenizer BpeTokenizer::load(const std::filesystem::path& path) {
  BpeTokenizer tok;
  Impl& impl = *tok.impl_;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    td::GgufTokenizer gguf = td::read_gguf_tokenizer(path);
    // Only the tokens the file marks control / user-defined are matched whole: llama.cpp
    // has no "<|endoftext|>" rule of its own.
    impl.fill(gguf.files, gguf.pre_tokenizer);
    impl.bos = gguf.bos_id;
    impl.eos = gguf.eos_id;
    impl.add_bos = gguf.add_bos;
    return tok;
  }
  td::TokenizerFiles files = td::read_tokenizer_files(path);
  impl.fill(files, td::PreTokenizer::Gpt2);
  // Plain GPT-2 files list "<|endoftext|>" only in vocab.json; HF's GPT2Tokenizer still
  // treats it as a special token, matched whole before BPE.
  auto eot = impl.token_ids.find(std::string(kEndOfText));
  if (eot != impl.token_ids.end()) {
    impl.bos = impl.eos = eot->second;
    impl.added.add(kEndOfText, eot->second);
  }
  return tok;
}

void BpeTokenizer::Impl::encode_plain(std::string_view text, std::vector<TokenId>& ids) const {
  thread_local std::vector<int32_t> word_ids;
  td::Gpt2PreTokenizer::Scanner scanner(*pretokenizer, text);
  std::string_view piece;
  while (scanner.next(piece)) {
    if (piece.size() == 1) {  // "," "." "\n": a quarter of all pieces, no merge possible
      int32_t id = merges.byte_id(static_cast<uint8_t>(piece[0]));
      if (id >= 0) ids.push_back(id);
      continue;
    }
    if (piece.size() > td::WordCache::kMaxWordBytes) {  // never cached: skip the hash
      word_ids.clear();
      merges.encode_word(piece, word_ids);
      if (drops_bytes) drop_missing_bytes(word_ids);
      ids.insert(ids.end(), word_ids.begin(), word_ids.end());
      continue;
    }
    uint64_t hash = td::WordCache::hash(piece);
    if (cache.lookup(piece, hash, ids)) continue;
    word_ids.clear();
    merges.encode_word(piece, word_ids);
    if (drops_bytes) drop_missing_bytes(word_ids);
    cache.insert(piece, hash, word_ids.data(), word_ids.size());
    ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  }
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text) const {
  size_t bad = td::find_invalid_utf8(text);
  EP_CHECK(bad == td::kUtf8Valid,
           "BpeTokenizer::encode: text is not valid UTF-8 at byte offset {} (byte 0x{:02X}); expected UTF-8 text",
           bad, bad == td::kUtf8Valid ? 0u : static_cast<unsigned>(static_cast<unsigned char>(text[bad])));
  std::vector<TokenId> ids;
  // ref: GPT-2 averages about 4 bytes of English per token.
  ids.reserve(text.size() / 4 + 8);
  if (impl_->added.empty()) {
    impl_->encode_plain(text, ids);
    return ids;
  }
  std::vector<td::AddedTokenMatcher::Segment> segments;
  impl_->added.split(text, segments);
  for (const auto& segment : segments) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
    } else {
      impl_->encode_plain(segment.text, ids);
    }
  }
  return ids;
}

void BpeTokenizer::Impl::check_id(TokenId id, const char* caller) const {
  EP_CHECK(id >= 0 && static_cast<size_t>(id) < present.size() && present[static_cast<size_t>(id)],
           "BpeTokenizer::{}: token id {} is not in the vocabulary (ids 0..{})", caller, id,
           static_cast<int64_t>(present.size()) - 1);
}

std::string BpeTokenizer::decode(const std::vector<TokenId>& ids) const {
  std::string text;
  text.reserve(ids.size() * 4);
  for (TokenId id : ids) {
    impl_->check_id(id, "decode");
    text += impl_->token_bytes[static_cast<size_t>(id)];
  }
  return text;
}

std::optional<TokenId> BpeTokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->token_ids.find(std::string(token));
  if (it == impl_->token_ids.end()) return std::nullopt;
  return it->second;
}

std::string BpeTokenizer::id_to_token(TokenId id) const {
  impl_->check_id(id, "id_to_token");
  return impl_->token_strings[static_cast<size_t>(id)];
}

int64_t BpeTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->present.size()); }
std::optional<TokenId> BpeTokenizer::bos_id() const { return impl_->bos; }
std::optional<TokenId> BpeTokenizer::eos_id() const { return impl_->eos; }
bool BpeTokenizer::add_bos() const { return impl_->add_bos; }

BpeTokenizer::BpeTokenizer() : impl_(std::make_unique<Impl>()) {}
BpeTokenizer::~BpeTokenizer() = default;
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;

}  // namespace ep
