// BpeTokenizer: glues the pieces together. encode = validate UTF-8 -> split out added
// tokens -> GPT-2 regex pieces -> (cache | BPE merges) -> ids; decode = concatenate
// each id's raw bytes.
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
  std::optional<TokenId> end_of_text;

  void encode_plain(std::string_view text, std::vector<TokenId>& ids) const;
  void check_id(TokenId id, const char* caller) const;
};

namespace {

std::array<int32_t, 256> byte_token_ids(const td::TokenizerFiles& files) {
  std::array<int32_t, 256> ids{};
  for (unsigned b = 0; b < 256; ++b) {
    const std::string& symbol = td::byte_symbols()[b];
    auto it = files.vocab.find(symbol);
    EP_CHECK(it != files.vocab.end(),
             "{}: no entry \"{}\" for byte 0x{:02X}; a GPT-2 byte-level BPE vocabulary has one token per byte",
             files.vocab_source, symbol, b);
    ids[b] = static_cast<int32_t>(it->second);
  }
  return ids;
}

int64_t largest_id(const td::TokenizerFiles& files) {
  int64_t top = -1;
  for (const auto& [token, id] : files.vocab) top = std::max(top, id);
  for (const auto& spec : files.added_tokens) top = std::max(top, spec.id);
  return top;
}

}  // namespace

BpeTokenizer BpeTokenizer::load(const std::filesystem::path& dir) {
  td::TokenizerFiles files = td::read_tokenizer_files(dir);
  BpeTokenizer tok;
  Impl& impl = *tok.impl_;
  const size_t size = static_cast<size_t>(largest_id(files) + 1);
  impl.token_strings.resize(size);
  impl.token_bytes.resize(size);
  impl.present.assign(size, false);
  impl.token_ids.reserve(files.vocab.size() + files.added_tokens.size());

  for (const auto& [token, id] : files.vocab) {
    impl.token_strings[id] = token;
    // Vocab strings outside the byte mapping (a hand-written special token) decode
    // as written.
    impl.token_bytes[id] = td::vocab_string_to_bytes(token).value_or(token);
    impl.present[id] = true;
    impl.token_ids.emplace(token, id);
  }
  for (const auto& spec : files.added_tokens) {
    if (impl.present[spec.id]) {
      EP_CHECK(impl.token_strings[spec.id] == spec.content,
               "{} gives id {} to \"{}\" but {} has \"{}\" there", spec.source, spec.id, spec.content,
               files.vocab_source, impl.token_strings[spec.id]);
    }
    // An added token is literal text: it is matched in and decoded to its content.
    impl.token_strings[spec.id] = spec.content;
    impl.token_bytes[spec.id] = spec.content;
    impl.present[spec.id] = true;
    impl.token_ids[spec.content] = spec.id;  // the matcher emits this id for it too
    impl.added.add(spec.content, spec.id);
  }
  // Plain GPT-2 files list "<|endoftext|>" only in vocab.json; HF's GPT2Tokenizer still
  // treats it as a special token, matched whole before BPE.
  auto eot = impl.token_ids.find(std::string(kEndOfText));
  if (eot != impl.token_ids.end()) {
    impl.end_of_text = eot->second;
    impl.added.add(kEndOfText, eot->second);
  }
  impl.merges = td::BpeMerges(byte_token_ids(files), files.merges);
  impl.pretokenizer = &td::Gpt2PreTokenizer::instance();
  return tok;
}

void BpeTokenizer::Impl::encode_plain(std::string_view text, std::vector<TokenId>& ids) const {
  thread_local std::vector<int32_t> word_ids;
  td::Gpt2PreTokenizer::Scanner scanner(*pretokenizer, text);
  std::string_view piece;
  while (scanner.next(piece)) {
    if (piece.size() == 1) {  // "," "." "\n": a quarter of all pieces, no merge possible
      ids.push_back(merges.byte_id(static_cast<uint8_t>(piece[0])));
      continue;
    }
    if (piece.size() > td::WordCache::kMaxWordBytes) {  // never cached: skip the hash
      word_ids.clear();
      merges.encode_word(piece, word_ids);
      ids.insert(ids.end(), word_ids.begin(), word_ids.end());
      continue;
    }
    uint64_t hash = td::WordCache::hash(piece);
    if (cache.lookup(piece, hash, ids)) continue;
    word_ids.clear();
    merges.encode_word(piece, word_ids);
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
std::optional<TokenId> BpeTokenizer::bos_id() const { return impl_->end_of_text; }
std::optional<TokenId> BpeTokenizer::eos_id() const { return impl_->end_of_text; }

BpeTokenizer::BpeTokenizer() : impl_(std::make_unique<Impl>()) {}
BpeTokenizer::~BpeTokenizer() = default;
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;

}  // namespace ep
